"""The five operations a person asks for: migrate, rollback, backup, restore and rehearse.

One function each, shared by the headless commands and the screens: it takes its options,
reports typed events as it works (events.py), returns a result, and writes its own session
report (whatever happens; a ReportWritten event says where). What the CLI and the screens
add is only theirs: choosing the options, asking for confirmation (after the read-only
`*_preview` of each operation), and rendering the events (event_lines.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from wizard.core import engine, verify
from wizard.core import restore as restoring
from wizard.core.backup import BackupResult, run_backup
from wizard.core.connection import Target, connect
from wizard.core.errors import FailedAfterCommit, ReportNotWritten, WizardError
from wizard.core.events import (
    BackupVerified,
    Emit,
    Event,
    MigrationApplied,
    MigrationRolledBack,
    ReportWritten,
    RestoreStarted,
    SettingLeftOut,
    TableRestored,
    TransactionalPartCommitted,
    VerifyFinished,
    fanout,
)
from wizard.core.migrations import Migration
from wizard.core.report import SessionReport, recording
from wizard.core.restore import RestorePlan, RestoreResult
from wizard.core.run_options import RunOptions
from wizard.core.verify_report import FAIL, WARN, VerifyReport

if TYPE_CHECKING:  # imported where used: each operation loads only what it needs
    from wizard.core.rehearse import Rehearsal
    from wizard.core.rollback import RollbackImpact


@dataclass(frozen=True)
class Context:
    """Where an operation works: the open connection, its target and the migrations."""

    conn: psycopg.Connection[Any]
    target: Target
    server_version: str
    migrations: list[Migration]


@dataclass(frozen=True)
class BackupChoice:
    """Take a verified backup first (`take`), or say in the report why there is none or which
    one stands for it (`note`: the user's own backup, one taken earlier in the session)."""

    take: bool = True
    fmt: str = "custom"
    table: str | None = None
    output: Path | None = None
    prefer_bundled: bool = False
    note: str = ""


@dataclass(frozen=True)
class MigrateResult:
    applied: list[str]  # versions applied now
    verify: VerifyReport | None
    backup: str  # the backup's path, or why there is none
    report: Path | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.verify is None or self.verify.ok


@dataclass(frozen=True)
class RollbackResult:
    migration: str  # its label
    verify: VerifyReport | None
    report: Path | None


@dataclass(frozen=True)
class RestoreOutcome:
    result: RestoreResult
    verify: VerifyReport | None
    verify_error: BaseException | None  # verify could not run (the restore itself succeeded)
    report: Path | None

    @property
    def ok(self) -> bool:
        return not self.result.mismatched


@contextmanager
def _reported(ctx: Context, action: str, backup: str, emit: Emit) -> Iterator[SessionReport]:
    """The session report of an operation, written whatever happens; then ReportWritten."""
    started: list[SessionReport] = []  # empty when recording could not even start
    try:
        with recording(ctx.conn, ctx.target, ctx.server_version, ctx.migrations, action, backup) as record:
            started.append(record)
            yield record
    finally:
        if started and started[0].path is not None:
            emit(ReportWritten(str(started[0].path)))


class _Committed:
    """What an operation has committed so far, and the step it is on: a failure after a commit
    must not read as "nothing changed" (FailedAfterCommit, exit status 4)."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.step = ""

    def add(self, what: str) -> None:
        self.done.append(what)

    def failure(self, error: BaseException) -> FailedAfterCommit:
        step = "writing the session report" if isinstance(error, ReportNotWritten) else self.step
        if isinstance(error, WizardError):
            message, fix, detail = error.message, error.fix, error.detail
        else:
            lines = str(error).strip().splitlines() or [type(error).__name__]
            message, fix, detail = lines[0], (), "\n".join(lines[1:])
        committed = "; ".join(self.done)
        keep = (
            f"What was committed stays in place ({committed}): run `migration-wizard verify` to check the"
            " database as it is now, and `status` to see what the ledger records.",
        )
        return FailedAfterCommit(
            f"{committed[:1].upper()}{committed[1:]} (committed), but {step} failed: {message.rstrip('.')}.",
            committed=committed,
            step=step,
            fix=(*fix, *keep),
            detail=detail,
        )


@contextmanager
def _after_commit(committed: _Committed) -> Iterator[None]:
    try:
        yield
    except (WizardError, psycopg.Error, OSError) as error:
        if committed.done:
            raise committed.failure(error) from error
        raise


def _verified(ctx: Context, emit: Emit) -> VerifyReport:
    report = verify.run_verify(ctx.conn, ctx.migrations)
    checks = report.checks
    failed, warned = sum(c.status == FAIL for c in checks), sum(c.status == WARN for c in checks)
    emit(VerifyFinished(report.ok, len(checks), failed, warned))
    return report


# Migrate ------------------------------------------------------------------------------------


def pending(ctx: Context) -> list[Migration]:
    """What `migrate` would apply (read only); refuses a changed file or the wrong database."""
    states = engine.status(ctx.conn, ctx.migrations)
    engine.refuse_if_modified(states)
    todo = engine.pending(states)
    if todo:
        engine.refuse_unless_precondition(ctx.conn, todo[0])
    return todo


def online_builds(ctx: Context, todo: list[Migration], options: RunOptions) -> list[str]:
    """The indexes `migrate` would build online after the commit (read only; table sizes now)."""
    from wizard.core import online  # with pglast: only when there is something to apply

    return [
        str(s.node.idxname)
        for m in todo
        for s in online.split(ctx.conn, m.expectations.schema, m.statements, options.online_rows)[1]
    ]


def migrate(ctx: Context, options: RunOptions, backup: BackupChoice, emit: Emit) -> MigrateResult:
    """Back up (as chosen), apply what is pending (one transaction each), verify, report."""
    started = time.monotonic()
    note = backup.note
    if backup.take:
        note = str(take_backup(ctx, backup, emit, options.cancel).path)
    committed = _Committed()
    _watch_builds_through(ctx, options)

    def track(event: Event) -> None:
        if isinstance(event, TransactionalPartCommitted):
            committed.add(f"applied {event.version}_{event.name} except its online index builds")
            committed.step = "the online index builds"
        if isinstance(event, MigrationApplied):
            label = f"applied {event.version}_{event.name}"
            if committed.done and committed.done[-1].startswith(f"{label} except"):
                committed.done.pop()  # its online builds are done too now
            committed.add(label)
            committed.step = "the next migration"

    committed.step = "the migration"
    with _after_commit(committed), _reported(ctx, "migrate", note, emit) as record:
        both = fanout(record.record, emit, track)
        applied = engine.apply_pending(ctx.conn, ctx.migrations, options, both)
        record.outcome = f"applied {', '.join(applied)}" if applied else "nothing was pending"
        committed.step = "verification"
        record.verify = _verified(ctx, emit)
    return MigrateResult(applied, record.verify, note, record.path, time.monotonic() - started)


def _watch_builds_through(ctx: Context, options: RunOptions) -> None:
    """Online index builds are watched through a second connection to the same target; through
    a transaction pooler they run without the session-level run lock."""
    if options.monitor is None:
        options.monitor = lambda: connect(ctx.target, timeout=10)
    options.pooled = options.pooled or ctx.target.is_pooler


# Rollback -----------------------------------------------------------------------------------


def rollback_preview(ctx: Context) -> RollbackImpact | None:
    """What rolling back the latest migration would remove (read only); None: nothing applied."""
    from wizard.core import rollback as rolling_back

    migration = rolling_back.latest_applied(ctx.conn, ctx.migrations)
    return None if migration is None else rolling_back.impact(ctx.conn, migration)


def rollback(
    ctx: Context, impact: RollbackImpact, options: RunOptions, emit: Emit, *, backup: str = ""
) -> RollbackResult:
    """Undo `impact.migration` in one transaction, keeping what existed before it; verify; report."""
    from wizard.core import rollback as rolling_back

    note = backup or ("practice database: none needed" if ctx.target.practice else "not taken for a rollback")
    committed = _Committed()

    def track(event: Event) -> None:
        if isinstance(event, MigrationRolledBack):
            committed.add(f"rolled back {event.version}_{event.name}")

    with _after_commit(committed), _reported(ctx, "rollback", note, emit) as record:
        rolling_back.rollback(ctx.conn, impact.migration, options, fanout(record.record, emit, track))
        record.outcome = f"rolled back {impact.migration.label}"
        committed.step = "verification"
        record.verify = _verified(ctx, emit)
    return RollbackResult(impact.migration.label, record.verify, record.path)


# Backup -------------------------------------------------------------------------------------


def take_backup(ctx: Context, choice: BackupChoice, emit: Emit, cancel: threading.Event | None = None) -> BackupResult:
    """A verified pg_dump (no report of its own: the operation it belongs to writes one)."""
    result = run_backup(
        ctx.conn,
        ctx.target,
        emit,
        fmt=choice.fmt,
        table=choice.table,
        output=choice.output,
        cancel=cancel,
        prefer_bundled=choice.prefer_bundled,
    )
    emit(BackupVerified(str(result.path), result.bytes, len(result.tables), result.database_bytes))
    return result


def backup(ctx: Context, choice: BackupChoice, emit: Emit, cancel: threading.Event | None = None) -> BackupResult:
    """`backup` on its own: a verified pg_dump, and a report saying which file and which tool."""
    with _reported(ctx, "backup", "this operation's own", emit) as record:
        both = fanout(record.record, emit)
        result = take_backup(ctx, choice, both, cancel)
        record.backup = str(result.path)
        record.outcome = f"backed up {len(result.tables)} tables to {result.path} with {result.tool.name}"
        record.outcome += f" {result.tool.version} ({result.reason})"
    return replace(result, report=record.path)


# Restore ------------------------------------------------------------------------------------


def restore_preview(ctx: Context, path: Path) -> RestorePlan:
    """What restoring `path` would remove first and how the file is read (read only)."""
    return restoring.plan(ctx.conn, restoring.read_backup(path), ctx.migrations)


def restore(ctx: Context, plan: RestorePlan, emit: Emit, cancel: threading.Event | None = None) -> RestoreOutcome:
    """Put the database back to exactly the backup, in one transaction; then verify, for information."""
    path = str(plan.backup.path)
    committed = _Committed()
    with _after_commit(committed), _reported(ctx, "restore", path, emit) as record:
        both = fanout(record.record, emit)
        both(RestoreStarted(path, len(plan.backup.tables), len(plan.drops), plan.how))
        result = restoring.run_restore(ctx.conn, plan, cancel)
        committed.add(f"restored the database from {path}")
        committed.step = "checking the restored tables"
        for name in result.left_out:
            both(SettingLeftOut(name, result.server_major))
        for statement in result.options_left_out:
            both(SettingLeftOut(statement, result.server_major, "column option"))
        for table, (wanted, now) in sorted(result.counts.items()):
            both(TableRestored(table, wanted, now))
        differ = result.mismatched
        record.outcome = f"restored from {path}" + (
            f"; rows differ for {', '.join(differ)}" if differ else ": the database matches the backup"
        )
        verify_error: BaseException | None = None
        try:
            record.verify = _verified(ctx, emit)
        except (psycopg.Error, OSError) as error:  # the restore itself succeeded
            verify_error = error
    return RestoreOutcome(result, record.verify, verify_error, record.path)


# Rehearse -----------------------------------------------------------------------------------


def rehearse(ctx: Context, options: RunOptions, emit: Emit, *, backup: Path | None = None) -> Rehearsal:
    """The pending migrations on a throwaway local copy; the database is only read; a report."""
    from wizard.core.rehearse import rehearse as rehearse_on_copy  # with its embedded server and psutil: ~40 ms

    with _reported(ctx, "rehearse", str(backup) if backup else "a fresh one, deleted with the copy", emit) as record:
        result = rehearse_on_copy(
            ctx.conn, ctx.target, ctx.migrations, fanout(record.record, emit), backup=backup, options=options
        )
        if result.nothing_pending:
            record.outcome = "nothing pending: nothing to rehearse"
        elif result.ok:
            record.outcome = (
                f"passed on a local copy (PostgreSQL {result.server_version}); the database was not changed"
            )
        else:
            record.outcome = f"would fail: {result.error}; the database was not changed"
        record.verify = result.verify
    return replace(result, report=record.path)
