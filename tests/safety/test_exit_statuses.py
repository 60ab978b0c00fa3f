"""Exit statuses a script can trust: 1 only when the database is as before, 4 when something
was committed and a later step failed, 3 for a migration file with nothing in it, non-zero for
a file changed after it was applied, one JSON object on every failure, and no claim of what a
failed run rolled back."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pglast
import pytest

from tests.cli_runner import Result, run
from tests.conftest import DATA, TestDatabase
from wizard.core import paths

STORAGE_KEY_COLUMNS = (
    "SELECT count(*) FROM information_schema.columns WHERE table_name = 'attachments' AND column_name = 'storage_key'"
)


def _applied(db: TestDatabase) -> list[str]:
    if not db.scalar("SELECT to_regclass('migration_wizard.ledger') IS NOT NULL"):
        return []
    with db.connect() as conn:
        return [r[0] for r in conn.execute("SELECT version FROM migration_wizard.ledger ORDER BY version")]


@pytest.fixture
def reports_blocked() -> Iterator[Path]:
    """The reports folder cannot be created (a file stands in its place): writing the session
    report fails with an OSError, as on a full disk, but only at the end of the operation."""
    folder = paths.data_dir() / "reports"
    saved = folder.with_name("reports.saved")
    if folder.exists():
        folder.rename(saved)
    folder.write_text("not a folder\n")
    try:
        yield folder
    finally:
        folder.unlink()
        if saved.exists():
            saved.rename(folder)


def _migrate(db: TestDatabase, migrations: Path, *extra: str) -> Result:
    return run(
        "--database-url", db.url, "--migrations-dir", str(migrations), "migrate", "--yes", "--skip-backup", *extra
    )


# Exit 4: committed, then a later step failed --------------------------------------------------


def test_migrate_that_commits_and_then_cannot_write_its_report_exits_4(
    any_version: TestDatabase, reports_blocked: Path
) -> None:
    db = any_version
    result = run("--database-url", db.url, "migrate", "--yes", "--skip-backup", "--json")
    assert result.code == 4, result.text
    assert _applied(db) == ["001", "002"]  # committed: the database is NOT as before
    final = result.result
    assert final["ok"] is False and final["exit"] == 4 and final["report"] is None
    error = final["error"]
    assert error["committed"] == "applied 002_phase2_vision_api"
    assert error["step"] == "writing the session report"
    assert "(committed), but writing the session report failed" in error["message"]
    assert "nothing was changed" not in result.text.lower()


def test_migrate_text_output_says_what_was_committed_when_the_report_fails(
    db: TestDatabase, reports_blocked: Path
) -> None:
    result = run("--database-url", db.url, "migrate", "--yes", "--skip-backup")
    assert result.code == 4, result.text
    assert "Error: Applied 002_phase2_vision_api (committed), but writing the session report failed" in result.err
    assert "The transaction was rolled back" not in result.err


def test_rollback_that_commits_and_then_cannot_write_its_report_exits_4(
    db: TestDatabase, reports_blocked: Path
) -> None:
    folder = reports_blocked
    folder.unlink()  # the migrate's own report may be written
    assert run("--database-url", db.url, "migrate", "--yes", "--skip-backup").code == 0
    shutil.rmtree(folder)
    folder.write_text("not a folder\n")
    result = run("--database-url", db.url, "rollback", "--yes", "--json")
    assert result.code == 4, result.text
    assert db.scalar(STORAGE_KEY_COLUMNS) == 0  # the rollback was committed
    assert result.result["error"]["committed"] == "rolled back 002_phase2_vision_api"


def test_a_second_migration_failing_after_the_first_committed_exits_4(db: TestDatabase, migrations_copy: Path) -> None:
    for path in (DATA / "next_migration").iterdir():
        shutil.copy(path, migrations_copy / path.name)
    third = migrations_copy / "003_tags.sql"
    third.write_text(third.read_text() + "\nSELECT no_such_function();\n")
    result = _migrate(db, migrations_copy, "--json")
    assert result.code == 4, result.text
    assert _applied(db) == ["001", "002"]  # 002 committed, 003 rolled back
    error = result.result["error"]
    assert error["committed"] == "applied 002_phase2_vision_api"
    assert error["step"] == "the next migration"
    assert "no_such_function" in error["message"]


def test_a_migration_applied_but_failing_verification_exits_4(db: TestDatabase, migrations_copy: Path) -> None:
    # The file leaves out an index its expectations require: it commits, then verify fails.
    path = migrations_copy / "002_phase2_vision_api.sql"
    kept = [s for s in pglast.split(path.read_text()) if "idx_image_analyses_attachment_id" not in s]
    path.write_text(";\n".join(kept) + ";\n")
    result = _migrate(db, migrations_copy, "--json")
    assert result.code == 4, result.text
    assert "002" in _applied(db)
    final = result.result
    assert final["verify"]["ok"] is False and final["error"]["step"] == "verification"


def test_a_failed_migration_still_exits_1_with_nothing_changed(db: TestDatabase, migrations_copy: Path) -> None:
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_text(path.read_text() + "\nSELECT no_such_function();\n")
    result = _migrate(db, migrations_copy, "--json")
    assert result.code == 1, result.text
    assert _applied(db) == [] and db.scalar(STORAGE_KEY_COLUMNS) == 0


# A failed run claims nothing it rolled back ------------------------------------------------------


def test_a_failed_first_migration_does_not_claim_the_baseline(db: TestDatabase, migrations_copy: Path) -> None:
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_text(path.read_text() + "\nSELECT no_such_function();\n")
    args = ("--database-url", db.url, "--migrations-dir", str(migrations_copy), "migrate", "--yes", "--skip-backup")
    text = run(*args)
    assert text.code == 1
    assert "baseline" not in text.out
    lines = run(*args, "--json")
    assert "baseline_recorded" not in [line["event"] for line in lines.lines]
    assert _applied(db) == []


def test_the_baseline_is_announced_once_committed(db: TestDatabase) -> None:
    result = run("--database-url", db.url, "migrate", "--yes", "--skip-backup", "--json")
    events = [line["event"] for line in result.lines]
    assert events.index("baseline_recorded") > events.index("statement_finished")
    assert events.index("baseline_recorded") < events.index("migration_applied")


# Empty migration files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    ["", "\n   \n", "-- nothing yet\n/* a plan\n   for later */\n", "BEGIN;\n-- to do\nCOMMIT;\n"],
    ids=["empty", "blank", "comments", "only-transaction-control"],
)
def test_an_empty_or_comments_only_migration_is_refused_before_anything_runs(
    db: TestDatabase, migrations_copy: Path, content: str
) -> None:
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_text(content)
    for command in (("migrate", "--yes", "--skip-backup"), ("plan",)):
        result = run("--database-url", db.url, "--migrations-dir", str(migrations_copy), *command)
        assert result.code == 3, result.text
        assert "002_phase2_vision_api.sql holds no SQL statement" in result.err
    assert _applied(db) == []


def test_an_empty_down_file_is_refused_by_rollback(db: TestDatabase, migrations_copy: Path) -> None:
    args = ("--database-url", db.url, "--migrations-dir", str(migrations_copy))
    assert run(*args, "migrate", "--yes", "--skip-backup").code == 0
    (migrations_copy / "002_phase2_vision_api.down.sql").write_text("-- undo later\n")
    result = run(*args, "rollback", "--yes", "--json")
    assert result.code == 3, result.text
    assert "002_phase2_vision_api.down.sql holds no SQL statement" in result.result["error"]["message"]
    assert db.scalar(STORAGE_KEY_COLUMNS) == 1


# A migration file changed after it was applied ------------------------------------------------


def test_a_changed_migration_file_fails_status_and_verify_and_rollback_says_so(
    db: TestDatabase, migrations_copy: Path
) -> None:
    args = ("--database-url", db.url, "--migrations-dir", str(migrations_copy))
    assert run(*args, "migrate", "--yes", "--skip-backup").code == 0
    assert run(*args, "status").code == 0
    assert run(*args, "verify", "--plain").code == 0
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_text(path.read_text() + "\n-- tidied up later\n")

    status = run(*args, "status")
    assert status.code == 1 and "modified" in status.out
    status_json = run(*args, "status", "--json")
    assert status_json.code == 1
    assert [m["state"] for m in json.loads(status_json.out)["migrations"]] == ["applied", "modified"]

    verify = run(*args, "verify", "--json")
    assert verify.code == 1
    report = json.loads(verify.out)
    assert report["ok"] is False
    assert report["migrations"][0]["state"] == "modified"

    rollback = run(*args, "rollback")  # no terminal and no --yes: it explains, then refuses
    assert rollback.code == 2
    warning = rollback.out.index("Warning: 002_phase2_vision_api.sql changed after it was applied")
    assert warning < rollback.err.index("Nothing was changed") + len(rollback.out)
    assert db.scalar(STORAGE_KEY_COLUMNS) == 1


# One JSON object on every failure --------------------------------------------------------------

UNREACHABLE = "postgresql://someone:secret-pw@127.0.0.1:1/app"


def _one_object(result: Result) -> dict[str, object]:
    document = json.loads(result.out)  # the whole of stdout is one JSON document
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("command", [("verify", "--json"), ("status", "--json")])
def test_json_commands_print_one_object_when_they_cannot_connect(command: tuple[str, ...]) -> None:
    result = run("--database-url", UNREACHABLE, "--connect-timeout", "1", *command)
    assert result.code == 3, result.text
    document = _one_object(result)
    assert document["ok"] is False and document["exit"] == 3
    error = document["error"]
    assert isinstance(error, dict) and error["message"] and error["fix"]
    assert "secret-pw" not in result.text


def test_json_commands_print_one_object_for_bad_input() -> None:
    result = run("--database-url", "mysql://x@y/z", "verify", "--json")
    assert result.code == 3
    assert _one_object(result)["exit"] == 3


@pytest.mark.parametrize(
    ("words", "lines"),
    [(("verify", "--json", "--no-such-option"), False), (("migrate", "--json", "--lock-timeout", "soon"), True)],
)
def test_a_usage_error_with_json_prints_one_object_too(words: tuple[str, ...], lines: bool) -> None:
    result = run(*words)
    assert result.code == 2
    document = _one_object(result)
    assert document["ok"] is False and document["exit"] == 2
    assert ("event" in document) is lines
    assert "usage: migration-wizard" in result.err


def test_a_pasted_url_in_a_usage_error_is_masked() -> None:
    result = run("postgresql://someone:secret-pw@db.example.com/app", "--json")
    assert result.code == 2
    assert "secret-pw" not in result.text
