"""`migration-wizard backup`: a verified pg_dump (the core's backup operation), and where it is."""

from __future__ import annotations

import argparse

from wizard.cli.changes import context, stream_of
from wizard.cli.output import Printer
from wizard.cli.session import open_session
from wizard.core import operations


def cmd_backup(args: argparse.Namespace, printer: Printer) -> int:
    stream = stream_of(args, printer)
    session = open_session(args, printer, to_stderr=stream.json_lines)
    try:
        choice = operations.BackupChoice(fmt=args.format, table=args.table, output=args.output)
        result = operations.backup(context(session), choice, stream)
    finally:
        session.close()
    if not stream.json_lines:
        printer.out(str(result.path))
    fields = result.to_json()
    fields.pop("ok"), fields.pop("report")
    return stream.result(True, 0, **fields)
