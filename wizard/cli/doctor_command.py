"""`migration-wizard doctor [TEXT] [--json]`: what an error message means and how to fix it.

Needs no database and imports no UI: it answers at once, for pasted text or a pipe
(`pg_dump ... 2>&1 | migration-wizard doctor`). Exit status 0 when the error is
recognized, 1 when it is not. Every line it prints passes through the password redactor.
"""

from __future__ import annotations

import argparse
import json
import sys

from wizard.cli.output import Printer
from wizard.core.doctor import Diagnosis, diagnose
from wizard.core.errors import InputError
from wizard.core.redaction import secrets_in_text

MAX_ECHO_LINES = 30


def _read_text(args: argparse.Namespace, printer: Printer) -> str:
    if args.text is not None and args.text != "-":
        return str(args.text)
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        printer.err("Paste the error message, then press Ctrl-D (Ctrl-Z and Enter on Windows):")
    return sys.stdin.read()


def _echo(printer: Printer, found: Diagnosis, *, limit: int) -> None:
    lines = [line.rstrip() for line in found.raw.splitlines() if line.strip()]
    for line in lines[:limit]:
        printer.out(f"  | {line}")
    if len(lines) > limit:
        printer.out(f"  | ... ({len(lines) - limit} more lines)")


def render(printer: Printer, found: Diagnosis) -> None:
    """The diagnosis as text: what was understood, the cause, and the numbered fix."""
    if found.matched:
        printer.out(f"{found.title[:1].upper()}{found.title[1:]}.  [{found.id}]")
        _echo(printer, found, limit=4)
    else:
        printer.out("Unknown error: the wizard does not recognize this message, and will not guess.")
        printer.out("The message (passwords hidden):")
        _echo(printer, found, limit=MAX_ECHO_LINES)
    printer.out("")
    printer.out(f"Cause: {found.cause}" if found.matched else "What to check:")
    if found.matched:
        printer.out("")
        printer.out("What to do:")
    for number, step in enumerate(found.fix, 1):
        printer.out(f"  {number}. {step}")
    if found.action_label:
        printer.out("")
        printer.out(f"The wizard can do this for you: {found.action_label}.")
    if found.doc:
        printer.out(f"More: {found.doc}")


def cmd_doctor(args: argparse.Namespace, printer: Printer) -> int:
    text = _read_text(args, printer)
    if not text.strip():
        raise InputError(
            "No error text was given.",
            fix=(
                "Pass the message in quotes: migration-wizard doctor 'FATAL: ...',"
                " or pipe it in: pg_dump ... 2>&1 | migration-wizard doctor",
            ),
        )
    # The passwords of the URLs in the text, hidden wherever they appear in what is printed.
    printer.secrets = secrets_in_text(text)
    found = diagnose(text, sqlstate=getattr(args, "sqlstate", None))
    if args.json:
        printer.out(json.dumps(found.to_json(), indent=2))
    else:
        render(printer, found)
    return 0 if found.matched else 1
