"""`restore FILE`: back to exactly the backup, Phase 2 included; a table-only file touches one table."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_runner import run
from tests.conftest import TestDatabase
from tests.pgbouncer import TlsFront


def _backup(db_url: str, folder: Path, *extra: str) -> Path:
    result = run("backup", "--json", "--output", str(folder), *extra, "--database-url", db_url)
    assert result.code == 0, result.text
    return Path(result.result["path"])


def _counts(db: TestDatabase) -> dict[str, int]:
    with db.connect() as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {t: int(conn.execute(f'SELECT count(*) FROM public."{t}"').fetchone()[0]) for t in tables}  # type: ignore[index]


def test_restore_after_phase_2_leaves_the_pre_phase_2_schema_and_data(db: TestDatabase, tmp_path: Path) -> None:
    before = _counts(db)
    backup = _backup(db.url, tmp_path)
    assert run("migrate", "--yes", "--skip-backup", "--database-url", db.url).code == 0
    db.execute("UPDATE users SET display_name = 'changed after the backup'; DELETE FROM sessions")
    refused = run("restore", str(backup), "--database-url", db.url)
    assert refused.code == 2 and "table public.image_analyses" in refused.out  # listed before anything is dropped
    gone = refused.out.split("Not in the backup, so gone after the restore: ", 1)[1].splitlines()[0]
    assert "table public.image_analyses" in gone and "public.attachments" not in gone  # what will not come back
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is not None
    done = run("restore", str(backup), "--yes", "--database-url", db.url)
    assert done.code == 0, done.text
    assert "the database now matches the backup" in done.out and "Verify: FAILED" in done.out
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None
    assert db.scalar("SELECT to_regnamespace('migration_wizard')") is None  # created after the backup: gone
    assert db.scalar("SELECT count(*) FROM users WHERE display_name = 'changed after the backup'") == 0
    assert _counts(db) == before
    status = json.loads(run("status", "--json", "--database-url", db.url).out)
    assert [m["state"] for m in status["migrations"]] == ["applied", "pending"]


def test_a_table_only_backup_restores_that_table_and_removes_only_phase_2(db: TestDatabase, tmp_path: Path) -> None:
    backup = _backup(db.url, tmp_path, "--table", "attachments", "--format", "plain")
    assert run("migrate", "--yes", "--skip-backup", "--database-url", db.url).code == 0
    db.execute("UPDATE attachments SET filename = 'renamed'; UPDATE users SET display_name = 'kept'")
    result = run("restore", str(backup), "--yes", "--database-url", db.url)
    assert result.code == 0, result.text
    assert "only public.attachments" in result.out and "table image_analyses (created by 002" in result.out
    assert db.scalar("SELECT count(*) FROM attachments WHERE filename = 'renamed'") == 0
    assert db.scalar("SELECT count(*) FROM users WHERE display_name = 'kept'") == 20  # other tables untouched
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None
    columns = "SELECT count(*) FROM information_schema.columns WHERE table_name = 'attachments'"
    assert db.scalar(columns) == 8


def test_a_file_that_is_not_a_backup_is_bad_input(db: TestDatabase, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    assert run("restore", str(junk), "--yes", "--database-url", db.url).code == 3
    assert run("restore", str(tmp_path / "missing.dump"), "--yes", "--database-url", db.url).code == 3


def test_backup_and_restore_through_a_tls_only_front(tls_front: TlsFront, db: TestDatabase, tmp_path: Path) -> None:
    import time

    url = tls_front.url(db.name)
    backup = _backup(url, tmp_path)
    # PgBouncer may keep pg_dump's server connection (and its table locks) for a moment after
    # pg_dump leaves; a user would see the restore wait for it, so the test waits too.
    lingering = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state LIKE 'idle in transaction%%'"
    deadline = time.monotonic() + 30
    while db.scalar(lingering, (db.name,)) and time.monotonic() < deadline:
        time.sleep(0.2)
    db.execute("DELETE FROM tool_calls")
    result = run("restore", str(backup), "--yes", env={"DATABASE_URL": url})
    assert result.code == 0, result.text
    assert db.scalar("SELECT count(*) FROM tool_calls") == 60
