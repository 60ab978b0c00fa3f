"""Rehearsing the pending migrations on a throwaway local copy of the database.

The steps: a fresh backup (or the one given), a throwaway embedded PostgreSQL of the same
or the next newer major version (local_copy.py), pg_restore without owners and privileges,
a check that the tables the migrations work on (and the tables those refer to) were
restored, the migrations with the same engine and options, verify, and the copy removed
whatever happens. The real database is only read: by pg_dump and a few catalog queries.

Objects the copy cannot restore (an extension the local server lacks, a role that exists
only on the real server) are warnings, and the rehearsal still runs when the tables it
needs are there. A migration that fails or does not verify on the copy is the rehearsal's
answer, not an error: `Rehearsal.ok` is False, with the reason and the fix. What prevents
a rehearsal (no backup, no local server, a needed table missing on the copy) raises
RehearsalFailed.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg

from wizard.core import engine, paths
from wizard.core.backup import run_backup
from wizard.core.connection import Target, connect, server_version
from wizard.core.doctor import explain
from wizard.core.dumpfile import reader_for
from wizard.core.errors import MigrationFailed, RefusedError, RehearsalFailed, WizardError
from wizard.core.events import Emit, Event, LockWait, MigrationApplied, RehearsalStep, RehearsalWarning, ignore
from wizard.core.local_copy import WITHOUT_REHEARSAL, LocalCopy, local_major, read_archive
from wizard.core.migrations import Migration
from wizard.core.run_options import RunOptions
from wizard.core.verify import run_verify
from wizard.core.verify_report import FAIL, VerifyReport

__all__ = ["Rehearsal", "RehearsalFailed", "rehearse", "required_tables", "stopped"]


@dataclass(frozen=True)
class Rehearsal:
    ok: bool
    pending: tuple[str, ...]  # versions pending on the real database: what was rehearsed
    applied: tuple[str, ...] = ()  # versions applied on the copy
    verify: VerifyReport | None = None
    seconds: float | None = None  # the migrations' own time on the copy
    lock_waits: int = 0
    lock_wait_seconds: float = 0.0
    warnings: tuple[str, ...] = ()  # objects of the backup the copy could not restore
    error: str | None = None
    fix: tuple[str, ...] = ()
    failed_statement: str = ""
    backup: Path | None = None
    backup_kept: bool = False  # False: a fresh backup, deleted with the copy
    server_version: str | None = None  # the local copy's PostgreSQL
    report: Path | None = None  # the session report (operations.rehearse writes one)

    @property
    def nothing_pending(self) -> bool:
        return not self.pending

    def to_json(self) -> dict[str, Any]:
        error = None
        if self.error is not None:
            error = {"message": self.error, "fix": list(self.fix)}
            if self.failed_statement:
                error["statement"] = self.failed_statement
        return {
            "ok": self.ok,
            "pending": list(self.pending),
            "applied": list(self.applied),
            "verified": None if self.verify is None else self.verify.ok,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "lock_waits": self.lock_waits,
            "lock_wait_seconds": round(self.lock_wait_seconds, 3),
            "warnings": list(self.warnings),
            "error": error,
            "backup": None if self.backup is None else str(self.backup),
            "backup_kept": self.backup_kept,
            "server_version": self.server_version,
            "verify": None if self.verify is None else self.verify.to_json(),
            "report": None if self.report is None else str(self.report),
        }


def stopped(error: WizardError, pending: Sequence[str] = ()) -> Rehearsal:
    """The result to report (as JSON) when an error stopped the rehearsal."""
    return Rehearsal(
        ok=False,
        pending=tuple(pending),
        warnings=getattr(error, "warnings", ()),
        error=error.message,
        fix=explain(error).fix,
    )


def rehearse(
    conn: psycopg.Connection[Any],
    target: Target,
    migrations: Sequence[Migration],
    emit: Emit = ignore,
    *,
    backup: Path | None = None,
    options: RunOptions | None = None,
    cancel: threading.Event | None = None,
) -> Rehearsal:
    """Rehearse the migrations pending on `conn`'s database on a throwaway local copy of it.

    `backup`: an existing archive (pg_dump -Fc) to restore instead of taking a fresh one.
    Nothing pending: returns at once (ok, `nothing_pending`), without a backup or a server."""
    options = options or RunOptions()
    if cancel is not None:
        options = replace(options, cancel=cancel)
    statuses = engine.status(conn, migrations)
    engine.refuse_if_modified(statuses)
    todo = engine.pending(statuses)
    if not todo:
        return Rehearsal(ok=True, pending=())
    engine.refuse_unless_precondition(conn, todo[0])
    given = read_archive(backup) if backup is not None else None  # read once: a bad file stops here
    archived = frozenset(given.tables) if given is not None else frozenset()
    source_major = conn.info.server_version // 10000
    major = local_major(source_major)  # before any backup: a server newer than every local one stops here
    needed = required_tables(conn, todo)
    with ExitStack() as stack:
        archive = backup
        if archive is None:
            # Private (0700), and apart from the server's folder, whose parents it makes world-readable.
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix=".rehearsal-", dir=paths.backups_dir()))
            emit(RehearsalStep("backup", "Taking a fresh backup (pg_dump only reads your database) ..."))
            taken = run_backup(conn, target, emit, output=Path(scratch), cancel=options.cancel)
            archive, archived = taken.path, frozenset(taken.tables)
        else:
            emit(RehearsalStep("backup", f"Using the backup {archive}."))
        options.check_cancel()
        dump = given if given is not None else read_archive(archive)
        reader = reader_for(dump, major)
        emit(RehearsalStep("server", f"Starting a throwaway PostgreSQL {major} (your server runs {source_major}) ..."))
        local = LocalCopy(major)
        # Registered first, so it is said after the copy is removed.
        stack.callback(emit, RehearsalStep("cleanup", "Removed the copy: its server stopped, its folder deleted."))
        stack.enter_context(local)
        copy_target = local.start()
        emit(RehearsalStep("restore", f"Restoring the copy (without owners and privileges) with {reader.reason} ..."))
        problems = local.restore(dump, copy_target, options.cancel, reader)
        for problem in problems:
            emit(problem)
        copy = stack.enter_context(connect(copy_target))
        _require(copy, needed, archived, problems, backup, major)
        if needed:
            emit(RehearsalStep("check", f"The copy holds the tables the migrations work on: {', '.join(needed)}."))
        result = _run(copy, migrations, options, emit, tuple(p.text for p in problems))
        return replace(
            result,
            pending=tuple(m.version for m in todo),
            backup=archive,
            backup_kept=backup is not None,
            server_version=server_version(copy),
        )
    raise AssertionError("unreachable")  # mypy: ExitStack may swallow exceptions


def required_tables(conn: psycopg.Connection[Any], migrations: Sequence[Migration]) -> tuple[str, ...]:
    """schema.table of the existing tables the migrations work on (per their expectations) and of
    every table those reference by foreign key, transitively, in `conn`'s database."""
    names: set[str] = set()
    for migration in migrations:
        exp = migration.expectations
        created = {t.name for t in exp.tables}
        tables = {t for t in exp.tables_touched() if t not in created}
        tables |= {f.references_table for f in exp.foreign_keys}
        if exp.precondition is not None:
            tables.add(exp.precondition.table)
        if exp.smoke_test is not None:
            tables.add(exp.smoke_test.parent_table)
        names |= {f"{exp.schema}.{t}" for t in tables - created}
    rows = conn.execute(
        "WITH RECURSIVE need(oid) AS ("
        " SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname || '.' || c.relname = ANY(%s)"
        " UNION SELECT k.confrelid FROM pg_constraint k JOIN need ON k.conrelid = need.oid WHERE k.contype = 'f')"
        " SELECT n.nspname || '.' || c.relname FROM need JOIN pg_class c ON c.oid = need.oid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY 1",
        (sorted(names),),
    ).fetchall()
    return tuple(str(r[0]) for r in rows)


def _require(
    copy: psycopg.Connection[Any],
    needed: Sequence[str],
    archived: frozenset[str],
    problems: Sequence[RehearsalWarning],
    given: Path | None,
    major: int,
) -> None:
    rows = copy.execute(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname || '.' || c.relname = ANY(%s)",
        (list(needed),),
    ).fetchall()
    present = {str(r[0]) for r in rows}
    missing = [t for t in needed if t not in present]
    if not missing:
        return
    warnings = tuple(p.text for p in problems)
    names = ", ".join(missing)
    absent = [t for t in missing if given is not None and t not in archived]
    if absent:
        raise RehearsalFailed(
            f"The backup {given} does not hold {', '.join(absent)}, which the migrations need.",
            fix=(
                "Use a backup of the whole database (`migration-wizard backup`), or rehearse without --backup:"
                " it takes a fresh one.",
            ),
            warnings=warnings,
        )
    tables = {f"table {t}" for t in missing}
    why = [p.text for p in problems if p.object in tables]
    why = why or [p.text for p in problems if any(t in p.object.split() for t in missing)]
    missing_extensions = sorted({p.name for p in problems if p.kind == "extension"})
    # The ones the missing tables needed, when the errors say so (type "public.citext" does not exist).
    extensions = [e for e in missing_extensions if any(e in w for w in why)] or missing_extensions
    message = f"{names} could not be restored on the local copy, so the migrations cannot be rehearsed there"
    if extensions:
        message += f" (the local PostgreSQL {major} has no extension {', '.join(extensions)})"
    message += f": {'; '.join(why[:3])}." if why else "."
    fix: list[str] = []
    if extensions:
        available = [str(r[0]) for r in copy.execute("SELECT name FROM pg_available_extensions ORDER BY 1")]
        fix.append(
            f"The wizard's PostgreSQL {major} has only the extensions {', '.join(available)}, not"
            f" {', '.join(extensions)}: rehearse on a copy that has {'them' if len(extensions) > 1 else 'it'}"
            " instead. On Neon, create a branch of"
            " the database (Branches > New branch) and run `migration-wizard migrate` with the branch's URL."
        )
    else:
        fix.append("Read the warnings above: each names an object the copy could not restore, and why.")
    fix.append(WITHOUT_REHEARSAL)
    raise RehearsalFailed(message, fix=tuple(fix), warnings=warnings)


def _run(
    copy: psycopg.Connection[Any],
    migrations: Sequence[Migration],
    options: RunOptions,
    emit: Emit,
    warnings: tuple[str, ...],
) -> Rehearsal:
    todo = engine.pending(engine.status(copy, migrations))
    if not todo:
        raise RehearsalFailed(
            "The backup already has every migration applied, so there is nothing to rehearse on it.",
            fix=("Rehearse without --backup: a fresh backup shows the database as it is now.",),
            warnings=warnings,
        )
    durations: dict[str, float] = {}
    waited: dict[str, float] = {}
    waits = 0

    def follow(event: Event) -> None:
        nonlocal waits
        if isinstance(event, LockWait):
            waits += 1
            waited[event.version] = max(waited.get(event.version, 0.0), event.waited)
        elif isinstance(event, MigrationApplied):
            durations[event.version] = event.duration
        emit(event)

    labels = ", ".join(m.label for m in todo)
    emit(RehearsalStep("migrate", f"Running {labels} on the copy, with the same engine and options ..."))
    try:
        engine.apply_pending(copy, migrations, options, follow)
    except (MigrationFailed, RefusedError) as error:
        return Rehearsal(
            ok=False,
            pending=(),
            applied=tuple(durations),
            seconds=sum(durations.values()) if durations else None,
            lock_waits=waits,
            lock_wait_seconds=sum(waited.values()),
            warnings=warnings,
            error=f"{labels} would fail on your database: {error.message}",
            fix=explain(error).fix,
            failed_statement=getattr(error, "sql", ""),
        )
    emit(RehearsalStep("verify", "Verifying the copy ..."))
    report = run_verify(copy, migrations)
    failed = [c for c in report.checks if c.status == FAIL]
    problems = "; ".join(f"{c.title}: {c.detail}" for c in failed)
    fix = tuple(dict.fromkeys(step for c in failed for step in c.fix)) or (
        "Verify names what is wrong. The migrations leave objects that existed before them as they are:"
        " correct those on your database (or in the migration), then rehearse again.",
    )
    return Rehearsal(
        ok=report.ok,
        pending=(),
        applied=tuple(durations),
        verify=report,
        seconds=sum(durations.values()),
        lock_waits=waits,
        lock_wait_seconds=sum(waited.values()),
        warnings=warnings,
        error=None if report.ok else f"{labels} applied on the copy but did not verify: {problems}",
        fix=() if report.ok else fix,
    )
