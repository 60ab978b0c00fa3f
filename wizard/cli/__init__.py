"""The headless command line. Deliberately imports no textual: scripts and CI start fast.

Before the arguments are parsed, only the grammar is imported: `--help`, `--version` and a
usage error exit inside the parser, without psycopg and the output module (~250 ms of the
~320 ms `--help` took with them). A command's own module is imported when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from wizard.cli.head_start import head_start
from wizard.cli.parser import UsageError, build_parser, check_web
from wizard.core.errors import (
    BackupFailed,
    Cancelled,
    ConnectError,
    FailedAfterCommit,
    InputError,
    MigrationFailed,
    PracticeError,
    RefusedError,
    RehearsalFailed,
    RestoreFailed,
    WizardError,
)

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_INPUT, EXIT_AFTER_COMMIT = 0, 1, 2, 3, 4
_EXIT_CODES: tuple[tuple[type[WizardError], int], ...] = (
    (FailedAfterCommit, EXIT_AFTER_COMMIT),
    (InputError, EXIT_INPUT),
    (ConnectError, EXIT_INPUT),
    (PracticeError, EXIT_INPUT),
    (RefusedError, EXIT_REFUSED),
    (MigrationFailed, EXIT_FAILED),
    (BackupFailed, EXIT_FAILED),
    (RestoreFailed, EXIT_FAILED),
    (RehearsalFailed, EXIT_FAILED),
    (Cancelled, EXIT_FAILED),
)

if TYPE_CHECKING:
    from wizard.cli.output import Printer

    Command = Callable[[argparse.Namespace, Printer], int]


# Each command's module, imported only when that command runs: `doctor` and `status` do not
# pay for what backup, restore and rehearse need (pglast, psutil, pg_dump's helpers).
_COMMANDS: dict[str | None, tuple[str, str]] = {
    None: ("changes", "cmd_guided"),
    "status": ("commands", "cmd_status"),
    "plan": ("plan_command", "cmd_plan"),
    "sql": ("commands", "cmd_sql"),
    "migrate": ("changes", "cmd_migrate"),
    "verify": ("commands", "cmd_verify"),
    "rollback": ("changes", "cmd_rollback"),
    "practice": ("commands", "cmd_practice"),
    "profile": ("profile_commands", "cmd_profile"),
    "backup": ("backup_command", "cmd_backup"),
    "restore": ("restore_command", "cmd_restore"),
    "rehearse": ("rehearse_command", "cmd_rehearse"),
    "doctor": ("doctor_command", "cmd_doctor"),
    "--web": ("web_command", "cmd_web"),  # the guided wizard in a browser: no command, a top-level option
}


def _command(name: str | None) -> Command:
    module, function = _COMMANDS[name]
    command: Command = getattr(importlib.import_module(f"wizard.cli.{module}"), function)
    return command


def report_error(printer: Printer, error: BaseException) -> None:
    """The error, and the knowledge base's explanation of it: why, and what to do."""
    from wizard.core.diagnosis_lines import explanation
    from wizard.core.doctor import explain  # see main()

    found = explain(error)
    if isinstance(error, WizardError):
        message, detail = error.message, error.detail
    else:
        lines = str(error).strip().splitlines() or [type(error).__name__]
        message, detail = lines[0], "\n".join(lines[1:])
    printer.err(f"Error: {message}")
    if isinstance(error, MigrationFailed):
        if error.sql:
            printer.err("  The statement: " + " ".join(error.sql.split())[:300])
        if error.nothing_changed:
            printer.err("  The transaction was rolled back: nothing was changed.")
    for line in detail.splitlines():
        printer.err(f"  {line}")
    for said in explanation(found, headings=False):
        if said.kind == "unknown":  # the message is printed above
            printer.err("  The wizard does not recognize this error and will not guess.")
        else:
            text = " ".join(part for part in (said.label, said.text) if part)
            printer.err(f"    {text}" if said.kind == "step" else f"  {text}")
    if found.action_label:
        printer.err(f"  The guided wizard (run migration-wizard without a command) can {found.action_label} for you.")
    if found.doc:
        printer.err(f"  More: {found.doc}")


def _wants_screens(args: argparse.Namespace) -> bool:
    """The Textual wizard for a person at a terminal; the headless commands for scripts and CI."""
    if args.web:
        return False
    # A browser tab of --web: textual-serve runs the wizard with pipes for stdin and stdout, and
    # Textual's web driver (named in TEXTUAL_DRIVER) draws its screens in the page.
    in_browser = os.environ.get("TEXTUAL_DRIVER") == "textual.drivers.web_driver:WebDriver"
    if not (in_browser or (sys.stdin.isatty() and sys.stdout.isatty())):
        return False
    if args.command is None:
        return True
    return args.command == "verify" and not (args.json or args.plain)


EXIT_INTERRUPTED = 128 + 2  # Ctrl+C; another signal's is 128 + its number: SIGTERM 143, SIGHUP 129


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM (docker stop, systemd, CI) and SIGHUP (a closed terminal) stop a headless command
    the way Ctrl+C does: an Interrupted (a KeyboardInterrupt) is raised in the main thread, so
    psycopg cancels the running query on the server, releasing its locks at once, and the
    `finally` blocks stop pg_dump or pg_restore, remove a partial backup and write the report.
    Without this, SIGTERM ended the process while its statement kept running on the server.

    A second signal while that clean-up runs is ignored: raised again, it would cut the clean-up
    short and end in a traceback. The handlers stay until the process exits after an interrupt."""
    import signal
    import threading

    from wizard.core.errors import Interrupted

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    interrupted = False

    def interrupt(signum: int, _frame: object) -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise Interrupted(signum)

    # SIGHUP does not exist on Windows.
    numbers = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]
    saved = {number: signal.signal(number, interrupt) for number in numbers}
    try:
        yield
    finally:
        if not interrupted:  # a command run in-process (the tests) leaves the process as it found it
            for number, previous in saved.items():
                signal.signal(number, previous if previous is not None else signal.SIG_DFL)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(words)
        check_web(parser, args)
    except UsageError as usage:
        return _usage_error(usage, words)
    args.opening = None if _wants_screens(args) else head_start(args)
    try:
        return _run(args)
    finally:
        if args.opening is not None:
            args.opening.drop()  # not taken: the command stopped before it connected


def _run(args: argparse.Namespace) -> int:
    # Imported once the arguments are understood (see the top of this module).
    import psycopg

    from wizard.cli.output import Printer
    from wizard.cli.stream import JSON_LINES_COMMANDS, Stream

    printer = Printer()
    command = _command("--web" if args.web else args.command)
    if args.command in JSON_LINES_COMMANDS:
        Stream(printer, json_lines=bool(getattr(args, "json", False)))
    else:
        printer.json_document = bool(getattr(args, "json", False))
    try:
        if _wants_screens(args):
            # Imported here: the headless commands never load textual.
            from wizard.tui.run import run_tui

            return run_tui(args, verify_only=args.command == "verify")
        with _signals_interrupt():
            return command(args, printer)
    except WizardError as error:
        report_error(printer, error)
        code = next((code for kind, code in _EXIT_CODES if isinstance(error, kind)), EXIT_FAILED)
        return _failed(printer, error, code)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from
        # complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (psycopg.Error, OSError) as error:  # a connection lost mid-command, a file not writable ...
        report_error(printer, error)
        return _failed(printer, error, EXIT_FAILED)
    except KeyboardInterrupt as interrupt:
        # What ran was stopped on its way out (see _signals_interrupt); whether an earlier step
        # (a first migration) committed is not known here, so it is not claimed either way.
        how = getattr(interrupt, "signal_name", "Ctrl+C (SIGINT)")
        stopped = Cancelled(
            f"Interrupted by {how}: what was running was stopped and the open transaction was rolled back;"
            " steps that finished before it stay done.",
            fix=(
                "`migration-wizard status` shows which migrations are applied; the session report, what this run did.",
                "Run the command again when you are ready.",
            ),
        )
        report_error(printer, stopped)
        return _failed(printer, stopped, getattr(interrupt, "exit_code", EXIT_INTERRUPTED))
    except Exception as error:  # a bug: say so plainly, never a raw traceback unless asked
        if args.debug:
            traceback.print_exc()
        printer.err(f"Unexpected error ({type(error).__name__}): {error}. Run again with --debug for details.")
        return _failed(printer, error, EXIT_FAILED)


def _usage_error(usage: UsageError, words: list[str]) -> int:
    """What argparse prints for a command line it cannot read; with --json, also one JSON object
    on stdout (a result line for the JSON-lines commands), like every other failure."""
    from wizard.core.connection import redact  # argparse quotes what it could not read: a URL, say

    message = redact(usage.message)
    usage.parser.print_usage(sys.stderr)
    sys.stderr.write(f"{usage.parser.prog}: error: {message}\n")
    if "--json" in words:
        import json

        from wizard.cli.stream import JSON_LINES_COMMANDS

        problem = {"message": f"usage error: {message}", "cause": None, "fix": [f"See {usage.parser.prog} --help."]}
        line: dict[str, object] = {"ok": False, "exit": EXIT_REFUSED, "error": problem}
        if any(word in JSON_LINES_COMMANDS for word in words):
            line = {"event": "result", "ok": False, "exit": EXIT_REFUSED, "report": None, "error": problem}
        sys.stdout.write(json.dumps(line) + "\n")
    return EXIT_REFUSED


def _failed(printer: Printer, error: BaseException, code: int) -> int:
    """With --json, the result line of a command that failed: the error with its cause and fix."""
    from wizard.cli.stream import Stream
    from wizard.core.doctor import explain  # see main()

    stream = printer.stream
    lines = isinstance(stream, Stream) and stream.json_lines
    if not (lines or printer.json_document) or (lines and stream.result_written):
        return code
    found = explain(error)
    message = error.message if isinstance(error, WizardError) else (str(error).strip().splitlines() or [""])[0]
    problem: dict[str, object] = {
        "message": message,
        "cause": found.cause if found.recognized else None,
        "fix": list(found.fix),
        "confidence": found.confidence,
    }
    if found.id:
        problem["rule"] = found.id
    if found.alternatives:
        problem["alternatives"] = [alternative.to_json() for alternative in found.alternatives]
    if isinstance(error, FailedAfterCommit):
        problem |= {"committed": error.committed, "step": error.step}
    if lines:
        stream.result(False, code, error=problem)
    else:  # status, verify, doctor, profile list: one JSON document, on failure too
        import json

        printer.out(json.dumps({"ok": False, "exit": code, "error": problem}, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
