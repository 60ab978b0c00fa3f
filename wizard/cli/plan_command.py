"""`plan`: every pending statement, what it does, its lock and its impact on the people using
the database now (the table's size, who holds a lock on it), before anything runs."""

from __future__ import annotations

import argparse
import dataclasses
import json

from wizard.cli.output import Printer
from wizard.cli.session import open_session
from wizard.core import engine
from wizard.core.impact import PlanImpact, StatementImpact, plan
from wizard.core.migrations import Migration


def cmd_plan(args: argparse.Namespace, printer: Printer) -> int:
    session = open_session(args, printer, to_stderr=args.json)
    try:
        todo = engine.pending(engine.status(session.conn, session.migrations))
        if todo:
            engine.refuse_unless_precondition(session.conn, todo[0])
        found = plan(session.conn, todo, None if args.no_online else args.online_rows)
    finally:
        session.close()
    if args.json:
        printer.out(json.dumps(dataclasses.asdict(found), indent=2, default=str))
        return 0
    if not todo:
        printer.out("Nothing to do: every migration is applied.")
        return 0
    _sessions(printer, found)
    for migration in todo:
        _print_migration(printer, found, migration)
    tail = "in one transaction per migration"
    if found.online:
        tail += f", then the online index builds ({', '.join(found.online)})"
    printer.out(f"Nothing has been changed. `migration-wizard migrate` applies this, {tail}.")
    return 0


def _sessions(printer: Printer, found: PlanImpact) -> None:
    tables = ", ".join(found.tables)
    if not found.sessions:
        printer.out(f"No other session holds or waits for a lock on {tables} now.")
    else:
        printer.out(f"Sessions using {tables} now (a migration waits for those holding a lock):")
        for holder in found.sessions:
            printer.out(f"  - {holder.describe()}")
    printer.out()


def _print_migration(printer: Printer, found: PlanImpact, migration: Migration) -> None:
    statements = [s for s in found.statements if s.migration == migration.label]
    later = [s for s in statements if s.effect == "online"]
    how = "one transaction"
    if later:
        how = f"{len(statements) - len(later)} in one transaction, then {len(later)} index builds online"
    printer.out(f"{migration.label}: {migration.expectations.title} ({len(statements)} statements, {how})")
    if migration.skipped_transaction_control:
        printer.out("  (BEGIN/COMMIT in the file are left out: the wizard runs the migration in its own transaction)")
    for statement in statements:
        _print_statement(printer, statement, len(found.statements))
    printer.out()


def _print_statement(printer: Printer, statement: StatementImpact, total: int) -> None:
    printer.out()
    printer.out(f"  [{statement.index}/{total}] line {statement.line}")
    for line in statement.sql.splitlines():
        printer.out(f"      {line}")
    printer.out(f"    what it does: {statement.summary}")
    if statement.present:
        printer.out("    already present: no change")
    printer.out(f"    lock: {statement.lock}")
    if statement.table and statement.stats:
        printer.out(f"    table: {statement.table}, {statement.stats.describe()}")
    printer.out(f"    impact: {statement.impact}")
