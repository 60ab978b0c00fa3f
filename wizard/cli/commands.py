"""The read-only commands: status, plan, sql, verify and practice."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from wizard.cli.output import Printer, table
from wizard.cli.session import open_session
from wizard.core import engine, verify, verify_report
from wizard.core.migrations import load_migrations


def cmd_status(args: argparse.Namespace, printer: Printer) -> int:
    session = open_session(args, printer, to_stderr=args.json)
    try:
        states = engine.status(session.conn, session.migrations)
    finally:
        session.close()
    target = session.target
    if args.json:
        printer.out(
            json.dumps(
                {
                    "server_version": session.server_version,
                    "database": target.database,
                    "host": target.host,
                    "practice": target.practice,
                    "migrations": [
                        {
                            "version": s.migration.version,
                            "name": s.migration.name,
                            "state": s.state,
                            "note": s.note,
                        }
                        for s in states
                    ],
                },
                indent=2,
            )
        )
        return _status_code(states)
    printer.out(f"Server: PostgreSQL {session.server_version}")
    width = max(len(s.migration.label) for s in states)
    for s in states:
        note = f"  ({s.note})" if s.note else ""
        printer.out(f"  {s.migration.label.ljust(width)}  {s.state}{note}")
    todo = engine.pending(states)
    if any(s.state == engine.MODIFIED for s in states):
        printer.out(
            "A migration file changed after it was applied: run `migration-wizard verify` to check the database."
        )
    elif todo:
        printer.out(f"{len(todo)} pending: `migration-wizard plan` shows what would run, `migrate` applies it.")
    else:
        printer.out("Up to date: nothing to apply.")
    return _status_code(states)


def _status_code(states: Sequence[engine.MigrationStatus]) -> int:
    """1 when a migration file changed after it was applied (CI must notice), else 0."""
    return 1 if any(s.state == engine.MODIFIED for s in states) else 0


def cmd_sql(args: argparse.Namespace, printer: Printer) -> int:
    migrations = [m for m in load_migrations(args.migrations_dir) if not m.baseline]
    printer.out("-- migration-wizard: paste into the Neon SQL Editor (Dashboard > SQL Editor) and click Run.")
    printer.out("-- It runs in one transaction: either all of it is applied or none of it.")
    printer.out("-- Every statement is idempotent, so running it twice is harmless. Afterwards run")
    printer.out("-- `migration-wizard verify`, and `migration-wizard migrate` to record it in the ledger.")
    printer.out("BEGIN;")
    for migration in migrations:
        printer.out()
        printer.out(f"-- {migration.label}: {migration.expectations.title}")
        for statement in migration.statements:
            printer.out(statement.sql + ";")
    printer.out()
    printer.out("COMMIT;")
    return 0


def cmd_verify(args: argparse.Namespace, printer: Printer) -> int:
    session = open_session(args, printer, to_stderr=args.json)
    try:
        report = verify.run_verify(session.conn, session.migrations, then_close=True)
    finally:
        session.close()
    if args.json:
        printer.out(json.dumps(report.to_json(), indent=2, default=str))
    else:
        print_verify(printer, report)
    return 0 if report.ok else 1


def print_verify(printer: Printer, report: verify_report.VerifyReport) -> None:
    """Each check with its rows (under its migration's name when there are several), then
    what each migration is (applied and verified, failed, not applied), then the verdict."""
    groups = [(m.label, report.checks_of(m.version)) for m in report.migrations] or [("", report.checks)]
    for label, checks in groups:
        if len(groups) > 1:
            printer.out(f"{label}:")
        for check in checks:
            _print_check(printer, check)
    for state in report.migrations:
        printer.out(state.sentence)
    failed = sum(c.status == verify_report.FAIL for c in report.checks)
    warned = sum(c.status == verify_report.WARN for c in report.checks)
    total = len(report.checks)
    warnings = f" ({warned} warning{'s' if warned != 1 else ''})" if warned else ""
    if report.ok:
        printer.out(f"Verify: OK, no check failed out of {total}{warnings}.")
    else:
        printer.out(f"Verify: FAILED, {failed} of {total} checks failed{warnings}.")


def _print_check(printer: Printer, check: verify_report.CheckResult) -> None:
    labels = {verify_report.PASS: "PASS", verify_report.WARN: "WARN", verify_report.FAIL: "FAIL"}
    printer.out(f"{labels[check.status]}  {check.title}: {check.detail}")
    for line in table([_display_row(r) for r in check.rows]):
        printer.out(line)
    for number, step in enumerate(check.fix, 1):
        printer.out(f"      {number}. {step}")


def _display_row(row: dict[str, object]) -> dict[str, object]:
    shown = dict(row)
    if isinstance(shown.get("new"), bool):
        shown["new"] = "NEW" if shown["new"] else ""
    return shown


def cmd_practice(args: argparse.Namespace, printer: Printer) -> int:
    # Imported here: the practice database's module would bring psutil (~17 ms) to `status`.
    from wizard.core import practice

    args.practice = True
    args.database_url = None
    session = open_session(args, printer)
    try:
        counts = practice.summary(session.conn)
        states = engine.status(session.conn, session.migrations)
    finally:
        session.close()
    printer.out(f"The practice database (PostgreSQL {session.server_version}) holds:")
    for line in table([{"table": name, "rows": rows} for name, rows in counts], indent="  "):
        printer.out(line)
    _print_states(printer, states)
    printer.out("Try it: migration-wizard --practice migrate --yes --skip-backup, then verify and rollback.")
    return 0


def _print_states(printer: Printer, states: Sequence[engine.MigrationStatus]) -> None:
    for s in states:
        printer.out(f"  {s.migration.label}: {s.state}")
