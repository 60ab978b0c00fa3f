"""The commands that change the database: migrate, rollback, and the default guided run.

They choose the options, ask for confirmation, and render the events: the work itself is
the core's (operations.py), the same that the screens call."""

from __future__ import annotations

import argparse
import os

from wizard.cli.commands import print_verify
from wizard.cli.output import Printer, object_label
from wizard.cli.session import Session, confirm, open_session
from wizard.cli.stream import Stream
from wizard.core import engine, operations
from wizard.core.errors import RefusedError
from wizard.core.run_options import RunOptions
from wizard.core.verify_report import VerifyReport


def run_options(args: argparse.Namespace) -> RunOptions:
    """The options of `migrate`, `rollback` and `rehearse` (parser.py's _lock_options)."""
    options = RunOptions(lock_timeout_ms=args.lock_timeout, max_wait=args.max_wait)
    options.online_rows = None if getattr(args, "no_online", False) else getattr(args, "online_rows", 0)
    for action in ("cancel", "terminate"):
        grace = getattr(args, f"{action}_blockers", None)
        if grace is not None:
            options.blocker_action, options.blocker_grace = action, grace
    return options


def context(session: Session) -> operations.Context:
    return operations.Context(session.conn, session.target, session.server_version, session.migrations)


def stream_of(args: argparse.Namespace, printer: Printer) -> Stream:
    """The command's Stream: main() made it for the JSON-lines commands; the guided run makes one."""
    return printer.stream if isinstance(printer.stream, Stream) else Stream(printer, bool(getattr(args, "json", False)))


def cmd_migrate(args: argparse.Namespace, printer: Printer) -> int:
    stream = stream_of(args, printer)
    session = open_session(args, printer, to_stderr=stream.json_lines)
    try:
        return _migrate(session, args, stream)
    finally:
        session.close()


def _migrate(session: Session, args: argparse.Namespace, stream: Stream) -> int:
    ctx = context(session)
    stream.say(f"Server: PostgreSQL {session.server_version}")
    todo = operations.pending(ctx)
    if not todo:
        stream.say("Nothing to do: every migration is already applied.")
        return stream.result(True, 0, applied=[], backup=None, verify=None)
    names = ", ".join(m.label for m in todo)
    options = run_options(args)
    later = operations.online_builds(ctx, todo, options)
    if later:
        stream.say(
            f"Pending: {names}. Each runs in one transaction (all of it is applied, or none of it), except the"
            f" index builds on big tables ({', '.join(later)}): they follow online, while reads and writes go on;"
            " if one is interrupted, the rest stays applied and running migrate again finishes it."
        )
    else:
        stream.say(f"Pending: {names}. Each runs in one transaction: all of it is applied, or none of it.")
    confirm(session, f"Apply {names} to {session.target.describe()}?")
    if args.skip_backup:
        choice = operations.BackupChoice(
            take=False, note="skipped with --skip-backup: the user has a backup of their own"
        )
        stream.say("No backup by the wizard (--skip-backup): you said you have your own.")
    else:
        choice = operations.BackupChoice()
    result = operations.migrate(ctx, options, choice, stream)
    if not stream.json_lines and result.verify is not None:
        print_verify(session.printer, result.verify)
    fields: dict[str, object] = {"applied": result.applied, "backup": result.backup, "verify": _json(result.verify)}
    if result.ok:
        return stream.result(True, 0, **fields)
    if not result.applied:  # nothing was pending, and what is there fails its checks
        return stream.result(False, 1, **fields)
    # Applied and committed, but the checks fail: not "as before" (exit 1), so exit 4.
    committed = f"applied {', '.join(result.applied)}"
    message = f"{committed[:1].upper()}{committed[1:]} (committed), but verification failed."
    fix = "What was committed stays in place: read the failed checks above, then fix forward or roll back."
    session.printer.err(f"Error: {message}")
    session.printer.err(f"  What to do: {fix}")
    problem = {"message": message, "cause": None, "fix": [fix], "committed": committed, "step": "verification"}
    return stream.result(False, 4, error=problem, **fields)


def _json(report: VerifyReport | None) -> object:
    return None if report is None else report.to_json()


def cmd_rollback(args: argparse.Namespace, printer: Printer) -> int:
    stream = stream_of(args, printer)
    session = open_session(args, printer, to_stderr=stream.json_lines)
    try:
        return _rollback(session, args, stream)
    finally:
        session.close()


def _rollback(session: Session, args: argparse.Namespace, stream: Stream) -> int:
    ctx = context(session)
    found = operations.rollback_preview(ctx)
    if found is None:
        stream.say("Nothing to roll back: no migration is applied.")
        return stream.result(True, 0, rolled_back=None, states=None, verify=None)
    migration = found.migration
    if found.nothing_to_do:
        stream.say(f"Nothing to roll back: none of {migration.label}'s objects are present.")
        return stream.result(True, 0, rolled_back=None, states=None, verify=None)
    say = stream.say
    say(f"Rolling back {migration.label} ({migration.expectations.title}) would remove:")
    for table, rows in found.rows_lost:
        say(f"  table {table} and its {rows} row{'s' if rows != 1 else ''}")
    for column, values in found.values_lost:
        say(f"  column {column} and its {values} non-empty value{'s' if values != 1 else ''}")
    for dep in found.dependents:
        if dep.outcome == "dropped":
            say(f"  also {dep.description}, which depends on {dep.depends_on}")
    for key in found.kept:
        say(f"Stays: {object_label(key)}, because it existed before {migration.version} ran.")
    if not found.recorded:
        say(
            f"Note: {migration.label} is not recorded in the ledger (run by hand?), so the wizard cannot tell"
            " which objects existed before it: everything it defines will be removed."
        )
    if found.modified:
        say(f"Warning: {found.modified_note}")
    if found.blocked:
        names = "; ".join(f"{d.description} uses {d.depends_on}" for d in found.blocked)
        raise RefusedError(
            f"The rollback would stop part-way because other objects depend on what it removes ({names});"
            " nothing was changed.",
            fix=("Drop or change those objects first, then run rollback again.",),
        )
    expected = "practice" if session.target.practice else session.target.database
    confirm(session, "This cannot be undone except from a backup.", expected=expected)
    result = operations.rollback(ctx, found, run_options(args), stream)
    states = engine.status(session.conn, session.migrations)
    for s in states:
        say(f"  {s.migration.label}: {s.state}")
    return stream.result(
        True, 0, rolled_back=migration.version, states={s.migration.version: s.state for s in states},
        verify=_json(result.verify),
    )  # fmt: skip


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
        defaults = RunOptions()
        args.yes, args.skip_backup = True, True
        args.lock_timeout, args.max_wait = defaults.lock_timeout_ms, defaults.max_wait
        args.online_rows = defaults.online_rows
        return _migrate(session, args, Stream(printer, json_lines=False))
    finally:
        session.close()
