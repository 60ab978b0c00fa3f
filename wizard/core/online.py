"""Indexes on big existing tables, built online: CREATE INDEX CONCURRENTLY, after the rest of
the migration has committed.

A plain CREATE INDEX holds a SHARE lock for the whole build (writes wait), and inside the
migration's transaction the ALTERs' ACCESS EXCLUSIVE lock too (reads wait as well): on a
million rows that is seconds of stalled users. Built CONCURRENTLY, reads and writes go on.
The price: it cannot run in a transaction, and an interrupted build leaves an INVALID index
that `IF NOT EXISTS` would skip. So the ledger records the phase ('transactional' until
every online build is done), a rerun builds only what is left, and an invalid index of the
migration's is dropped and built again; verify fails while one exists.

Small tables keep the single all-or-nothing transaction: there the build takes milliseconds.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql as pgsql

from wizard.core import blockers, ledger
from wizard.core.doctor import diagnose
from wizard.core.errors import Cancelled, MigrationFailed, WizardError
from wizard.core.events import (
    BlockerSignalled,
    Emit,
    IndexBuildFinished,
    IndexBuildProgress,
    IndexBuildStarted,
    LockHolder,
    WaitingForOtherRun,
)
from wizard.core.migrations import Migration, Statement
from wizard.core.runner import RUN_LOCK_KEY

if TYPE_CHECKING:
    from wizard.core.run_options import RunOptions

Conn = psycopg.Connection[Any]

_SAMPLE_EVERY = 0.5  # seconds between two reads of pg_stat_progress_create_index
_REPORT_EVERY = 2.0  # seconds between two progress events when nothing else changed
ROWS_PER_SECOND = 200_000  # a rough build rate, for the plan's "about N s"
_COUNT_LOCK_TIMEOUT = "200ms"  # counting reads the table: never queue behind a lock for it
COUNT_UP_TO = 1_000_000  # a table never analysed is counted up to this many rows, to show its size
RERUN_FIX = (
    "Run `migration-wizard migrate` again: the rest of the migration is committed, and it builds"
    " only the indexes that are left (a half-built, invalid index is dropped and built again)."
)


@dataclass(frozen=True)
class TableSize:
    rows: int  # estimated: the planner's statistics, or the live-row count when never analysed
    bytes: int  # 0 when not measured


def table_rows(conn: Conn, schema: str, tables: Sequence[str], count_up_to: int = 0) -> dict[str, int]:
    """Estimated rows of each table that exists, without locking it: pg_class.reltuples, or the
    statistics' live-row count, whichever is larger. A table never analysed (reltuples -1: just
    loaded or restored) is counted instead, up to `count_up_to` rows (0: not counted), unless it
    is locked (then the estimate stands)."""
    found = conn.execute(
        """
        SELECT c.relname, greatest(c.reltuples, coalesce(s.n_live_tup, 0), 0)::bigint, c.reltuples < 0
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
        WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.relkind IN ('r', 'p', 'm')
        """,
        (schema, list(tables)),
    ).fetchall()
    rows = {str(r[0]): int(r[1]) for r in found}
    for table in (str(r[0]) for r in found if r[2] and count_up_to > 0):
        try:
            with conn.transaction():
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (_COUNT_LOCK_TIMEOUT,))
                query = pgsql.SQL("SELECT count(*) FROM (SELECT FROM {} LIMIT %s) s").format(
                    pgsql.Identifier(schema, table)
                )
                counted = conn.execute(query, (count_up_to,)).fetchone()
            rows[table] = max(rows[table], int(counted[0]) if counted else 0)
        except psycopg.errors.LockNotAvailable:
            continue
    return rows


def estimated_seconds(rows: int) -> int:
    return max(1, round(rows / ROWS_PER_SECOND))


def candidates(statements: Sequence[Statement]) -> list[Statement]:
    """Index builds that could run online: named, on a table the migration does not create,
    and not used by name by a later statement (that one needs the index inside the transaction)."""
    created = {s.node.relation.relname for s in statements if s.kind == "CreateStmt"}
    found: list[Statement] = []
    for position, statement in enumerate(statements):
        node = statement.node
        if statement.kind != "IndexStmt" or not node.idxname or node.relation.relname in created:
            continue
        later = statements[position + 1 :]
        if any(node.idxname in other.sql for other in later):
            continue
        found.append(statement)
    return found


def split(
    conn: Conn, schema: str, statements: Sequence[Statement], min_rows: int | None
) -> tuple[tuple[Statement, ...], tuple[Statement, ...], dict[str, int]]:
    """(what runs in the transaction, what is built online afterwards, the tables' rows). A file's
    own CREATE INDEX CONCURRENTLY always goes online (it cannot run in a transaction)."""
    possible = candidates(statements)
    tables = sorted({s.node.relation.relname for s in possible})
    rows = table_rows(conn, schema, tables, count_up_to=min_rows or 0) if possible else {}
    online = tuple(
        s
        for s in possible
        if s.node.concurrent or (min_rows is not None and rows.get(s.node.relation.relname, 0) >= min_rows)
    )
    chosen = {s.index for s in online}
    return tuple(s for s in statements if s.index not in chosen), online, rows


def concurrent_sql(statement: Statement) -> str:
    """The statement as CREATE INDEX CONCURRENTLY (pglast prints it from the parse tree)."""
    from pglast.stream import RawStream

    node = copy.deepcopy(statement.node)
    node.concurrent = True
    return str(RawStream()(node))


def build(
    conn: Conn,
    migration: Migration,
    statements: Sequence[Statement],
    options: RunOptions,
    emit: Emit,
    rows: dict[str, int] | None = None,
) -> float | None:
    """Build the online indexes that are left, then record the migration as complete; `rows`:
    the tables' sizes as split() read them. Returns the seconds it took, or None when another
    run finished (or rolled back) it first."""
    started = time.monotonic()
    schema = migration.expectations.schema
    if rows is None:  # a rerun that resumes: the estimates, without counting anything
        rows = table_rows(conn, schema, sorted({s.node.relation.relname for s in statements}))
    try:
        return _build_all(conn, migration, statements, rows, options, emit, started)
    except Cancelled:
        raise Cancelled(
            f"Cancelled by the user during the online index builds of {migration.label}. {RERUN_FIX}", fix=(RERUN_FIX,)
        ) from None


def _build_all(
    conn: Conn,
    migration: Migration,
    statements: Sequence[Statement],
    rows: dict[str, int],
    options: RunOptions,
    emit: Emit,
    started: float,
) -> float | None:
    with _run_lock(conn, options, emit):
        row = ledger.read(conn).get(migration.version)
        if row is None or row.complete:
            return None
        with _monitor(options) as monitor:
            for statement in statements:
                _build_one(conn, monitor, migration, statement, rows, options, emit)
        duration = time.monotonic() - started
        ledger.record_complete(conn, migration.version, round(duration * 1000))
    return duration


@contextmanager
def _run_lock(conn: Conn, options: RunOptions, emit: Emit) -> Iterator[None]:
    """Hold the wizard's run lock (the runner's key, session-level: the builds run outside any
    transaction) while building; not through a transaction pooler, where a session lock would
    stay on a server connection that other clients get."""
    if options.pooled:
        yield
        return
    waited_since = time.monotonic()
    reported: float | None = None
    while not _try_lock(conn):
        waited = time.monotonic() - waited_since
        if waited > options.max_wait * 2 + 30:
            raise MigrationFailed(
                f"Another run of the wizard has been working on this database for over {waited:.0f} s.",
                fix=("Wait for it to finish (see its window or CI job), then run this command again.",),
                nothing_changed=False,
            )
        if reported is None or waited - reported >= 5:
            emit(WaitingForOtherRun(waited, ()))
            reported = waited
        options.pause(0.25)
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s)", (RUN_LOCK_KEY,))


def _try_lock(conn: Conn) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (RUN_LOCK_KEY,)).fetchone()
    return bool(row and row[0])


@contextmanager
def _monitor(options: RunOptions) -> Iterator[Conn | None]:
    """A second connection to watch the builds through; None when there is none (the builds
    then run unwatched: no progress, no blocker names)."""
    conn: Conn | None = None
    if options.monitor is not None:
        try:
            conn = options.monitor()
        except (psycopg.Error, WizardError):
            conn = None
    try:
        yield conn
    finally:
        if conn is not None:
            conn.close()


def index_state(conn: Conn, schema: str, name: str) -> str | None:
    """'valid', 'invalid' (an interrupted CONCURRENTLY build) or None (no such index)."""
    row = conn.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
        (schema, name),
    ).fetchone()
    return None if row is None else ("valid" if row[0] else "invalid")


def _build_one(
    conn: Conn,
    monitor: Conn | None,
    migration: Migration,
    statement: Statement,
    rows: dict[str, int],
    options: RunOptions,
    emit: Emit,
) -> None:
    options.check_cancel()
    node = statement.node
    name, table = str(node.idxname), str(node.relation.relname)
    schema = node.relation.schemaname or migration.expectations.schema
    state = index_state(conn, schema, name)
    if state == "valid":
        emit(IndexBuildFinished(migration.version, name, 0.0, skipped="a valid index of that name already exists"))
        return
    sql = concurrent_sql(statement)
    emit(IndexBuildStarted(migration.version, name, table, sql, rows.get(table, 0), repairs=state == "invalid"))
    began = time.monotonic()
    try:
        if state == "invalid":
            drop = pgsql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(pgsql.Identifier(schema, name))
            _watched(conn, monitor, drop.as_string(conn), migration.version, name, options, emit)
        # Waiting here does not block other sessions' reads or writes, so the build may wait as
        # long as the migration's budget; the wait is reported with who it waits for.
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{round(options.max_wait * 1000)}ms",))
        try:
            _watched(conn, monitor, sql, migration.version, name, options, emit)
        finally:
            if not conn.closed:
                conn.execute("RESET lock_timeout")
    except psycopg.Error as error:
        raise _build_failed(migration, statement, name, error) from None
    emit(IndexBuildFinished(migration.version, name, time.monotonic() - began))


def _watched(
    conn: Conn, monitor: Conn | None, sql: str, version: str, name: str, options: RunOptions, emit: Emit
) -> None:
    """Run `sql` in a worker thread; meanwhile report its progress, act on blockers the user
    asked to stop, and cancel it on the user's cancel or a signal (KeyboardInterrupt)."""
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            conn.execute(sql)
        except BaseException as error:  # handed to the waiting thread
            outcome.append(error)
        else:
            outcome.append(None)

    worker = threading.Thread(target=work, name=f"build {name}", daemon=True)
    pid = conn.info.backend_pid
    watch = _Watch(version, name, time.monotonic())
    worker.start()
    try:
        while worker.is_alive():
            worker.join(_SAMPLE_EVERY)
            if not worker.is_alive():
                break
            if options.cancel.is_set():
                conn.cancel_safe()
                worker.join()
                options.check_cancel()
            if monitor is not None:
                watch.sample(monitor, pid, options, emit)
    except BaseException:
        if worker.is_alive():
            conn.cancel_safe()
            worker.join(10)
        raise
    error = outcome[0] if outcome else None
    if isinstance(error, pg_errors.QueryCanceled) and options.cancel.is_set():
        options.check_cancel()
    if error is not None:
        raise error


class _Watch:
    """Samples pg_stat_progress_create_index for one build and emits what changed."""

    def __init__(self, version: str, name: str, began: float) -> None:
        self.version, self.name, self.began = version, name, began
        self.last: IndexBuildProgress | None = None
        self.last_at = 0.0
        self.waiting_since: float | None = None

    def sample(self, monitor: Conn, pid: int, options: RunOptions, emit: Emit) -> None:
        try:
            row = monitor.execute(
                "SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total, pg_blocking_pids(pid)"
                " FROM pg_stat_progress_create_index WHERE pid = %s",
                (pid,),
            ).fetchone()
            if row is None:
                return
            phase = str(row[0])
            done, total = (int(row[1]), int(row[2])) if row[2] else (int(row[3]), int(row[4]))
            holders: tuple[LockHolder, ...] = ()
            now = time.monotonic()
            if phase.startswith("waiting") and row[5]:
                holders = blockers.sessions(monitor, list(row[5]))
                self.waiting_since = self.waiting_since or now
                action = options.blocker_action_due(now - self.waiting_since)
                for holder in holders if action else ():
                    emit(BlockerSignalled(holder.pid, action or "", blockers.signal(monitor, holder.pid, action or ""),
                                          holder.query))  # fmt: skip
            else:
                self.waiting_since = None
        except psycopg.Error:
            return  # watching is a courtesy: the build goes on without it
        progress = IndexBuildProgress(self.version, self.name, phase, done, total, now - self.began, holders)
        if self._worth_reporting(progress, now):
            emit(progress)
            self.last, self.last_at = progress, now

    def _worth_reporting(self, progress: IndexBuildProgress, now: float) -> bool:
        last = self.last
        if last is None or last.phase != progress.phase or now - self.last_at >= _REPORT_EVERY:
            return True
        before, after = last.fraction, progress.fraction
        pids = {h.pid for h in progress.waiting_for} != {h.pid for h in last.waiting_for}
        return pids or (before is not None and after is not None and after - before >= 0.05)


def _build_failed(migration: Migration, statement: Statement, name: str, error: psycopg.Error) -> MigrationFailed:
    found = diagnose(str(error), sqlstate=error.sqlstate)
    primary = error.diag.message_primary or str(error).strip().splitlines()[0]
    return MigrationFailed(
        f"Building index {name} online failed: {primary}",
        fix=(*found.fix, RERUN_FIX),
        version=migration.version,
        statement_index=statement.index,
        line=statement.line,
        sql=statement.sql,
        sqlstate=error.sqlstate,
        nothing_changed=False,
        diagnosis=found,
    )


def left_to_build(conn: Conn, schema: str, statements: Sequence[Statement]) -> list[Statement]:
    """The index builds an earlier run left undone: the candidates without a valid index."""
    return [
        s
        for s in candidates(statements)
        if index_state(conn, s.node.relation.schemaname or schema, str(s.node.idxname)) != "valid"
    ]
