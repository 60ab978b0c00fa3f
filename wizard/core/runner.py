"""Runs a migration's statements in one transaction, safely, reporting each step.

Safety rules, each for a reason:
- A *transaction-scoped* advisory lock serialises runs of the wizard: session locks
  do not survive Neon's transaction-mode pooler.
- `SET LOCAL lock_timeout` is short (tens of milliseconds): a statement that must wait for
  a busy table queues every other query on that table behind it, so it gives up quickly.
  The whole transaction is then rolled back (releasing what it held), the session that
  really holds the lock is reported (blockers.py), and the transaction is retried after a
  short, jittered pause, until the wait budget is used up. Users wait at most one lock
  timeout at a time, and the migration goes through as soon as the table is free.
- Blocking sessions are cancelled or disconnected only when the user asked for it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from wizard.core import blockers, catalog
from wizard.core.describe import describe
from wizard.core.doctor import diagnose
from wizard.core.errors import MigrationFailed
from wizard.core.events import (
    BlockerSignalled,
    Emit,
    LockHolder,
    LockWait,
    MigrationStarted,
    StatementFinished,
    StatementStarted,
    WaitingForOtherRun,
)
from wizard.core.migrations import Statement
from wizard.core.run_options import RunOptions

# pg_try_advisory_xact_lock key shared by every run of the wizard ("migwiz" in ASCII).
RUN_LOCK_KEY = 0x6D696777697A
_FIRST_RETRY, _LONGEST_RETRY = 0.05, 0.5  # seconds between tries at a busy table, before jitter
_REPORT_EVERY = 1.0  # seconds between two LockWait reports of the same wait


class _StatementError(Exception):
    def __init__(self, statement: Statement, error: psycopg.Error, began: datetime | None) -> None:
        super().__init__(str(error))
        self.statement = statement
        self.error = error
        self.began = began  # the server's time when this try's transaction began


def retry_delay(attempt: int) -> float:
    """Seconds before try `attempt + 1` at a busy table: 50 ms at first, growing to 0.5 s,
    each with +-50% jitter so two waiting runs do not retry in step."""
    base = min(_FIRST_RETRY * 2 ** ((attempt - 1) / 3), _LONGEST_RETRY)
    return base * (0.5 + random.random())


Prepare = Callable[[psycopg.Connection[Any]], Sequence[Statement] | None]
Finish = Callable[[psycopg.Connection[Any], float], None]


@dataclass(frozen=True)
class Plan:
    """What one transaction does: `prepare` runs first under the run lock and returns the
    statements to run (or None to stop: e.g. another run already applied it);
    `finish` runs last, in the same transaction (e.g. to write the ledger)."""

    version: str
    name: str
    direction: str
    schema: str
    tables: tuple[str, ...]
    prepare: Prepare
    finish: Finish
    total: int = 0  # the file's statements (some may not run here: built online, or kept); 0: those run


class _Busy(Exception):
    """Another run holds the run lock; this transaction was rolled back to wait outside it."""


def run(conn: psycopg.Connection[Any], plan: Plan, options: RunOptions, emit: Emit) -> float | None:
    """Run the plan; returns its duration in seconds, or None when prepare stopped it."""
    try:
        return _run(conn, plan, options, emit)
    except pg_errors.QueryCanceled:
        # A cancel interrupts whatever query runs at that moment (a lock look-up, say).
        options.check_cancel()
        raise


def _run(conn: psycopg.Connection[Any], plan: Plan, options: RunOptions, emit: Emit) -> float | None:
    started = time.monotonic()
    attempt = 1
    busy_since: float | None = None
    last_report: float | None = None
    waits_reported: float | None = None
    while True:
        options.check_cancel()
        try:
            return _attempt(conn, plan, options, emit, attempt)
        except _Busy:
            now = time.monotonic()
            busy_since = busy_since if busy_since is not None else now
            _other_run_waiting(conn, options, now - busy_since)
            if last_report is None or now - last_report >= 5:
                emit(WaitingForOtherRun(now - busy_since, catalog.advisory_lock_holders(conn, RUN_LOCK_KEY)))
                last_report = now
            options.pause(0.25)
        except psycopg.Error as exc:
            # The user's cancel may interrupt whatever query is running, not only a statement.
            if isinstance(exc, pg_errors.QueryCanceled) and options.cancel.is_set():
                options.check_cancel()
            raise _unexpected(plan, exc, conn) from None
        except _StatementError as failure:
            if isinstance(failure.error, pg_errors.QueryCanceled) and options.cancel.is_set():
                options.check_cancel()
            if conn.closed:
                raise _unexpected(plan, failure.error, conn) from None
            if not isinstance(failure.error, pg_errors.LockNotAvailable):
                raise _failed(plan, failure) from None
            waited = time.monotonic() - started
            relations = _relations(plan, failure.statement)
            action = options.blocker_action_due(waited)
            report = waits_reported is None or time.monotonic() - waits_reported >= _REPORT_EVERY
            holders: tuple[LockHolder, ...] = ()
            if report or action or waited >= options.max_wait:
                holders = blockers.blockers(conn, plan.schema, relations, failure.began)
            if waited >= options.max_wait:
                raise _lock_exhausted(plan, failure, waited, holders) from None
            retry_in = min(retry_delay(attempt), max(0.01, options.max_wait - waited))
            if report:
                emit(LockWait(plan.version, ", ".join(relations), waited, options.max_wait, retry_in, holders))
                waits_reported = time.monotonic()
            if action:
                for holder in holders:
                    emit(BlockerSignalled(holder.pid, action, blockers.signal(conn, holder.pid, action), holder.query))
            options.pause(retry_in)
            attempt += 1


def _attempt(conn: psycopg.Connection[Any], plan: Plan, options: RunOptions, emit: Emit, attempt: int) -> float | None:
    notices: list[str] = []

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        notices.append(f"{diag.severity or 'NOTICE'}: {diag.message_primary or ''}")

    conn.add_notice_handler(on_notice)
    try:
        with conn.transaction():
            # Waiting happens outside any transaction: one that started before the other
            # run committed would keep a stale view of the catalogs (the ledger would look
            # missing), so a busy lock rolls back and the next try starts afresh.
            row = conn.execute("SELECT pg_try_advisory_xact_lock(%s), now()", (RUN_LOCK_KEY,)).fetchone()
            if not (row and row[0]):
                raise _Busy()
            since: datetime | None = row[1]  # the server's clock: who held a lock before this try
            statements = plan.prepare(conn)
            if statements is None:
                return None
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{options.lock_timeout_ms}ms",))
            total = max(plan.total, len(statements))
            emit(MigrationStarted(plan.version, plan.name, total, attempt, plan.direction, len(statements)))
            began = options.clock()
            for statement in statements:
                options.check_cancel()
                emit(StatementStarted(plan.version, statement.index, total, statement.sql, statement.line))
                notices.clear()
                t0 = options.clock()
                try:
                    cursor = conn.execute(statement.sql)
                except psycopg.Error as exc:
                    if isinstance(exc, pg_errors.QueryCanceled) and options.cancel.is_set():
                        options.check_cancel()
                    raise _StatementError(statement, exc, since) from exc
                emit(
                    StatementFinished(
                        plan.version,
                        statement.index,
                        total,
                        statement.sql,
                        statement.line,
                        cursor.statusmessage or "",
                        options.clock() - t0,
                        tuple(notices),
                    )
                )
            duration = options.clock() - began
            plan.finish(conn, duration)
            return duration
    finally:
        conn.remove_notice_handler(on_notice)


def _other_run_waiting(conn: psycopg.Connection[Any], options: RunOptions, waited: float) -> None:
    # Another run may itself be waiting out a busy table, so this budget is larger.
    budget = options.max_wait * 2 + 30
    if waited > budget:
        raise MigrationFailed(
            f"Another run of the wizard has been working on this database for over {budget:.0f} s.",
            fix=("Wait for it to finish (see its window or CI job), then run this command again.",),
        )


def _relations(plan: Plan, statement: Statement) -> tuple[str, ...]:
    relation = describe(statement).relation
    return (relation,) if relation else plan.tables


def _failed(plan: Plan, failure: _StatementError) -> MigrationFailed:
    error = failure.error
    diag = error.diag
    primary = diag.message_primary or str(error).strip().splitlines()[0]
    detail = "\n".join(
        f"{label}: {text}" for label, text in (("DETAIL", diag.message_detail), ("HINT", diag.message_hint)) if text
    )
    found = diagnose(str(error), sqlstate=error.sqlstate)
    statement = failure.statement
    return MigrationFailed(
        f"Statement {statement.index} (line {statement.line}) failed: {primary}",
        fix=found.fix,
        detail=detail,
        version=plan.version,
        statement_index=statement.index,
        line=statement.line,
        sql=statement.sql,
        sqlstate=error.sqlstate,
        diagnosis=found,
    )


def _unexpected(plan: Plan, error: psycopg.Error, conn: psycopg.Connection[Any]) -> MigrationFailed:
    found = diagnose(str(error), sqlstate=error.sqlstate)
    primary = error.diag.message_primary or str(error).strip().splitlines()[0]
    if conn.closed:
        # The server rolls back an unfinished transaction, but if the link broke while
        # committing, only the database can tell whether the commit happened.
        return MigrationFailed(
            f"The connection was lost while working on {plan.version}: {primary}",
            fix=("Run `migration-wizard status` to see whether the migration was recorded.", *found.fix),
            version=plan.version,
            sqlstate=error.sqlstate,
            nothing_changed=False,
            diagnosis=found,
        )
    return MigrationFailed(
        f"Could not prepare {plan.version}: {primary}",
        fix=found.fix,
        version=plan.version,
        sqlstate=error.sqlstate,
        diagnosis=found,
    )


def _lock_exhausted(plan: Plan, failure: _StatementError, waited: float, holders: tuple[Any, ...]) -> MigrationFailed:
    who = "; ".join(h.describe() for h in holders) or "a session that has since finished"
    statement = failure.statement
    found = diagnose("lock timeout", sqlstate="55P03")
    return MigrationFailed(
        f"Gave up after waiting {waited:.0f} s for a lock on {', '.join(_relations(plan, statement))}, held by {who}.",
        fix=found.fix,
        diagnosis=found,
        version=plan.version,
        statement_index=statement.index,
        line=statement.line,
        sql=statement.sql,
        sqlstate="55P03",
    )
