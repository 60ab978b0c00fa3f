"""The commands that change the database: migrate, rollback, and the default guided run."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager

from wizard.cli.backup_command import take_backup
from wizard.cli.commands import print_verify
from wizard.cli.output import EventPrinter, Printer, object_label
from wizard.cli.session import Session, confirm, open_session
from wizard.core import engine, rollback, verify
from wizard.core.errors import RefusedError
from wizard.core.events import Emit, Event
from wizard.core.report import SessionReport, recording
from wizard.core.runner import RunOptions


def _options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(lock_timeout_ms=args.lock_timeout, max_wait=args.max_wait)


def _pooler_note(session: Session) -> None:
    target = session.target
    if target.is_pooler:
        session.printer.err(f"Note: {target.pooler_advice}")


def cmd_migrate(args: argparse.Namespace, printer: Printer) -> int:
    session = open_session(args, printer)
    try:
        return _migrate(session, args)
    finally:
        session.close()


def _migrate(session: Session, args: argparse.Namespace) -> int:
    printer = session.printer
    printer.out(f"Server: PostgreSQL {session.server_version}")
    states = engine.status(session.conn, session.migrations)
    engine.refuse_if_modified(states)
    todo = engine.pending(states)
    if not todo:
        printer.out("Nothing to do: every migration is already applied.")
        return 0
    engine.refuse_unless_precondition(session.conn, todo[0])
    _pooler_note(session)
    names = ", ".join(m.label for m in todo)
    printer.out(f"Pending: {names}. Each runs in one transaction: all of it is applied, or none of it.")
    confirm(session, f"Apply {names} to {session.target.describe()}?")
    if args.skip_backup:
        backup = "skipped with --skip-backup: the user has a backup of their own"
        printer.out("No backup by the wizard (--skip-backup): you said you have your own.")
    else:
        backup = str(take_backup(session).path)
    with _session_report(session, "migrate", backup) as record:
        show = EventPrinter(printer)
        engine.apply_pending(session.conn, session.migrations, _options(args), _both(show, record.record))
        record.outcome = f"applied {names}"
        record.verify = verify.run_verify(session.conn, session.migrations)
    print_verify(printer, record.verify)
    return 0 if record.verify.ok else 1


def _both(*emits: Emit) -> Emit:
    def emit(event: Event) -> None:
        for each in emits:
            each(event)

    return emit


@contextmanager
def _session_report(session: Session, action: str, backup: str) -> Iterator[SessionReport]:
    """Record the session, whatever happens, and say where the report is."""
    conn, target = session.conn, session.target
    started: SessionReport | None = None
    try:
        with recording(conn, target, session.server_version, session.migrations, action, backup) as record:
            started = record
            yield record
    finally:
        if started is not None and started.path is not None:
            session.printer.out(f"Report: {started.path}")


def cmd_rollback(args: argparse.Namespace, printer: Printer) -> int:
    session = open_session(args, printer)
    try:
        return _rollback(session, args)
    finally:
        session.close()


def _rollback(session: Session, args: argparse.Namespace) -> int:
    printer = session.printer
    migration = rollback.latest_applied(session.conn, session.migrations)
    if migration is None:
        printer.out("Nothing to roll back: no migration is applied.")
        return 0
    found = rollback.impact(session.conn, migration)
    if found.nothing_to_do:
        printer.out(f"Nothing to roll back: none of {migration.label}'s objects are present.")
        return 0
    printer.out(f"Rolling back {migration.label} ({migration.expectations.title}) would remove:")
    for table, rows in found.rows_lost:
        printer.out(f"  table {table} and its {rows} row{'s' if rows != 1 else ''}")
    for column, values in found.values_lost:
        printer.out(f"  column {column} and its {values} non-empty value{'s' if values != 1 else ''}")
    for dep in found.dependents:
        if dep.outcome == "dropped":
            printer.out(f"  also {dep.description}, which depends on {dep.depends_on}")
    for key in found.kept:
        printer.out(f"Stays: {object_label(key)}, because it existed before {migration.version} ran.")
    if not found.recorded:
        printer.out(
            f"Note: {migration.label} is not recorded in the ledger (run by hand?), so the wizard cannot tell"
            " which objects existed before it: everything it defines will be removed."
        )
    if found.blocked:
        names = "; ".join(f"{d.description} uses {d.depends_on}" for d in found.blocked)
        raise RefusedError(
            f"The rollback would stop part-way because other objects depend on what it removes ({names});"
            " nothing was changed.",
            fix=("Drop or change those objects first, then run rollback again.",),
        )
    expected = "practice" if session.target.practice else session.target.database
    confirm(session, "This cannot be undone except from a backup.", expected=expected)
    with _session_report(session, "rollback", "not taken for a rollback") as record:
        rollback.rollback(session.conn, migration, _options(args), _both(EventPrinter(printer), record.record))
        record.outcome = f"rolled back {migration.label}"
        record.verify = verify.run_verify(session.conn, session.migrations)
    states = engine.status(session.conn, session.migrations)
    for s in states:
        printer.out(f"  {s.migration.label}: {s.state}")
    return 0


def cmd_guided(args: argparse.Namespace, printer: Printer) -> int:
    """No command: status, then migrate and verify on the practice database; on a real
    database, only status (migrate stays an explicit command there)."""
    if not args.practice and not args.database_url and not os.environ.get("DATABASE_URL", "").strip():
        printer.out("No DATABASE_URL is set, so this is a run on the practice database (nothing real changes).")
        args.practice = True
    session = open_session(args, printer)
    try:
        printer.out(f"Server: PostgreSQL {session.server_version}")
        states = engine.status(session.conn, session.migrations)
        for s in states:
            printer.out(f"  {s.migration.label}: {s.state}")
        if not session.target.practice:
            printer.out(
                "This is a real database: review with `migration-wizard plan`, then run `migration-wizard migrate`."
            )
            return 0
        printer.out("Practice database: no backup needed (`migration-wizard practice --reset` recreates it).")
        # Nothing real can change here, so the practice run goes ahead without asking.
        args.yes, args.skip_backup = True, True
        args.lock_timeout, args.max_wait = RunOptions().lock_timeout_ms, RunOptions().max_wait
        return _migrate(session, args)
    finally:
        session.close()
