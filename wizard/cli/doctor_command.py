"""`migration-wizard doctor [TEXT] [--json]`: what an error message means and how to fix it.

Needs no database and imports no UI: it answers at once, for pasted text or a pipe
(`pg_dump ... 2>&1 | migration-wizard doctor`). Exit status 0 when the error is
recognized, surely or probably ("Probably: X. If not: Y.", confidence high or medium), 1
when it is not (low: unknown). Every line it prints passes through the password redactor.
"""

from __future__ import annotations

import argparse
import json
import sys

from wizard.cli.output import Printer
from wizard.core.diagnosis_lines import explanation, summary
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
    """The diagnosis as text: what was understood, the cause, and the numbered fix (for a
    probable answer, each answer with its own)."""
    printer.out(summary(found) + (f"  [{found.id}]" if found.matched and found.id else ""))
    if not found.recognized:
        printer.out("The message (passwords hidden):")
    _echo(printer, found, limit=4 if found.recognized else MAX_ECHO_LINES)
    previous = ""
    for line in explanation(found, why="Cause:", checklist="What to check:", headings=False):
        if line.kind == "unknown":  # the message is echoed above
            continue
        if line.kind in ("heading", "label") or (line.kind == "why" and previous != "heading"):
            printer.out("")
        printer.out(f"  {line.text}" if line.kind == "step" else f"{line.label} {line.text}".strip())
        previous = line.kind
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
    return 0 if found.recognized else 1
