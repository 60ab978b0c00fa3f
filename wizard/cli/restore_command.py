"""`migration-wizard restore FILE`: what the file holds, what goes first, then an atomic restore."""

from __future__ import annotations

import argparse

from wizard.cli.commands import print_verify
from wizard.cli.output import Printer, table
from wizard.cli.session import confirm, open_session
from wizard.core import restore, verify


def cmd_restore(args: argparse.Namespace, printer: Printer) -> int:
    backup = restore.read_backup(args.file.expanduser().resolve())
    session = open_session(args, printer)
    try:
        found = restore.plan(session.conn, backup, session.migrations)
        count = len(backup.tables)
        kind = (
            f"the whole database, {count} table{'s' if count != 1 else ''}: {', '.join(backup.tables)}"
            if found.whole
            else f"only {', '.join(backup.tables)} (a single-table backup)"
        )
        printer.out(f"The backup {backup.path} holds {kind}.")
        printer.out(found.how)
        if found.drops:
            printer.out("Before loading it, the restore removes:")
            for item in found.drops:
                printer.out(f"  - {item}")
        if found.whole and found.gone:
            printer.out("Not in the backup, so gone after the restore: " + "; ".join(found.gone) + ".")
        printer.out("It runs in one transaction: if anything fails, nothing changes.")
        expected = "practice" if session.target.practice else session.target.database
        confirm(session, f"Everything above in {session.target.describe()} is replaced.", expected=expected)
        result = restore.run_restore(session.conn, found)
        mismatched = result.mismatched
        if result.left_out:
            printer.out(result.left_out_note)
        rows = [{"table": t, "backup": w, "now": h} for t, (w, h) in sorted(result.counts.items())]
        for line in table(rows, indent="  "):
            printer.out(line)
        printer.out("For information, verify now says (a backup from before Phase 2 does not pass it, by design):")
        print_verify(printer, verify.run_verify(session.conn, session.migrations))
    finally:
        session.close()
    if mismatched:
        printer.out(f"The database does not match the backup for: {', '.join(mismatched)}.")
        return 1
    printer.out("Restored: the database now matches the backup.")
    return 0
