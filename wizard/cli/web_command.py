"""`migration-wizard --web`: the guided wizard in a browser tab, for people who rarely use a terminal.

textual-serve (aiohttp) serves a page holding a terminal (xterm.js) and starts, for each browser tab
that opens it, one process running this same wizard with Textual's web driver: `python -m wizard`
and the target's flags. The password never travels on a command line or in a URL: the child gets
the database URL in its environment (DATABASE_URL), where the guided wizard reads it anyway, and
everything the server prints (its log, a tab's error output) passes through the password redactor.

textual-serve, aiohttp and jinja2 are imported only here: no other command pays for them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import io
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from wizard.cli.output import Printer
from wizard.core.errors import InputError
from wizard.core.redaction import redact, secrets_in

if TYPE_CHECKING:
    from aiohttp import web

HOST = "127.0.0.1"  # this computer only: the page drives a database session, so it is never offered to the network
# How long a browser tab's wizard has to quit (and stop the practice server) once the server is told to stop.
SHUTDOWN_SECONDS = 10.0
EXIT_BY_SIGNAL = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


def cmd_web(args: argparse.Namespace, printer: Printer) -> int:
    url = _target(args, printer)
    secrets = printer.secrets
    command = tab_command(args)
    address = f"http://{HOST}:{args.port}"
    with _environment("DATABASE_URL", url), _redacted_output(secrets), _server_log():
        try:
            stopped_by = asyncio.run(_serve(command, args.port, address, printer))
        except KeyboardInterrupt:  # Windows: no loop signal handlers, Ctrl+C arrives as an exception
            stopped_by = "SIGINT"
    printer.err(f"Stopped ({_said(stopped_by)}): every browser tab's wizard has quit.")
    return EXIT_BY_SIGNAL.get(stopped_by, 0)


def _said(signal_name: str) -> str:
    return "Ctrl+C" if signal_name == "SIGINT" else signal_name


def _target(args: argparse.Namespace, printer: Printer) -> str:
    """Name the target, as every command does first, and return the URL each tab's wizard starts
    with ('' for the practice database, or none: the Connect screen asks for one). Nothing connects
    here: each tab connects on its Connect screen, where an error is explained."""
    from wizard.cli.session import say_notes
    from wizard.core.connection import parse_url

    if args.practice:
        printer.out("Target: the practice database (embedded PostgreSQL), started when a browser tab connects")
        return ""
    if args.profile:
        from wizard.core import profiles  # only for --profile: it reads the OS keyring

        url = profiles.get_url(args.profile)  # an unknown name or no keyring: exit 3 before serving
    else:
        url = (args.database_url or os.environ.get("DATABASE_URL", "")).strip()
    if not url:
        printer.out("Target: none yet (the Connect screen asks for the database URL)")
        return ""
    printer.secrets = secrets_in(url)  # masked from here on, even if the URL cannot be read
    target = parse_url(url)
    printer.out(f"Target: {target.describe()}")
    say_notes(printer, target)
    return url


def tab_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each browser tab: the guided wizard on the same
    target, with no URL in it (see the module's docstring)."""
    words = [sys.executable, "-m", "wizard"]
    if args.practice:
        words.append("--practice")
    if args.migrations_dir is not None:
        words += ["--migrations-dir", str(args.migrations_dir.resolve())]
    words += ["--connect-timeout", repr(float(args.connect_timeout))]
    if args.debug:
        words.append("--debug")
    # textual-serve starts it through the shell (asyncio.create_subprocess_shell).
    return subprocess.list2cmdline(words) if sys.platform == "win32" else shlex.join(words)


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """`name` set to `value` (or removed, for '') while the server runs: textual-serve copies this
    process's environment into each tab's process. Restored afterwards (the tests run in-process)."""
    saved = os.environ.get(name)
    if value:
        os.environ[name] = value
    else:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


class RedactingStream(io.TextIOBase):
    """A text stream that passes each line through the password redactor before writing it.

    Whole lines are redacted at once, so a password written in two pieces is still found; what is
    left without a newline goes out on flush()."""

    def __init__(self, stream: TextIO, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self._stream = stream
        self._secrets = secrets
        self._pending = ""

    @property
    def encoding(self) -> str:  # type: ignore[override]  # TextIOBase declares it read-only
        return getattr(self._stream, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        done, newline, rest = self._pending.rpartition("\n")
        if newline:
            self._pending = rest
            self._stream.write(redact(done + newline, self._secrets))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(redact(self._pending, self._secrets))
            self._pending = ""
        self._stream.flush()


@contextlib.contextmanager
def _redacted_output(secrets: tuple[str, ...]) -> Iterator[None]:
    """Everything the server writes passes through the redactor: textual-serve's log and aiohttp's
    request log, and the error output of a tab's process, which textual-serve copies to stdout."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (RedactingStream(stream, secrets) for stream in saved)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = saved


@contextlib.contextmanager
def _server_log() -> Iterator[None]:
    """textual-serve's and aiohttp's loggers (a tab's failure, each request) as plain lines on the
    redacted stderr, while the server runs."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    loggers = [logging.getLogger(name) for name in ("textual-serve", "aiohttp.access", "aiohttp.server")]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


async def _serve(command: str, port: int, address: str, printer: Printer) -> str:
    """Serve until a signal comes; return its name."""
    from aiohttp import web
    from textual_serve.server import Server

    class WizardServer(Server):
        """textual-serve's server, with each browser tab's task kept so that stopping can end it."""

        def __init__(self) -> None:
            super().__init__(command, host=HOST, port=port, title="migration-wizard")
            self.tabs: set[asyncio.Task[Any]] = set()

        async def on_startup(self, app: web.Application) -> None:  # its banner names the command: said below
            pass

        async def on_shutdown(self, app: web.Application) -> None:
            # Each tab's handler, cancelled, tells its wizard to quit and waits for it to exit.
            for task in list(self.tabs):
                task.cancel()

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            task = asyncio.current_task()
            assert task is not None
            self.tabs.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                self.tabs.discard(task)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stopped_by: list[str] = []

    def on_signal(name: str) -> None:
        if not stopped_by:
            stopped_by.append(name)
            printer.err(f"Stopping ({_said(name)}): closing the browser tabs' wizards ...")
        stop.set()

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        with contextlib.suppress(AttributeError, NotImplementedError, RuntimeError):  # Windows
            loop.add_signal_handler(getattr(signal, name), on_signal, name)

    server = WizardServer()
    runner = web.AppRunner(
        await server._make_app(),  # textual-serve's routes: the page, its static files, the tabs' websocket
        handle_signals=False,
        access_log_format='%a "%r" %s',
        shutdown_timeout=SHUTDOWN_SECONDS,
    )
    try:
        await runner.setup()
        site = web.TCPSite(runner, HOST, port)
        try:
            await site.start()
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
                raise InputError(
                    f"Port {port} on {HOST} is already in use.",
                    fix=(f"Choose another with --port, e.g. `migration-wizard --web --port {port + 1}`.",),
                ) from None
            raise
        printer.out(f"The wizard is ready: open {address} in your web browser.")
        printer.out("Each browser tab runs its own wizard. Press Ctrl+C here to stop.")
        if _can_open_browser():
            import webbrowser

            await loop.run_in_executor(None, webbrowser.open, address)
        await stop.wait()
    finally:
        await runner.cleanup()
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            with contextlib.suppress(AttributeError, NotImplementedError, RuntimeError):
                loop.remove_signal_handler(getattr(signal, name))
    return stopped_by[0] if stopped_by else "SIGINT"


def _can_open_browser() -> bool:
    """Open the page only for a person at a desktop: never in CI or a script, nor on a Linux
    without a display, where Python's webbrowser would start a text browser (lynx, w3m) in this
    terminal."""
    if os.environ.get("CI") or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
