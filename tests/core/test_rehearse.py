"""rehearse(): the pending migrations on a throwaway local copy (real embedded servers), the
real database only read, and the copy gone afterwards whatever happened."""

from __future__ import annotations

import threading
from typing import Any

import psutil
import psycopg
import pytest

from tests.conftest import TestDatabase
from wizard.core import engine, paths
from wizard.core.connection import connect
from wizard.core.errors import Cancelled
from wizard.core.events import Event, IndexBuildFinished, RehearsalStep, TransactionalPartCommitted
from wizard.core.local_copy import local_major
from wizard.core.migrations import load_migrations
from wizard.core.rehearse import Rehearsal, RehearsalFailed, rehearse, required_tables
from wizard.core.runner import RunOptions

# Someone tried Phase 2 by hand with another design: 002's CREATE TABLE IF NOT EXISTS skips
# it, and its index on image_analyses.attachment_id then fails.
OLD_IMAGE_ANALYSES = "CREATE TABLE image_analyses (id serial PRIMARY KEY, attachment uuid, note text)"


def schema_of(db: TestDatabase) -> list[tuple[Any, ...]]:
    """Every column and index of the database, and the schemas: what a rehearsal must not change."""
    with db.connect() as conn:
        columns = conn.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3"
        ).fetchall()
        indexes = conn.execute("SELECT schemaname, indexname FROM pg_indexes ORDER BY 1, 2").fetchall()
        schemas = conn.execute("SELECT nspname FROM pg_namespace ORDER BY 1").fetchall()
    return [*columns, *indexes, *schemas]


def assert_no_copy_left() -> None:
    assert list(paths.rehearsals_dir().iterdir()) == []
    assert [p for p in paths.backups_dir().iterdir() if p.name.startswith(".rehearsal-")] == []
    folder = str(paths.rehearsals_dir())
    running = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and folder in " ".join(process.info["cmdline"] or ()):
            running.append(process.pid)
    assert running == []


def run(db: TestDatabase, events: list[Event] | None = None, **kwargs: Any) -> Rehearsal:
    with connect(db.target) as conn:
        return rehearse(conn, db.target, load_migrations(), (events if events is not None else []).append, **kwargs)


def test_a_rehearsal_on_a_copy_with_data_applies_and_verifies_and_leaves_the_database_alone(
    db: TestDatabase,
) -> None:
    before = schema_of(db)
    events: list[Event] = []
    result = run(db, events)
    assert result.ok and result.error is None and result.pending == ("002",) and result.applied == ("002",)
    assert result.verify is not None and result.verify.ok
    smoke = next(c for c in result.verify.checks if c.id == "smoke_test")
    assert smoke.rows[0]["step"] == "use an existing attachments row"  # the copy has the data
    assert result.seconds is not None and result.seconds > 0 and result.lock_waits == 0 and result.warnings == ()
    assert result.server_version is not None and result.server_version.startswith("18.")
    assert result.backup is not None and not result.backup_kept and not result.backup.exists()
    steps = [e.step for e in events if isinstance(e, RehearsalStep)]
    assert steps == ["backup", "server", "restore", "check", "migrate", "verify", "cleanup"]
    assert schema_of(db) == before
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None
    assert db.scalar("SELECT to_regnamespace('migration_wizard')") is None  # no ledger written
    assert_no_copy_left()


def test_the_tables_a_migration_needs_include_those_its_tables_refer_to(db: TestDatabase) -> None:
    pending = [m for m in load_migrations() if not m.baseline]
    with connect(db.target) as conn:
        needed = required_tables(conn, pending)
    names = ("agents", "attachments", "conversations", "messages", "users")
    assert needed == tuple(f"public.{t}" for t in names)


def test_a_migration_that_fails_on_the_copy_is_the_answer_not_an_error(db: TestDatabase) -> None:
    db.execute(OLD_IMAGE_ANALYSES)
    before = schema_of(db)
    result = run(db)
    assert not result.ok and result.applied == () and result.seconds is None and result.verify is None
    assert result.error is not None and 'column "attachment_id" does not exist' in result.error
    assert "would fail on your database" in result.error and result.fix
    assert "idx_image_analyses_attachment_id" in result.failed_statement
    assert schema_of(db) == before
    assert_no_copy_left()


def test_a_migration_that_does_not_verify_on_the_copy_says_what_is_wrong(db: TestDatabase) -> None:
    db.execute("ALTER TABLE attachments ADD COLUMN storage_key integer")  # made by hand, another type
    result = run(db)
    assert not result.ok and result.applied == ("002",) and result.verify is not None and not result.verify.ok
    assert result.error is not None and "did not verify" in result.error and "storage_key" in result.error
    assert result.fix
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None
    assert_no_copy_left()


def test_cancelling_during_the_restore_removes_the_copy(db: TestDatabase) -> None:
    cancel = threading.Event()

    def emit(event: Event) -> None:
        if isinstance(event, RehearsalStep) and event.step == "restore":
            cancel.set()

    with connect(db.target) as conn, pytest.raises(Cancelled):
        rehearse(conn, db.target, load_migrations(), emit, cancel=cancel)
    assert_no_copy_left()


def test_an_interrupt_while_migrating_removes_the_copy(db: TestDatabase) -> None:
    def emit(event: Event) -> None:
        if isinstance(event, RehearsalStep) and event.step == "migrate":
            raise KeyboardInterrupt

    with connect(db.target) as conn, pytest.raises(KeyboardInterrupt):
        rehearse(conn, db.target, load_migrations(), emit)
    assert_no_copy_left()
    assert db.scalar("SELECT to_regnamespace('migration_wizard')") is None


def test_nothing_pending_is_nothing_to_rehearse_and_starts_nothing(db: TestDatabase) -> None:
    migrations = load_migrations()
    with connect(db.target) as conn:
        engine.apply_pending(conn, migrations, RunOptions(), lambda _e: None)
    events: list[Event] = []
    result = run(db, events)
    assert result.ok and result.nothing_pending and events == [] and result.backup is None


def test_the_local_server_is_the_smallest_embedded_one_at_least_as_new() -> None:
    assert [local_major(v) for v in (14, 15, 16, 17, 18)] == [16, 16, 16, 18, 18]
    with pytest.raises(RehearsalFailed) as failed:
        local_major(19)
    assert "newer than the wizard's own PostgreSQL (16, 18)" in failed.value.message and failed.value.fix


def test_a_rehearsal_reads_the_database_only(db: TestDatabase) -> None:
    """Every statement the wizard sends to the real database is a read: a read-only session succeeds."""
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("ALTER DATABASE " + db.name + " SET default_transaction_read_only = on")
    try:
        assert run(db).ok
    finally:
        with psycopg.connect(db.url, autocommit=True) as conn:
            conn.execute("SET default_transaction_read_only = off")
            conn.execute("ALTER DATABASE " + db.name + " RESET default_transaction_read_only")


def test_a_rehearsal_builds_big_indexes_online_on_the_copy_as_migrate_would(db: TestDatabase) -> None:
    before = schema_of(db)
    events: list[Event] = []
    result = run(db, events, options=RunOptions(online_rows=0))
    assert result.ok and result.applied == ("002",), result.error
    committed = [e for e in events if isinstance(e, TransactionalPartCommitted)]
    assert committed and committed[0].online == ("idx_attachments_storage_key", "idx_attachments_conversation_id")
    assert [e.index for e in events if isinstance(e, IndexBuildFinished)] == list(committed[0].online)
    assert schema_of(db) == before  # built on the copy only
    assert_no_copy_left()
