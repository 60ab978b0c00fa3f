"""Command-line grammar: `migration-wizard [TARGET] [COMMAND] [OPTIONS]`.

TARGET options are accepted before or after the command: they are declared on the
main parser and again on each subcommand with SUPPRESS defaults, so a value given
after the command wins and one given before is not overwritten.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from wizard import __version__
from wizard.core.defaults import (
    DEFAULT_BLOCKER_GRACE,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_MAX_WAIT,
    DEFAULT_ONLINE_ROWS,
)

DESCRIPTION = "A guided, safe PostgreSQL schema migration: check, back up, review, migrate, verify, roll back."
EPILOG = (
    "Exit status: 0 done, 1 a check or migration failed (the database is as before), 2 refused or usage error,"
    " 3 cannot connect or bad input, 4 changed but a later step failed,"
    " 129/130/143 interrupted (SIGHUP/Ctrl+C/SIGTERM)."
)


class UsageError(Exception):
    """A command line argparse cannot read: main() prints it (and, with --json, a JSON object too)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class Parser(argparse.ArgumentParser):
    """argparse, except that a usage error is raised rather than printed and exited on."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)


def _positive(text: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _positive_int(text: str) -> int:
    return int(_positive(text, int))


def _positive_float(text: str) -> float:
    return _positive(text, float)


def _port(text: str) -> int:
    port = _positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError("must be a port number, 1 to 65535")
    return port


def _non_negative(text: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _non_negative_int(text: str) -> int:
    return int(_non_negative(text, int))


def _non_negative_float(text: str) -> float:
    return _non_negative(text, float)


def _target_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("target (where to work; default: the DATABASE_URL environment variable)")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument(
        "--practice", action="store_true", default=default(False), help="use the embedded practice database"
    )
    choice.add_argument(
        "--database-url",
        metavar="URL",
        default=default(None),
        help="the database URL (prefer the DATABASE_URL variable: a URL here shows its password in ps)",
    )
    choice.add_argument(
        "--profile", metavar="NAME", default=default(None), help="a connection saved with `profile save`"
    )
    group.add_argument(
        "--migrations-dir",
        metavar="DIR",
        type=Path,
        default=default(None),
        help="use another set of migrations",
    )
    group.add_argument(
        "--connect-timeout",
        metavar="S",
        type=_positive_float,
        default=default(DEFAULT_CONNECT_TIMEOUT),
        help=f"seconds to wait for the server to answer (default {DEFAULT_CONNECT_TIMEOUT:.0f})",
    )
    group.add_argument(
        "--debug", action="store_true", default=default(False), help="show a traceback for unexpected errors"
    )


JSON_LINES = "print one JSON object per line: each event as it happens, then the result (see README)"


def _lock_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lock-timeout",
        metavar="MS",
        type=_positive_int,
        default=DEFAULT_LOCK_TIMEOUT_MS,
        help=f"give up one try at a busy table after MS milliseconds (default {DEFAULT_LOCK_TIMEOUT_MS})",
    )
    parser.add_argument(
        "--max-wait",
        metavar="S",
        type=_positive_float,
        default=DEFAULT_MAX_WAIT,
        help=f"keep retrying a busy table for up to S seconds in all (default {DEFAULT_MAX_WAIT:.0f})",
    )
    blockers = parser.add_mutually_exclusive_group()
    for flag, what in (("cancel", "cancel the query of"), ("terminate", "disconnect")):
        blockers.add_argument(
            f"--{flag}-blockers",
            metavar="S",
            nargs="?",
            type=_non_negative_float,
            const=DEFAULT_BLOCKER_GRACE,
            help=f"once a statement has waited S seconds for a lock (default {DEFAULT_BLOCKER_GRACE:.0f}), {what}"
            " each session that holds it (only with this flag; by default the wizard only waits and names them)",
        )
    _online_options(parser)


def _online_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--online-rows",
        metavar="N",
        type=_non_negative_int,
        default=DEFAULT_ONLINE_ROWS,
        help="build indexes on existing tables with at least N rows CONCURRENTLY, after the rest commits, so"
        f" writes go on (default {DEFAULT_ONLINE_ROWS}; 0: always)",
    )
    parser.add_argument(
        "--no-online",
        action="store_true",
        help="build every index inside the migration's one transaction, whatever the table's size",
    )


DEFAULT_WEB_PORT = 8642  # not 8000 or 8080, which a web developer's own dev server often holds


def _web_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("in a web browser")
    group.add_argument(
        "--web",
        action="store_true",
        help="open the guided wizard in a web browser instead of the terminal (served on 127.0.0.1 only;"
        " each browser tab runs its own wizard; Ctrl+C stops it)",
    )
    group.add_argument(
        "--port",
        metavar="N",
        type=_port,
        default=None,
        help=f"the port for --web (default {DEFAULT_WEB_PORT})",
    )


def check_web(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--web serves the guided wizard: it takes a target, not a command; --port belongs to it."""
    if args.port is not None and not args.web:
        raise UsageError(parser, "--port goes with --web")
    if args.web and args.command is not None:
        raise UsageError(parser, f"--web opens the guided wizard in a browser: it takes no command ({args.command})")
    if args.web and args.port is None:
        args.port = DEFAULT_WEB_PORT


ALLOW_POOLER = "go ahead through a Neon -pooler host (by default refused: schema changes belong on the direct host)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="migration-wizard", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"migration-wizard {__version__}")
    _target_options(parser, suppress=False)
    _web_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
        _target_options(sub, suppress=True)
        return sub

    status = command("status", "show the server and each migration's state: applied, pending or modified")
    status.add_argument("--json", action="store_true", help="print JSON")

    planning = command("plan", "show the SQL that would run, statement by statement: what it does, lock and impact")
    planning.add_argument("--json", action="store_true", help="print JSON")
    _online_options(planning)
    command("sql", "print the migration, paste-ready for the Neon SQL editor (needs no database)")

    backup = command("backup", "take a verified backup with pg_dump and print where it is")
    backup.add_argument("--output", metavar="PATH", type=Path, help="a file, or a folder for a timestamped file")
    backup.add_argument(
        "--table", metavar="NAME", help="back up only this table (e.g. the one the migration changes: `plan` names it)"
    )
    backup.add_argument("--format", choices=("custom", "plain"), default="custom", help="custom (default) or plain SQL")
    backup.add_argument("--json", action="store_true", help=JSON_LINES)

    restore = command("restore", "put the database back to exactly what a backup file holds")
    restore.add_argument("file", metavar="FILE", type=Path, help="a backup made by `backup` (or pg_dump)")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restore.add_argument("--json", action="store_true", help=JSON_LINES)
    restore.add_argument("--allow-pooler", action="store_true", help=ALLOW_POOLER)

    migrate = command("migrate", "back up, then apply the pending migrations, one line per statement as it runs")
    migrate.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    migrate.add_argument(
        "--skip-backup", action="store_true", help="go ahead without the wizard's backup (you have your own)"
    )
    migrate.add_argument("--json", action="store_true", help=JSON_LINES)
    migrate.add_argument("--allow-pooler", action="store_true", help=ALLOW_POOLER)
    _lock_options(migrate)

    rehearse = command(
        "rehearse",
        "try the pending migrations on a throwaway local copy of the database (it is only read)",
    )
    rehearse.epilog = (
        "Exit status: 0 the pending migrations applied and verified on the copy (or nothing is pending),"
        " 1 they would fail or not verify (the reason and the fix are printed) or the copy could not be made,"
        " 2 refused, 3 cannot connect or bad input."
    )
    rehearse.add_argument(
        "--backup", metavar="FILE", type=Path, help="restore this archive (.dump) instead of taking a fresh backup"
    )
    rehearse.add_argument("--json", action="store_true", help=JSON_LINES)
    _lock_options(rehearse)

    verify = command("verify", "check that the database holds everything the migrations promise")
    shape = verify.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print JSON")
    shape.add_argument("--plain", action="store_true", help="print text tables")

    rollback = command("rollback", "say what would be lost, then undo the latest migration")
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rollback.add_argument("--json", action="store_true", help=JSON_LINES)
    rollback.add_argument("--allow-pooler", action="store_true", help=ALLOW_POOLER)
    _lock_options(rollback)

    practice = command("practice", "start the practice database and show what it holds")
    practice.add_argument("--reset", action="store_true", help="recreate it from scratch")

    doctor = commands.add_parser(
        "doctor",
        help="explain an error message and how to fix it (needs no database)",
        description="Explain an error message (pasted, or read from stdin) and how to fix it. Needs no database.",
        epilog="Exit status: 0 the error is recognized, 1 it is not, 3 no text was given."
        " A message that starts with '-' goes after '--'.",
    )
    doctor.add_argument("text", metavar="TEXT", nargs="?", help="the error message (default or '-': read stdin)")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.add_argument("--sqlstate", metavar="CODE", help="the error's SQLSTATE, if known (for translated messages)")

    profile = commands.add_parser(
        "profile", help="saved connections, kept in the OS keyring", description="Saved connections (OS keyring)."
    )
    actions = profile.add_subparsers(dest="profile_command", metavar="ACTION", required=True)
    save = actions.add_parser("save", help="test a URL and save it under NAME", epilog=EPILOG)
    _target_options(save, suppress=True)
    save.add_argument("name", metavar="NAME")
    save.add_argument("--no-test", action="store_true", help="save without testing the connection first")
    save.add_argument("--yes", action="store_true", help="replace a saved connection of the same name")
    listing = actions.add_parser("list", help="the saved names with host, database and user", epilog=EPILOG)
    listing.add_argument("--json", action="store_true", help="print JSON")
    forget = actions.add_parser("forget", help="remove a saved connection", epilog=EPILOG)
    forget.add_argument("name", metavar="NAME")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser
