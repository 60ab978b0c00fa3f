"""`migration-wizard rehearse`: the pending migrations on a throwaway local copy; the database is only read.

Exit 0 when they applied and verified on the copy, or when nothing is pending (there is
nothing to rehearse); 1 when they would fail or not verify there, or the copy could not be
made. With --json, one JSON object on stdout in every case after connecting.
"""

from __future__ import annotations

import argparse
import json

from wizard.cli.commands import print_verify
from wizard.cli.output import EventPrinter, Printer, one_line
from wizard.cli.session import open_session
from wizard.core.errors import WizardError
from wizard.core.events import BackupProgress, BackupStarted, Event, RehearsalStep, RehearsalWarning
from wizard.core.rehearse import Rehearsal, rehearse, stopped
from wizard.core.runner import RunOptions
from wizard.core.units import human_duration


class _Progress:
    """Each step in plain words, the copy's warnings, and the migration's own events."""

    def __init__(self, printer: Printer) -> None:
        self.printer = printer
        self.engine = EventPrinter(printer)

    def __call__(self, event: Event) -> None:
        match event:
            case RehearsalStep(text=text):
                self.printer.out(text)
            case RehearsalWarning():
                self.printer.out(f"  Warning: {event.text}")
            case BackupStarted(tool=tool, reason=reason):
                self.printer.out(f"  using {tool}: {reason}")
            case BackupProgress():
                pass
            case _:
                self.engine(event)


def cmd_rehearse(args: argparse.Namespace, printer: Printer) -> int:
    backup = args.backup.expanduser().resolve() if args.backup else None
    session = open_session(args, printer, to_stderr=args.json)
    options = RunOptions(lock_timeout_ms=args.lock_timeout, max_wait=args.max_wait)
    try:
        if not args.json:
            printer.out(f"Server: PostgreSQL {session.server_version}")
            printer.out("Rehearsing on a throwaway local copy: your database is only read.")
        emit = (lambda _event: None) if args.json else _Progress(printer)
        result = rehearse(session.conn, session.target, session.migrations, emit, backup=backup, options=options)
    except WizardError as error:
        if args.json:
            printer.out(json.dumps(stopped(error).to_json(), indent=2, default=str))
        raise
    finally:
        session.close()
    if args.json:
        printer.out(json.dumps(result.to_json(), indent=2, default=str))
    else:
        labels = {m.version: m.label for m in session.migrations}
        _summary(printer, result, [labels.get(v, v) for v in result.applied])
    return 0 if result.ok else 1


def _summary(printer: Printer, result: Rehearsal, applied: list[str]) -> None:
    if result.nothing_pending:
        printer.out("Nothing to rehearse: every migration is already applied.")
        return
    if result.verify is not None:
        print_verify(printer, result.verify)
    if result.warnings:
        count = len(result.warnings)
        printer.out(
            f"{count} object{'s' if count != 1 else ''} of the backup could not be restored on the copy (listed"
            " above); the migrations did not need them."
        )
    if result.ok:
        waits = f"{result.lock_waits} lock wait{'s' if result.lock_waits != 1 else ''}"
        took = human_duration(result.seconds or 0.0)
        printer.out(
            f"Rehearsal passed: {', '.join(applied)} applied in {took} on the copy (PostgreSQL"
            f" {result.server_version}), {waits}; your database was not changed."
        )
        return
    printer.out(f"Rehearsal failed: {result.error}")
    if result.failed_statement:
        printer.out(f"  The statement: {one_line(result.failed_statement, 200)}")
    for number, step in enumerate(result.fix, 1):
        printer.out(f"  {number}. {step}" if len(result.fix) > 1 else f"  What to do: {step}")
    printer.out("Your database was not changed: the migrations ran only on the copy, which is removed.")
