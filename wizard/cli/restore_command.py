"""`migration-wizard restore FILE`: what the file holds, what goes first, then an atomic restore
(the core's restore operation, the same as the Restore screen's, report included)."""

from __future__ import annotations

import argparse

from wizard.cli.changes import context, stream_of
from wizard.cli.commands import print_verify
from wizard.cli.output import Printer
from wizard.cli.session import confirm, open_session
from wizard.core import operations


def cmd_restore(args: argparse.Namespace, printer: Printer) -> int:
    path = args.file.expanduser().resolve()
    stream = stream_of(args, printer)
    session = open_session(args, printer, to_stderr=stream.json_lines)
    try:
        ctx = context(session)
        found = operations.restore_preview(ctx, path)
        backup = found.backup
        count = len(backup.tables)
        kind = (
            f"the whole database, {count} table{'s' if count != 1 else ''}: {', '.join(backup.tables)}"
            if found.whole
            else f"only {', '.join(backup.tables)} (a single-table backup)"
        )
        say = stream.say
        say(f"The backup {backup.path} holds {kind}.")
        if found.drops:
            say("Before loading it, the restore removes:")
            for item in found.drops:
                say(f"  - {item}")
        if found.whole and found.gone:
            say("Not in the backup, so gone after the restore: " + "; ".join(found.gone) + ".")
        say("It runs in one transaction: if anything fails, nothing changes.")
        expected = "practice" if session.target.practice else session.target.database
        confirm(session, f"Everything above in {session.target.describe()} is replaced.", expected=expected)
        outcome = operations.restore(ctx, found, stream)
        if outcome.verify is not None and not stream.json_lines:
            say("For information, verify now says (a backup from before a migration fails its checks, by design):")
            print_verify(printer, outcome.verify)
    finally:
        session.close()
    mismatched = outcome.result.mismatched
    if mismatched:
        say(f"The database does not match the backup for: {', '.join(mismatched)}.")
    else:
        say("Restored: the database now matches the backup.")
    return stream.result(
        not mismatched,
        1 if mismatched else 0,
        path=str(backup.path),
        tables={t: {"backup": w, "now": n} for t, (w, n) in outcome.result.counts.items()},
        left_out=list(outcome.result.left_out),
        verify=None if outcome.verify is None else outcome.verify.to_json(),
    )
