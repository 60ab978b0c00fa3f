"""`migration-wizard rehearse`: the pending migrations on a throwaway local copy; the database is only read.

Exit 0 when they applied and verified on the copy, or when nothing is pending (there is
nothing to rehearse); 1 when they would fail or not verify there, or the copy could not be
made. With --json, JSON lines on stdout (each event, then the result), in every case.
"""

from __future__ import annotations

import argparse

from wizard.cli.changes import context, run_options, stream_of
from wizard.cli.commands import print_verify
from wizard.cli.output import Printer, one_line
from wizard.cli.session import open_session
from wizard.core import operations
from wizard.core.errors import WizardError
from wizard.core.rehearse import Rehearsal, stopped
from wizard.core.units import human_duration


def cmd_rehearse(args: argparse.Namespace, printer: Printer) -> int:
    backup = args.backup.expanduser().resolve() if args.backup else None
    stream = stream_of(args, printer)
    session = open_session(args, printer, to_stderr=stream.json_lines)
    options = run_options(args)
    try:
        stream.say(f"Server: PostgreSQL {session.server_version}")
        stream.say("Rehearsing on a throwaway local copy: your database is only read.")
        result = operations.rehearse(context(session), options, stream, backup=backup)
    except WizardError as error:
        if stream.json_lines:
            fields = stopped(error).to_json()
            stream.result(False, 1, **{k: v for k, v in fields.items() if k not in ("ok", "report")})
        raise
    finally:
        session.close()
    if not stream.json_lines:
        labels = {m.version: m.label for m in session.migrations}
        _summary(printer, result, [labels.get(v, v) for v in result.applied])
    fields = result.to_json()
    return stream.result(
        result.ok, 0 if result.ok else 1, **{k: v for k, v in fields.items() if k not in ("ok", "report")}
    )


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
