"""What a headless command will wait for, started as soon as its arguments are read, so that
it goes on while the command loads its modules and migrations: the connection
(wizard.core.opening), only for a command that will connect to the URL it was given and never
through a pooler it would refuse; and, for backup, finding pg_dump and pg_restore (their
`--version` runs take ~80 ms through Debian's wrapper scripts)."""

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


def head_start(args: argparse.Namespace) -> Opening | None:
    """Start finding the command's tools, and connecting to its database if it names one by URL
    (a profile is read from the keyring, the practice database is started: both by the command
    itself). The connection's Opening, if one was started."""
    if args.command == "backup":
        from wizard.core import tool_finder  # imports no psycopg: the probes start at once

        tool_finder.prefetch("pg_dump", "pg_restore")
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
