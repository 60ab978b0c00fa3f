"""What every database command does first: find the target, say it, connect."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any

import psycopg

from wizard.cli.head_start import CHANGING_COMMANDS
from wizard.cli.output import Printer
from wizard.core import connection
from wizard.core.connection import Target
from wizard.core.errors import InputError, RefusedError
from wizard.core.migrations import Migration, load_migrations
from wizard.core.redaction import secrets_in

_LAZY = frozenset({"status", "restore", "verify", "backup"})


@dataclass
class Session:
    args: argparse.Namespace
    printer: Printer
    target: Target
    migrations: list[Migration]
    conn: psycopg.Connection[Any]
    server_version: str

    def close(self) -> None:
        self.conn.close()


def resolve_target(args: argparse.Namespace, printer: Printer, *, to_stderr: bool = False) -> Target:
    chosen = [bool(args.practice), bool(args.database_url), bool(getattr(args, "profile", None))]
    if sum(chosen) > 1:
        raise RefusedError("Choose one target: --practice, --database-url or --profile.")
    say = printer.err if to_stderr else printer.out
    if getattr(args, "profile", None):
        from wizard.core import profiles  # ~8 ms to import, for --profile only

        target = profiles.get(args.profile)
    elif args.practice:
        # Imported here: the practice database's module brings psutil (~17 ms) and is needed
        # only with --practice.
        from wizard.core import practice

        target = practice.start(reset=getattr(args, "reset", False), progress=printer.err)
    elif args.database_url:
        # Masked from here on, even if the URL cannot be read: its error quotes what it could not read.
        printer.secrets = secrets_in(args.database_url)
        target = connection.parse_url(args.database_url)
        printer.secrets = target.secrets
        if target.secrets:
            printer.err(
                "Note: a password given with --database-url is visible to other users (ps) and stays in your"
                " shell history; prefer the DATABASE_URL environment variable."
            )
    elif os.environ.get("DATABASE_URL", "").strip():
        printer.secrets = secrets_in(os.environ["DATABASE_URL"])
        target = connection.parse_url(os.environ["DATABASE_URL"])
    else:
        raise InputError(
            "No database was given.",
            fix=("Set DATABASE_URL, pass --database-url URL, or try it safely with --practice.",),
        )
    printer.secrets = target.secrets
    say(f"Target: {target.describe()}")
    say_notes(printer, target)
    return target


def say_notes(printer: Printer, target: Target) -> None:
    """What the wizard did to the URL, and what to know before connecting (an unencrypted
    connection to another computer, the pooler)."""
    if target.cleaned:
        printer.err(f"Note: {target.cleaned_note}.")
    for note in target.notes:
        printer.err(f"Note: {note}")
    for warning in target.warnings:
        printer.err(f"Warning: {warning}")
    if target.is_pooler:
        printer.err(f"Note: {target.pooler_advice}")
        direct = target.redact(target.direct_url)
        if direct:
            printer.err(f"  The direct URL: {direct}")


def refuse_pooler(args: argparse.Namespace, target: Target) -> None:
    """Schema changes through a transaction pooler only when asked for: before connecting."""
    if not target.is_pooler or args.command not in CHANGING_COMMANDS or getattr(args, "allow_pooler", False):
        return
    direct = target.redact(target.direct_url) or f"the same URL with the host {target.direct_host}"
    raise RefusedError(
        f"Nothing was changed: {args.command} does not go through Neon's pooled endpoint {target.host};"
        f" use the direct host {target.direct_host}.",
        fix=(
            f"Run it again with the direct URL: {direct}",
            "Or add --allow-pooler to go through the pooler anyway (one transaction, transaction-scoped locks).",
        ),
    )


def open_session(args: argparse.Namespace, printer: Printer, *, to_stderr: bool = False) -> Session:
    # Commands that run no migration split its statements (pglast, ~50 ms to import) only if
    # something asks for them: status shows names and checksums, verify the expectations and the
    # checksums, backup none of it, restore the down files of a single-table restore when it needs
    # them. Every other command refuses a file PostgreSQL cannot parse before it connects.
    migrations = load_migrations(args.migrations_dir, parse=args.command not in _LAZY)
    target = resolve_target(args, printer, to_stderr=to_stderr)
    refuse_pooler(args, target)
    timeout = float(args.connect_timeout)

    def slow() -> None:
        printer.err(
            "Still connecting after 2 s: a suspended Neon compute takes a few seconds to wake"
            f" (waiting up to {timeout:.0f} s) ..."
        )

    on_slow = None if target.practice else slow
    early = getattr(args, "opening", None)  # started as the command loaded (cli/head_start.py)
    if early is not None and early.target.conninfo == target.conninfo and early.timeout == timeout:
        conn = early.wait(on_slow=on_slow)
    else:
        conn = connection.connect(target, timeout=timeout, on_slow=on_slow)
    return Session(args, printer, target, migrations, conn, connection.server_version(conn))


def confirm(session: Session, question: str, *, expected: str = "yes") -> None:
    """Go ahead with --yes; ask on a terminal; otherwise refuse without changing anything."""
    ask(session.args, question, expected=expected)


def ask(args: argparse.Namespace, question: str, *, expected: str = "yes", changes: str = "the database") -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise RefusedError(
            f"Nothing was changed: this command changes {changes} and there is no terminal to confirm on.",
            fix=("Run it again with --yes once you are sure of the target above.",),
        )
    try:
        answer = input(f"{question} Type {expected!r} to go ahead: ").strip()
    except EOFError:
        answer = ""
    if answer != expected:
        raise RefusedError("Not confirmed: nothing was changed.")
