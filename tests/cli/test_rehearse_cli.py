"""`migration-wizard rehearse`: a copy with data on a throwaway local server; the real database only read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.cli_runner import run
from tests.conftest import DATA, TestDatabase
from tests.core.test_rehearse import OLD_IMAGE_ANALYSES, assert_no_copy_left, schema_of
from tests.debian_pg import PASSWORD, DebianPg

JSON_KEYS = {"ok", "applied", "verified", "seconds", "lock_waits", "warnings", "error", "backup", "server_version"}


@pytest.fixture
def outside_role(db: TestDatabase) -> Iterator[str]:
    """A role of the source server only (roles are cluster-wide: a unique name, dropped afterwards)."""
    role = f"app_reader_{uuid.uuid4().hex[:8]}"
    with db.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    yield role
    with db.connect() as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP POLICY IF EXISTS readers ON attachments"))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_rehearse_passes_on_a_copy_with_data_and_leaves_the_database_unchanged(db: TestDatabase) -> None:
    before = schema_of(db)
    result = run("rehearse", "--json", "--database-url", db.url)
    assert result.code == 0, result.text
    data = result.result
    assert set(data) >= JSON_KEYS
    assert data["ok"] is True and data["applied"] == ["002"] and data["verified"] is True
    assert isinstance(data["seconds"], float) and data["lock_waits"] == 0 and data["warnings"] == []
    assert data["error"] is None and data["server_version"].startswith("18.")
    assert data["backup_kept"] is False and not Path(data["backup"]).exists()
    assert schema_of(db) == before
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None
    assert_no_copy_left()


def test_target_options_go_before_or_after_the_command_and_the_steps_are_said(db: TestDatabase) -> None:
    result = run("--database-url", db.url, "rehearse", "--lock-timeout", "500")
    assert result.code == 0, result.text
    for step in (
        "Taking a fresh backup",
        "Starting a throwaway PostgreSQL 18",
        "Restoring the copy (without owners and privileges) with the wizard's own pg_restore 18.",
        "the oldest that reads this archive (made by pg_dump 18.",
        "Applying 002_phase2_vision_api",
        "Verify: OK",
        "Removed the copy",
    ):
        assert step in result.out
    last = result.out.strip().splitlines()[-1]
    assert last.startswith("Rehearsal passed: 002_phase2_vision_api applied in ")
    assert last.endswith("0 lock waits; your database was not changed.")


def test_a_migration_that_would_fail_exits_1_with_the_reason_and_the_fix(db: TestDatabase) -> None:
    db.execute(OLD_IMAGE_ANALYSES)
    before = schema_of(db)
    result = run("rehearse", "--database-url", db.url)
    assert result.code == 1, result.text
    failed = "Rehearsal failed: 002_phase2_vision_api would fail on your database: Statement 8 (line 27) failed:"
    assert failed in result.out
    assert 'column "attachment_id" does not exist' in result.out
    assert "The statement: CREATE INDEX IF NOT EXISTS idx_image_analyses_attachment_id" in result.out
    assert "  1. " in result.out and "Your database was not changed" in result.out
    as_json = run("rehearse", "--json", "--database-url", db.url).result
    assert as_json["ok"] is False and as_json["applied"] == [] and as_json["verified"] is None
    assert as_json["error"]["fix"] and "attachment_id" in as_json["error"]["message"]
    assert schema_of(db) == before
    assert_no_copy_left()


def test_an_object_for_a_role_only_the_server_has_is_a_warning_and_the_rehearsal_runs(
    db: TestDatabase, outside_role: str
) -> None:
    # Grants are left out of the copy (--no-privileges); a policy names the role in its definition.
    db.execute(
        f"GRANT SELECT ON attachments TO {outside_role}; ALTER TABLE attachments ENABLE ROW LEVEL SECURITY;"
        f" CREATE POLICY readers ON attachments FOR SELECT TO {outside_role} USING (true)"
    )
    result = run("rehearse", "--json", "--database-url", db.url)
    assert result.code == 0, result.text
    data = result.result
    assert data["ok"] is True and data["verified"] is True
    assert data["warnings"] == [
        f'policy public.attachments readers was not restored on the copy: it names the role "{outside_role}",'
        " which exists only on your server"
    ]


def test_an_existing_backup_is_reused_and_kept(db: TestDatabase, tmp_path: Path) -> None:
    made = run("backup", "--json", "--output", str(tmp_path), "--database-url", db.url)
    backup = Path(made.result["path"])
    result = run("rehearse", "--backup", str(backup), "--json", "--database-url", db.url)
    assert result.code == 0, result.text
    data = result.result
    assert data["ok"] is True and data["backup"] == str(backup) and data["backup_kept"] is True
    assert backup.exists()
    text = run("rehearse", "--backup", str(backup), "--database-url", db.url)
    assert f"Using the backup {backup}." in text.out and "Taking a fresh backup" not in text.out


def test_a_backup_of_another_table_does_not_hold_what_the_migrations_need(db: TestDatabase, tmp_path: Path) -> None:
    made = run("backup", "--json", "--table", "users", "--output", str(tmp_path), "--database-url", db.url)
    result = run("rehearse", "--backup", made.result["path"], "--database-url", db.url)
    assert result.code == 1, result.text
    assert "does not hold public.agents, public.attachments, public.conversations, public.messages," in result.err
    assert "rehearse without --backup" in result.err
    assert_no_copy_left()


def test_a_plain_or_missing_backup_is_refused_before_anything_starts(db: TestDatabase, tmp_path: Path) -> None:
    made = run("backup", "--json", "--format", "plain", "--output", str(tmp_path), "--database-url", db.url)
    plain = made.result["path"]
    result = run("rehearse", "--backup", plain, "--database-url", db.url)
    assert result.code == 3 and "is a plain SQL backup" in result.err and "migration-wizard backup" in result.err
    missing = run("rehearse", "--backup", str(tmp_path / "nope.dump"), "--json", "--database-url", db.url)
    assert missing.code == 3 and "There is no backup file at" in missing.err
    assert missing.result["error"]["message"].startswith("There is no backup file at")
    assert_no_copy_left()


def test_nothing_pending_is_nothing_to_rehearse(db: TestDatabase) -> None:
    assert run("migrate", "--yes", "--skip-backup", "--database-url", db.url).code == 0
    result = run("rehearse", "--database-url", db.url)
    assert result.code == 0 and "Nothing to rehearse: every migration is already applied." in result.out
    data = run("rehearse", "--json", "--database-url", db.url).result
    assert data["ok"] is True and data["pending"] == [] and data["applied"] == [] and data["backup"] is None


def _debian_app(server: DebianPg, extra: str) -> str:
    url = server.create_database(f"app_{uuid.uuid4().hex[:8]}", DATA / "independent_app_schema.sql")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(extra)
    return url


def test_an_extension_the_local_server_lacks_is_a_warning_on_a_postgresql_15_server(debian_pg: DebianPg) -> None:
    # hstore is in Debian's PostgreSQL, not in the embedded one; the migrations do not need api_settings.
    url = _debian_app(
        debian_pg,
        "CREATE EXTENSION hstore; CREATE TABLE api_settings (id int PRIMARY KEY, options hstore);"
        " INSERT INTO api_settings VALUES (1, 'a=>1')",
    )
    result = run("rehearse", "--json", env={"DATABASE_URL": url})
    assert result.code == 0, result.text
    data = result.result
    assert data["ok"] is True and data["server_version"].startswith("16.")  # the smallest local one >= 15
    warned = "\n".join(data["warnings"])
    assert 'extension hstore was not restored on the copy: the local PostgreSQL has no extension "hstore"' in warned
    assert (
        "the comment on extension hstore was not restored on the copy: the local PostgreSQL has no extension" in warned
    )
    assert "table public.api_settings was not restored" in warned and "the data of table public.api_settings" in warned
    assert "transaction_timeout" not in warned  # pg_restore 18's harmless SET on a 16 server
    assert PASSWORD not in result.text and "p%40ss" not in result.text


def test_attachments_that_cannot_be_restored_stop_the_rehearsal_with_the_reason(debian_pg: DebianPg) -> None:
    url = _debian_app(
        debian_pg,
        "CREATE EXTENSION citext; ALTER TABLE attachments ADD COLUMN label citext;"
        " CREATE EXTENSION hstore; CREATE TABLE api_settings (id int PRIMARY KEY, options hstore)",
    )
    result = run("rehearse", env={"DATABASE_URL": url})
    assert result.code == 1, result.text
    assert "Starting a throwaway PostgreSQL 16 (your server runs 15)" in result.out
    assert "Error: public.attachments could not be restored on the local copy" in result.err
    assert "has no extension citext)" in result.err and 'type "public.citext" does not exist' in result.err
    assert "create a branch of the database" in result.err and "Traceback" not in result.text
    assert "Applying" not in result.out
    assert PASSWORD not in result.text and "p%40ss" not in result.text
    assert_no_copy_left()
