"""Status and apply against a real embedded PostgreSQL."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from tests.conftest import TestDatabase
from wizard.core import engine, ledger
from wizard.core.connection import connect
from wizard.core.errors import Cancelled, MigrationFailed, RefusedError
from wizard.core.events import (
    AlreadyApplied,
    BaselineRecorded,
    Event,
    LockWait,
    MigrationApplied,
    StatementFinished,
)
from wizard.core.migrations import load_migrations
from wizard.core.runner import RunOptions

MIGRATIONS = load_migrations()


def _states(conn: psycopg.Connection[Any]) -> dict[str, str]:
    return {s.migration.version: s.state for s in engine.status(conn, MIGRATIONS)}


def _apply(db: TestDatabase, options: RunOptions | None = None) -> tuple[list[str], list[Event]]:
    events: list[Event] = []
    with connect(db.target) as conn:
        applied = engine.apply_pending(conn, MIGRATIONS, options or RunOptions(), events.append)
    return applied, events


def test_a_fresh_application_database_has_002_pending_and_001_adoptable(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        assert _states(conn) == {"001": "applied", "002": "pending"}
        assert not ledger.exists(conn)


def test_apply_runs_every_statement_records_baseline_and_002(db: TestDatabase) -> None:
    started = time.monotonic()
    applied, events = _apply(db)
    wall_ms = (time.monotonic() - started) * 1000
    assert applied == ["002"]
    finished = [e for e in events if isinstance(e, StatementFinished)]
    assert [e.index for e in finished] == list(range(1, 15))
    assert finished[0].status == "ALTER TABLE" and finished[0].line == 7
    assert any(isinstance(e, BaselineRecorded) and e.version == "001" for e in events)
    done = [e for e in events if isinstance(e, MigrationApplied)]
    assert len(done) == 1 and done[0].preexisting == ()
    with connect(db.target) as conn:
        rows = ledger.read(conn)
        assert rows["001"].kind == "baseline" and rows["002"].kind == "applied"
        assert rows["002"].checksum == MIGRATIONS[1].checksum
        # The recorded time covers at least every statement and at most the whole call.
        statements_ms = sum(e.duration for e in finished) * 1000
        assert statements_ms - 1 <= rows["002"].duration_ms <= wall_ms + 1
        assert "(" in rows["002"].applied_by
        assert _states(conn) == {"001": "applied", "002": "applied"}
    # The ledger lives outside public, where the application's ORM looks.
    assert db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'ledger'") == 0


def test_reapply_is_a_no_op(db: TestDatabase) -> None:
    _apply(db)
    applied, events = _apply(db)
    assert applied == [] and events == []


def test_wrong_database_is_refused_and_nothing_is_written(empty_db: TestDatabase) -> None:
    with connect(empty_db.target) as conn:
        assert _states(conn) == {"001": "pending", "002": "pending"}
        with pytest.raises(RefusedError, match=r"public\.attachments"):
            engine.apply_pending(conn, MIGRATIONS, RunOptions(), lambda e: None)
    assert empty_db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (ledger.SCHEMA,)) == 0
    assert empty_db.scalar("SELECT count(*) FROM pg_class WHERE relname = 'image_analyses'") == 0


def test_guide_run_fully_by_hand_is_adopted_and_recorded(db: TestDatabase) -> None:
    db.execute(MIGRATIONS[1].sql)
    applied, events = _apply(db)
    assert applied == ["002"]
    done = next(e for e in events if isinstance(e, MigrationApplied))
    assert set(done.preexisting) == set(MIGRATIONS[1].expectations.object_keys())
    notices = [n for e in events if isinstance(e, StatementFinished) for n in e.notices]
    assert any("already exists, skipping" in n for n in notices)


def test_guide_run_partly_by_hand_is_completed(db: TestDatabase) -> None:
    db.execute(
        "ALTER TABLE attachments ADD COLUMN storage_key varchar(500);"
        "CREATE INDEX idx_attachments_conversation_id ON attachments (conversation_id);"
    )
    applied, events = _apply(db)
    assert applied == ["002"]
    done = next(e for e in events if isinstance(e, MigrationApplied))
    assert set(done.preexisting) == {
        "column:attachments.storage_key",
        "index:idx_attachments_conversation_id",
    }
    assert db.scalar("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'idx_image_analyses_%%'") == 2
    with connect(db.target) as conn:
        assert ledger.read(conn)["002"].preexisting == tuple(done.preexisting)


def test_modified_migration_is_reported_and_migrate_refuses(db: TestDatabase, migrations_copy: Any) -> None:
    _apply(db)
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_text(path.read_text() + "\nCREATE INDEX IF NOT EXISTS idx_extra ON attachments (filename);\n")
    changed = load_migrations(migrations_copy)
    with connect(db.target) as conn:
        assert {s.migration.version: s.state for s in engine.status(conn, changed)}["002"] == "modified"
        with pytest.raises(RefusedError, match="changed after it was applied"):
            engine.apply_pending(conn, changed, RunOptions(), lambda e: None)


def test_crlf_line_endings_do_not_count_as_a_change(db: TestDatabase, migrations_copy: Any) -> None:
    _apply(db)
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    with connect(db.target) as conn:
        assert {s.migration.version: s.state for s in engine.status(conn, load_migrations(migrations_copy))}[
            "002"
        ] == "applied"


def _hold_attachments(db: TestDatabase) -> psycopg.Connection[Any]:
    """Another session that read attachments and stays idle in transaction (holds ACCESS SHARE)."""
    holder = psycopg.connect(db.url, application_name="busy-app")
    holder.execute("SELECT count(*) FROM attachments").fetchone()
    return holder


def test_lock_wait_is_reported_with_the_holder_then_retried(db: TestDatabase) -> None:
    holder = _hold_attachments(db)
    holder_pid = holder.info.backend_pid
    events: list[Event] = []
    released = threading.Event()

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, LockWait) and not released.is_set():
            released.set()
            holder.rollback()

    with connect(db.target) as conn:
        applied = engine.apply_pending(conn, MIGRATIONS, RunOptions(lock_timeout_ms=100, max_wait=30), emit)
    holder.close()
    assert applied == ["002"]
    waits = [e for e in events if isinstance(e, LockWait)]
    assert waits and waits[0].relation == "attachments"
    first = waits[0].holders[0]
    assert first.pid == holder_pid and first.application == "busy-app"
    assert first.state == "idle in transaction" and "AccessShareLock" in first.mode


def test_lock_wait_gives_up_after_the_budget_and_changes_nothing(db: TestDatabase) -> None:
    holder = _hold_attachments(db)
    events: list[Event] = []
    started = time.monotonic()
    with connect(db.target) as conn, pytest.raises(MigrationFailed) as failure:
        engine.apply_pending(conn, MIGRATIONS, RunOptions(lock_timeout_ms=50, max_wait=1.5), events.append)
    holder.close()
    assert time.monotonic() - started < 15
    assert failure.value.sqlstate == "55P03" and failure.value.nothing_changed
    assert "pid" in failure.value.message
    assert sum(isinstance(e, LockWait) for e in events) >= 2
    assert db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (ledger.SCHEMA,)) == 0
    storage_key = "SELECT count(*) FROM information_schema.columns WHERE column_name = 'storage_key'"
    assert db.scalar(storage_key) == 0


def test_a_failing_statement_rolls_back_everything_and_names_its_line(db: TestDatabase, migrations_copy: Any) -> None:
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_text(path.read_text().replace("ON attachments (conversation_id)", "ON attachments (no_such_column)"))
    broken = load_migrations(migrations_copy)
    with connect(db.target) as conn, pytest.raises(MigrationFailed) as failure:
        engine.apply_pending(conn, broken, RunOptions(), lambda e: None)
    error = failure.value
    assert error.statement_index == 7 and error.line == 26 and error.sqlstate == "42703"
    assert error.nothing_changed and "no_such_column" in error.message
    assert db.scalar("SELECT count(*) FROM pg_class WHERE relname = 'image_analyses'") == 0
    assert db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (ledger.SCHEMA,)) == 0


def test_already_applied_after_waiting_is_reported(db: TestDatabase) -> None:
    """A run that finds 002 recorded once it gets the run lock reports it instead of re-applying."""
    _apply(db)
    events: list[Event] = []
    with connect(db.target) as conn:
        assert not engine.apply_one(conn, MIGRATIONS, MIGRATIONS[1], RunOptions(), events.append)
    assert any(isinstance(e, AlreadyApplied) for e in events)


def test_cancel_while_waiting_for_a_lock_rolls_back_and_changes_nothing(db: TestDatabase) -> None:
    holder = _hold_attachments(db)
    options = RunOptions(lock_timeout_ms=100, max_wait=60)

    def emit(event: Event) -> None:
        if isinstance(event, LockWait):
            options.cancel.set()

    with connect(db.target) as conn, pytest.raises(Cancelled, match="nothing was changed"):
        engine.apply_pending(conn, MIGRATIONS, options, emit)
    holder.close()
    assert db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (ledger.SCHEMA,)) == 0


def test_cancel_between_statements_rolls_back_what_already_ran(db: TestDatabase) -> None:
    options = RunOptions()

    def emit(event: Event) -> None:
        if isinstance(event, StatementFinished) and event.index == 3:
            options.cancel.set()

    with connect(db.target) as conn, pytest.raises(Cancelled):
        engine.apply_pending(conn, MIGRATIONS, options, emit)
    columns = "SELECT count(*) FROM information_schema.columns WHERE column_name IN ('storage_key', 'public_url')"
    assert db.scalar(columns) == 0
