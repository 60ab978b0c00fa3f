"""`migration-wizard profile save|list|forget`: saved connections in the OS keyring."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from wizard.cli.output import Printer, table
from wizard.cli.session import ask, say_notes
from wizard.core import connection, profiles
from wizard.core.errors import InputError


def cmd_profile(args: argparse.Namespace, printer: Printer) -> int:
    handlers = {"save": _save, "list": _list, "forget": _forget}
    return handlers[args.profile_command](args, printer)


def _url_to_save(args: argparse.Namespace, printer: Printer) -> str:
    if getattr(args, "database_url", None):
        printer.err(
            "Note: a password given with --database-url is visible to other users (ps) and stays in your"
            " shell history; the hidden prompt (run without it, on a terminal) or DATABASE_URL avoid that."
        )
        return str(args.database_url)
    if os.environ.get("DATABASE_URL", "").strip():
        return os.environ["DATABASE_URL"]
    if sys.stdin.isatty():
        return getpass.getpass("Database URL (hidden as you type or paste): ")
    raise InputError(
        "No URL to save.", fix=("Set DATABASE_URL, pass --database-url URL, or run this on a terminal to be asked.",)
    )


def _save(args: argparse.Namespace, printer: Printer) -> int:
    name = profiles.check_name(args.name)
    url = _url_to_save(args, printer)
    target = connection.parse_url(url)  # cleans what was pasted around the URL
    printer.secrets = target.secrets
    say_notes(printer, target)
    if profiles.exists(name):
        ask(args, f"A connection named {name!r} is already saved. Replace it?", changes="a saved connection")
    if not args.no_test:
        printer.out(f"Testing the connection to {target.describe()} ...")
        connection.connect(target, timeout=float(getattr(args, "connect_timeout", 15.0))).close()
    saved = profiles.save(name, url)
    printer.out(
        f"Saved {saved.name!r} (host {saved.host}, database {saved.database}, user {saved.user}) in the OS keyring."
    )
    printer.out(f"Use it with: migration-wizard --profile {saved.name} status")
    return 0


def _list(args: argparse.Namespace, printer: Printer) -> int:
    found = profiles.list_profiles()
    rows = [{"name": p.name, "host": p.host, "database": p.database, "user": p.user} for p in found]
    if args.json:
        printer.out(json.dumps({"profiles": rows}, indent=2))
    elif not rows:
        printer.out("No saved connections yet: `migration-wizard profile save NAME` saves one.")
    else:
        for line in table(rows, indent=""):
            printer.out(line)
    return 0


def _forget(args: argparse.Namespace, printer: Printer) -> int:
    name = args.name
    if not profiles.exists(name):
        profiles.get(name)  # raises UnknownProfile with the names that exist
    ask(args, f"Forget the saved connection {name!r}?", changes="your saved connections")
    profiles.forget(name)
    printer.out(f"Forgot {name!r}: removed from the OS keyring and the list.")
    return 0
