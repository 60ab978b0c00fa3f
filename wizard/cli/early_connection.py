"""Connecting while the command loads (wizard.core.opening): only for the commands that will
connect to the URL they were given, and never through a pooler they would refuse."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wizard.core.opening import Opening

# The commands that change the schema: through Neon's pooler only with --allow-pooler.
CHANGING_COMMANDS = frozenset({"migrate", "rollback", "restore"})
# The commands whose first step is to connect (cli/session.open_session).
CONNECTING_COMMANDS = frozenset({"status", "plan", "verify", "backup", "rehearse"}) | CHANGING_COMMANDS


def open_early(args: argparse.Namespace) -> Opening | None:
    """Start connecting to the command's database now, if it names one by URL (a profile is
    read from the keyring, the practice database is started: both by the command itself)."""
    if args.command not in CONNECTING_COMMANDS or args.practice or getattr(args, "profile", None):
        return None
    raw = args.database_url or os.environ.get("DATABASE_URL", "").strip()
    if not raw:
        return None
    import psycopg

    from wizard.core.connection import parse_url
    from wizard.core.errors import WizardError
    from wizard.core.opening import Opening

    try:
        target = parse_url(raw)
    except (WizardError, psycopg.Error, ValueError):  # the command says what is wrong with the URL
        return None
    if target.is_pooler and args.command in CHANGING_COMMANDS and not getattr(args, "allow_pooler", False):
        return None  # refused before connecting
    return Opening(target, timeout=float(args.connect_timeout))
