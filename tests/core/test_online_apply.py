"""Online apply against a real embedded PostgreSQL: index builds CONCURRENTLY after the
transactional part commits, an interrupted build repaired by a rerun, blockers named and
stopped only on request, and short lock timeouts with quick retries."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cli_runner import run
from tests.conftest import TestDatabase
from wizard.core import engine, ledger, online, verify
from wizard.core.connection import connect
from wizard.core.errors import Cancelled, MigrationFailed
from wizard.core.events import (
    BlockerSignalled,
    Event,
    IndexBuildFinished,
    IndexBuildProgress,
    IndexBuildStarted,
    LockWait,
    MigrationApplied,
    StatementFinished,
    TransactionalPartCommitted,
)
from wizard.core.migrations import load_migrations
from wizard.core.runner import RunOptions, retry_delay
from wizard.core.verify_report import FAIL

MIGRATIONS = load_migrations()
ON_ATTACHMENTS = ("idx_attachments_storage_key", "idx_attachments_conversation_id")
VALID = "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s AND i.indisvalid"
INVALID = (
    "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s AND NOT i.indisvalid"
)


def _options(db: TestDatabase, **fields: Any) -> RunOptions:
    options = RunOptions(online_rows=0, **fields)
    options.monitor = lambda: connect(db.target)
    return options


def _apply(db: TestDatabase, options: RunOptions) -> tuple[list[str], list[Event]]:
    events: list[Event] = []
    with connect(db.target) as conn:
        applied = engine.apply_pending(conn, MIGRATIONS, options, events.append)
    return applied, events


def _phase(db: TestDatabase) -> str | None:
    with connect(db.target) as conn:
        row = ledger.read(conn).get("002")
    return None if row is None else row.phase


def test_the_split_keeps_new_tables_and_small_tables_in_the_transaction(db: TestDatabase) -> None:
    statements = MIGRATIONS[1].statements
    with connect(db.target) as conn:
        now, later, rows = online.split(conn, "public", statements, 0)
        assert [s.node.idxname for s in later] == list(ON_ATTACHMENTS)  # image_analyses is new: built inside
        assert len(now) + len(later) == len(statements) and "attachments" in rows
        assert online.split(conn, "public", statements, 10**9)[1] == ()  # below the threshold
        assert online.split(conn, "public", statements, None)[1] == ()  # --no-online
    sql = online.concurrent_sql(later[0])
    assert sql.startswith("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_attachments_storage_key")


def test_a_later_statement_that_uses_the_index_keeps_it_in_the_transaction(migrations_copy: Any) -> None:
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_text(path.read_text() + "\nCOMMENT ON INDEX idx_attachments_storage_key IS 'by key';\n")
    statements = load_migrations(migrations_copy)[1].statements
    assert [s.node.idxname for s in online.candidates(statements)] == ["idx_attachments_conversation_id"]


def test_indexes_on_existing_tables_are_built_online_after_the_commit(db: TestDatabase) -> None:
    applied, events = _apply(db, _options(db))
    assert applied == ["002"]
    kinds = [type(e) for e in events]
    committed = next(e for e in events if isinstance(e, TransactionalPartCommitted))
    assert committed.online == ON_ATTACHMENTS
    assert kinds.index(TransactionalPartCommitted) < kinds.index(IndexBuildStarted) < kinds.index(MigrationApplied)
    ran = [e.sql for e in events if isinstance(e, StatementFinished)]
    assert not any("idx_attachments" in sql for sql in ran)  # not inside the transaction
    started = [e for e in events if isinstance(e, IndexBuildStarted)]
    assert [e.index for e in started] == list(ON_ATTACHMENTS) and "CONCURRENTLY" in started[0].sql
    assert [e.index for e in events if isinstance(e, IndexBuildFinished) and not e.skipped] == list(ON_ATTACHMENTS)
    for name in ON_ATTACHMENTS:
        assert db.scalar(VALID, (name,)) == 1
    assert _phase(db) == ledger.COMPLETE
    with connect(db.target) as conn:
        assert {s.migration.version: s.state for s in engine.status(conn, MIGRATIONS)}["002"] == engine.APPLIED
        assert verify.run_verify(conn, MIGRATIONS).ok


def _old_snapshot(db: TestDatabase) -> psycopg.Connection[Any]:
    """A session whose open transaction holds a snapshot: CREATE INDEX CONCURRENTLY waits for it."""
    holder = psycopg.connect(db.url, application_name="old-report")
    holder.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # keeps its snapshot between statements
    holder.execute("SELECT count(*) FROM users").fetchone()
    return holder


def test_an_interrupted_build_leaves_an_invalid_index_that_verify_fails_and_a_rerun_repairs(db: TestDatabase) -> None:
    holder = _old_snapshot(db)
    options = _options(db)
    seen: list[Event] = []

    def emit(event: Event) -> None:
        seen.append(event)
        if isinstance(event, IndexBuildProgress) and event.waiting_for:
            options.cancel.set()  # the user cancels while the build waits for the old transaction

    try:
        with connect(db.target) as conn, pytest.raises(Cancelled) as cancelled:
            engine.apply_pending(conn, MIGRATIONS, options, emit)
    finally:
        holder.close()
    assert "online index builds" in cancelled.value.message and "migrate" in cancelled.value.message
    waiting = next(e for e in seen if isinstance(e, IndexBuildProgress) and e.waiting_for)
    assert waiting.waiting_for[0].application == "old-report" and waiting.phase.startswith("waiting")
    assert db.scalar(INVALID, (ON_ATTACHMENTS[0],)) == 1  # what an interrupted CONCURRENTLY build leaves
    assert _phase(db) == ledger.TRANSACTIONAL
    with connect(db.target) as conn:
        assert {s.migration.version: s.state for s in engine.status(conn, MIGRATIONS)}["002"] == engine.PARTIAL
        report = verify.run_verify(conn, MIGRATIONS)
    assert not report.ok
    failed = {c.id: c.detail for c in report.checks if c.status == FAIL}
    assert "INVALID" in failed["indexes"] and ON_ATTACHMENTS[0] in failed["invalid_indexes"]
    assert "partly applied" in failed["ledger"] and "Run migrate" in failed["ledger"]

    applied, events = _apply(db, _options(db))  # the rerun finishes exactly what is left
    assert applied == ["002"]
    assert not any(isinstance(e, StatementFinished) for e in events)  # the transactional part is not run again
    started = [e for e in events if isinstance(e, IndexBuildStarted)]
    assert started[0].index == ON_ATTACHMENTS[0] and started[0].repairs
    for name in ON_ATTACHMENTS:
        assert db.scalar(VALID, (name,)) == 1 and db.scalar(INVALID, (name,)) == 0
    assert _phase(db) == ledger.COMPLETE
    with connect(db.target) as conn:
        assert verify.run_verify(conn, MIGRATIONS).ok


def test_a_build_that_waits_past_the_budget_fails_as_committed_and_the_cli_exits_4(db: TestDatabase) -> None:
    holder = _old_snapshot(db)
    try:
        result = run("--database-url", db.url, "migrate", "--yes", "--skip-backup", "--json",
                     "--online-rows", "0", "--max-wait", "1")  # fmt: skip
        # A rerun while the old transaction is still open: the transactional part is not run
        # again, the build fails the same way, and the error does not claim nothing changed.
        with connect(db.target) as conn, pytest.raises(MigrationFailed) as failure:
            engine.apply_pending(conn, MIGRATIONS, _options(db, max_wait=1.0), lambda e: None)
    finally:
        holder.close()
    assert result.code == 4, result.text
    final = result.result["error"]
    assert final["committed"] == "applied 002_phase2_vision_api except its online index builds"
    assert final["step"] == "the online index builds" and "nothing was changed" not in result.text.lower()
    assert final["message"].startswith("Applied 002_phase2_vision_api except its online index builds (committed)")
    error = failure.value
    assert not error.nothing_changed and error.sqlstate == "55P03"
    assert error.message.startswith(f"Building index {ON_ATTACHMENTS[0]} online failed")
    assert any("migrate` again" in step for step in error.fix)
    assert _phase(db) == ledger.TRANSACTIONAL
    rerun = run("--database-url", db.url, "migrate", "--yes", "--skip-backup", "--json")  # finishes what is left
    assert rerun.code == 0, rerun.text
    assert _phase(db) == ledger.COMPLETE
    report = Path(rerun.result["report"]).read_text()
    assert "dropped the invalid index an interrupted build left; building index idx_attachments_storage_key" in report
    assert "built index idx_attachments_conversation_id online" in report
    first_report = Path(result.result["report"]).read_text()
    assert "Committed 002_phase2_vision_api in " in first_report
    assert "except its index builds on big tables; recorded in the ledger as not finished" in first_report


def test_a_blocker_is_named_and_the_migration_waits_without_touching_it(db: TestDatabase) -> None:
    holder = psycopg.connect(db.url, application_name="busy-app")
    holder.execute("SELECT count(*) FROM attachments").fetchone()
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, LockWait) and event.waited > 0.3:
            holder.rollback()

    with connect(db.target) as conn:
        applied = engine.apply_pending(conn, MIGRATIONS, RunOptions(lock_timeout_ms=20, max_wait=30), emit)
    holder.close()
    assert applied == ["002"]
    waits = [e for e in events if isinstance(e, LockWait)]
    assert waits[0].holders[0].application == "busy-app" and waits[0].retry_in < 0.2
    assert not any(isinstance(e, BlockerSignalled) for e in events)


def _blocking_report_query(db: TestDatabase, started: threading.Event, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        with psycopg.connect(db.url, application_name="report", autocommit=True) as conn:
            started.set()
            try:
                conn.execute("SELECT pg_sleep(60) FROM attachments LIMIT 1").fetchall()
            except psycopg.Error as error:
                errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_the_blocking_query_is_cancelled_only_when_asked_and_then_the_migration_applies(db: TestDatabase) -> None:
    started, errors = threading.Event(), []  # type: ignore[var-annotated]
    thread = _blocking_report_query(db, started, errors)
    assert started.wait(10)
    time.sleep(0.3)
    options = RunOptions(lock_timeout_ms=20, max_wait=30, blocker_action="cancel", blocker_grace=0.5)
    t0, events = time.monotonic(), []  # type: ignore[var-annotated]
    with connect(db.target) as conn:
        applied = engine.apply_pending(conn, MIGRATIONS, options, events.append)
    thread.join(10)
    assert applied == ["002"] and time.monotonic() - t0 < 20
    signalled = [e for e in events if isinstance(e, BlockerSignalled)]
    assert signalled and signalled[0].action == "cancel" and signalled[0].done and "pg_sleep" in signalled[0].query
    assert errors and isinstance(errors[0], psycopg.errors.QueryCanceled)
    first_wait = next(e for e in events if isinstance(e, LockWait))
    assert first_wait.holders and first_wait.holders[0].application == "report"


def test_a_button_press_disconnects_an_idle_blocker_at_the_next_try(db: TestDatabase) -> None:
    holder = psycopg.connect(db.url, application_name="forgotten")
    holder.execute("SELECT count(*) FROM attachments").fetchone()
    options = RunOptions(lock_timeout_ms=20, max_wait=30)
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, LockWait):
            options.act_on_blockers_now("terminate")

    with connect(db.target) as conn:
        assert engine.apply_pending(conn, MIGRATIONS, options, emit) == ["002"]
    signalled = [e for e in events if isinstance(e, BlockerSignalled)]
    assert len(signalled) == 1 and signalled[0].action == "terminate" and signalled[0].done
    assert holder.closed or holder.broken or _is_gone(holder)


def _is_gone(conn: psycopg.Connection[Any]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_lock_waits_give_up_after_the_budget_and_name_the_holder(db: TestDatabase) -> None:
    holder = psycopg.connect(db.url, application_name="long-tx")
    holder.execute("SELECT count(*) FROM attachments").fetchone()
    try:
        with connect(db.target) as conn, pytest.raises(MigrationFailed) as failure:
            engine.apply_pending(conn, MIGRATIONS, RunOptions(lock_timeout_ms=20, max_wait=1.0), lambda e: None)
    finally:
        holder.close()
    assert failure.value.nothing_changed and "long-tx" in failure.value.message


def test_retries_are_quick_jittered_and_bounded() -> None:
    first = [retry_delay(1) for _ in range(200)]
    assert min(first) >= 0.025 and max(first) <= 0.075 and len({round(d, 4) for d in first}) > 50
    late = [retry_delay(40) for _ in range(200)]
    assert min(late) >= 0.25 and max(late) <= 0.75


def test_a_partly_applied_migration_rolls_back_with_its_invalid_index(db: TestDatabase) -> None:
    from wizard.core import rollback

    holder = _old_snapshot(db)
    try:
        with connect(db.target) as conn, pytest.raises(MigrationFailed):
            engine.apply_pending(conn, MIGRATIONS, _options(db, max_wait=0.5), lambda e: None)
    finally:
        holder.close()
    assert _phase(db) == ledger.TRANSACTIONAL and db.scalar(INVALID, (ON_ATTACHMENTS[0],)) == 1
    with connect(db.target) as conn:
        latest = rollback.latest_applied(conn, MIGRATIONS)
        assert latest is not None and latest.version == "002"
        assert rollback.rollback(conn, latest, RunOptions(), lambda e: None)
        assert {s.migration.version: s.state for s in engine.status(conn, MIGRATIONS)}["002"] == engine.PENDING
    assert db.scalar("SELECT count(*) FROM pg_class WHERE relname = %s", (ON_ATTACHMENTS[0],)) == 0
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None
