"""`migration-wizard backup`: a verified pg_dump, and the backup step of `migrate`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wizard.cli.output import Printer
from wizard.cli.session import Session, open_session
from wizard.core.backup import BackupResult, run_backup
from wizard.core.events import BackupProgress, BackupStarted, Event
from wizard.core.units import human_size


def take_backup(
    session: Session, *, fmt: str = "custom", table: str | None = None, output: Path | None = None, quiet: bool = False
) -> BackupResult:
    printer = session.printer

    def show(event: Event) -> None:
        if quiet:
            return
        if isinstance(event, BackupStarted):
            printer.out(f"Backing up to {event.path}")
            printer.out(f"  using {event.tool}: {event.reason}")
        elif isinstance(event, BackupProgress) and "dumping contents of table" in event.line:
            printer.out(
                f"  [{event.tables_done}/{event.tables_total}] {event.line.split(': ', 1)[-1]}"
                f"  ({human_size(event.bytes_written)}, {event.elapsed:.1f} s)"
            )

    result = run_backup(session.conn, session.target, show, fmt=fmt, table=table, output=output)
    if not quiet:
        printer.out(
            f"Backup verified: {len(result.tables)} tables, {human_size(result.bytes)} (the database uses"
            f" {human_size(result.database_bytes)} on the server; a dump is usually much smaller)."
        )
    return result


def cmd_backup(args: argparse.Namespace, printer: Printer) -> int:
    session = open_session(args, printer, to_stderr=args.json)
    try:
        result = take_backup(session, fmt=args.format, table=args.table, output=args.output, quiet=args.json)
    finally:
        session.close()
    if args.json:
        printer.out(json.dumps(result.to_json(), indent=2))
    else:
        printer.out(str(result.path))
    return 0
