"""The headless commands as a script or CI sees them: output, JSON shapes and exit codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli_runner import run
from tests.conftest import TestDatabase

PASSWORD = "SuperSecret123"


def _fingerprint(db: TestDatabase) -> list[Any]:
    """Everything a write could change: relations, schemas, and every table's row count."""
    with db.connect() as conn:
        relations = conn.execute(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
            " ORDER BY 1, 2"
        ).fetchall()
        counts = [
            conn.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()
            for schema, name, kind in relations
            if kind == "r"
        ]
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"
        ).fetchall()
    return [relations, counts, columns]


def _with_password(db: TestDatabase) -> str:
    # The embedded server trusts its socket, so the password is accepted and never checked:
    # what matters here is that the wizard never shows it.
    return db.url.replace("postgres:@", f"postgres:{PASSWORD}@")


def test_status_json_has_the_documented_shape(db: TestDatabase) -> None:
    result = run("status", "--json", "--database-url", db.url)
    assert result.code == 0
    data = json.loads(result.out)
    assert set(data) >= {"server_version", "database", "host", "practice", "migrations"}
    assert data["database"] == db.name and data["practice"] is False
    assert [(m["version"], m["name"], m["state"]) for m in data["migrations"]] == [
        ("001", "baseline", "applied"),
        ("002", "phase2_vision_api", "pending"),
    ]
    assert f"database {db.name}" in result.err  # the target line, kept out of the JSON


def test_target_options_work_before_or_after_the_command_and_from_the_environment(db: TestDatabase) -> None:
    before = run("--database-url", db.url, "status")
    after = run("status", "--database-url", db.url)
    env = run("status", env={"DATABASE_URL": db.url})
    for result in (before, after, env):
        assert (
            result.code == 0 and "Target: local socket" in result.out and "002_phase2_vision_api  pending" in result.out
        )


def test_no_target_is_bad_input_with_the_ways_out() -> None:
    result = run("status", env={"DATABASE_URL": None})
    assert result.code == 3
    assert "No database was given" in result.err and "--practice" in result.err


def test_two_targets_at_once_are_refused(db: TestDatabase) -> None:
    assert run("--practice", "status", "--database-url", db.url).code == 2


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://u:pw@localhost/db", "not a PostgreSQL URL"),
        ("postgresql://u:pw@127.0.0.1:1/db", "nothing is accepting connections"),
        ("postgresql://u:p@ss@localhost/db", "percent-encoded"),
        ("postgresql://u:pw@no-such-host.invalid/db", "host name could not be found"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_3(url: str, says: str) -> None:
    result = run("status", "--database-url", url, "--connect-timeout", "5")
    assert result.code == 3
    assert says in result.err
    assert "Traceback" not in result.text


def test_a_missing_database_is_named(db: TestDatabase) -> None:
    result = run("status", "--database-url", db.url.replace(f"/{db.name}?", "/no_such_db?"))
    assert result.code == 3
    assert "database does not exist" in result.err and "Traceback" not in result.text


def test_usage_errors_exit_2() -> None:
    assert run("migrate", "--lock-timeout", "0", "--practice").code == 2
    assert run("verify", "--json", "--plain", "--practice").code == 2
    assert run("frobnicate").code == 2


def test_a_missing_migrations_folder_is_bad_input(db: TestDatabase) -> None:
    result = run("status", "--database-url", db.url, "--migrations-dir", "/no/such/folder")
    assert result.code == 3 and "does not exist" in result.err


def test_read_only_commands_write_nothing(db: TestDatabase) -> None:
    before = _fingerprint(db)
    for command in (("status",), ("status", "--json"), ("plan",), ("verify",), ("verify", "--json")):
        run(*command, "--database-url", db.url)
    assert _fingerprint(db) == before


def test_plan_shows_each_statement_with_what_it_does_and_its_lock(db: TestDatabase) -> None:
    result = run("plan", "--database-url", db.url)
    assert result.code == 0
    assert "[1/14] line 7" in result.out
    assert "adds column storage_key (varchar) to attachments; existing rows get NULL" in result.out
    assert "SHARE lock on attachments while the index is built" in result.out
    assert "Nothing has been changed" in result.out


def test_sql_is_paste_ready_and_needs_no_database() -> None:
    result = run("sql", env={"DATABASE_URL": None})
    assert result.code == 0
    lines = result.out.splitlines()
    assert "BEGIN;" in lines and lines[-1] == "COMMIT;"
    assert result.out.count("ADD COLUMN IF NOT EXISTS") == 4 and result.out.count("CREATE INDEX IF NOT EXISTS") == 4


def test_migrate_backs_up_first_by_default_and_prints_the_backup_path(db: TestDatabase) -> None:
    import re
    from pathlib import Path

    result = run("migrate", "--yes", "--database-url", db.url)
    assert result.code == 0, result.text
    found = re.search(r"^Backing up to (/.+\.dump)$", result.out, re.MULTILINE)
    assert found and "Backup verified" in result.out
    backup = Path(found.group(1))
    assert backup.is_absolute() and backup.exists() and backup.stat().st_mode & 0o777 == 0o600
    assert result.out.index("Backup verified") < result.out.index("Applying 002_phase2_vision_api")


def test_migrate_without_yes_and_no_terminal_changes_nothing(db: TestDatabase) -> None:
    before = _fingerprint(db)
    result = run("migrate", "--skip-backup", "--database-url", db.url)
    assert result.code == 2 and "--yes" in result.err
    assert _fingerprint(db) == before


def test_migrate_streams_each_statement_then_verifies(db: TestDatabase) -> None:
    result = run("migrate", "--yes", "--skip-backup", "--database-url", db.url)
    assert result.code == 0, result.text
    out = result.out
    assert out.index("Target:") < out.index("Applying 002_phase2_vision_api")
    assert sum("/14] line" in line for line in out.splitlines()) == 14
    assert "Applied 002_phase2_vision_api" in out and "Verify: OK" in out
    again = run("migrate", "--yes", "--skip-backup", "--database-url", db.url)
    assert again.code == 0 and "Nothing to do" in again.out


def test_migrate_on_the_wrong_database_is_refused_with_nothing_written(empty_db: TestDatabase) -> None:
    result = run("migrate", "--yes", "--skip-backup", "--database-url", empty_db.url)
    assert result.code == 2
    assert "public.attachments" in result.err and "nothing was written" in result.err
    assert empty_db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'migration_wizard'") == 0


def test_verify_json_shape_and_exit_status(db: TestDatabase) -> None:
    before = run("verify", "--json", "--database-url", db.url)
    assert before.code == 1
    data = json.loads(before.out)
    assert data["ok"] is False
    assert all(set(c) == {"id", "title", "status", "detail", "rows"} for c in data["checks"])
    assert {c["status"] for c in data["checks"]} <= {"pass", "fail", "warn"}
    run("migrate", "--yes", "--skip-backup", "--database-url", db.url)
    after = run("verify", "--json", "--database-url", db.url)
    assert after.code == 0 and json.loads(after.out)["ok"] is True


def test_verify_plain_prints_tables_with_the_new_columns_marked(db: TestDatabase) -> None:
    run("migrate", "--yes", "--skip-backup", "--database-url", db.url)
    result = run("verify", "--plain", "--database-url", db.url)
    assert result.code == 0
    storage_line = next(line for line in result.out.splitlines() if line.strip().startswith("storage_key"))
    assert "NEW" in storage_line and "character varying" in storage_line
    assert "Verify: OK" in result.out


def test_rollback_says_what_is_lost_and_needs_confirmation(db: TestDatabase) -> None:
    run("migrate", "--yes", "--skip-backup", "--database-url", db.url)
    db.execute("INSERT INTO image_analyses (attachment_id, agent_type) SELECT id, 'design' FROM attachments LIMIT 2")
    refused = run("rollback", "--database-url", db.url)
    assert refused.code == 2
    assert "table image_analyses and its 2 rows" in refused.out
    assert db.scalar("SELECT count(*) FROM image_analyses") == 2
    done = run("rollback", "--yes", "--database-url", db.url)
    assert done.code == 0, done.text
    assert "002_phase2_vision_api: pending" in done.out
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None


def test_rollback_with_nothing_applied_is_nothing_to_do(db: TestDatabase) -> None:
    result = run("rollback", "--yes", "--database-url", db.url)
    assert result.code == 0 and "Nothing to roll back" in result.out


def test_a_password_in_the_url_is_never_printed_and_the_risk_is_explained(db: TestDatabase) -> None:
    url = _with_password(db)
    outputs = [
        run("status", "--database-url", url),
        run("migrate", "--yes", "--skip-backup", "--database-url", url),
        run("verify", "--json", "--database-url", url),
        run("rollback", "--yes", "--database-url", url),
        run("status", "--database-url", url.replace(f"/{db.name}?", "/missing_db?")),
    ]
    assert [r.code for r in outputs] == [0, 0, 0, 0, 3]
    for result in outputs:
        assert PASSWORD not in result.text
    assert "visible to other users" in outputs[0].err and "DATABASE_URL" in outputs[0].err
    from_env = run("status", env={"DATABASE_URL": url})
    assert "visible to other users" not in from_env.err and PASSWORD not in from_env.text


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_screens_and_scripts_stay_headless(monkeypatch: pytest.MonkeyPatch) -> None:
    from wizard.cli import _wants_screens
    from wizard.cli.parser import build_parser

    parse = build_parser().parse_args
    # No terminal (a script, CI): always headless.
    assert not _wants_screens(parse([])) and not _wants_screens(parse(["verify"]))
    monkeypatch.setattr("sys.stdin", _Terminal())
    monkeypatch.setattr("sys.stdout", _Terminal())
    assert _wants_screens(parse([])) and _wants_screens(parse(["--practice"]))
    assert _wants_screens(parse(["verify", "--practice"]))
    assert not _wants_screens(parse(["verify", "--json"])) and not _wants_screens(parse(["verify", "--plain"]))
    assert not _wants_screens(parse(["status"])) and not _wants_screens(parse(["migrate", "--yes"]))
