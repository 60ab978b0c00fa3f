"""Starting the Textual wizard from the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from types import FrameType

from wizard.tui.app import WizardApp
from wizard.tui.state import FlowState


def state_from_args(args: argparse.Namespace, *, verify_only: bool = False) -> FlowState:
    url = args.database_url or os.environ.get("DATABASE_URL", "")
    if getattr(args, "profile", None):
        from wizard.core import profiles

        url = profiles.get_url(args.profile)  # an unknown name or no keyring: exit 3 before any screen
    return FlowState(
        practice=bool(args.practice),
        migrations_dir=args.migrations_dir,
        initial_url=url,
        connect_timeout=float(args.connect_timeout),
        verify_only=verify_only,
    )


def run_tui(args: argparse.Namespace, *, verify_only: bool = False) -> int:
    state = state_from_args(args, verify_only=verify_only)
    app = WizardApp(state, start="connect" if verify_only else "welcome")
    quit_on_signals(app)
    app.run()
    report = state.verify
    if verify_only and report is not None:
        return 0 if report.ok else 1
    return 0


def quit_on_signals(app: WizardApp) -> None:
    """Closing the terminal window (SIGHUP) or being told to stop (SIGTERM): leave as a confirmed
    Ctrl+Q does, without the question: a running migration, rollback or restore is cancelled and
    the wizard waits for the server to roll it back; the practice server is stopped on the way out."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        try:
            loop = asyncio.get_running_loop()  # the app's: signal handlers run in the main thread
        except RuntimeError:  # the app is not running (yet, or any more): nothing to wait for
            raise SystemExit(128 + signum) from None
        # Thread-safe scheduling also wakes the loop up, which a plain call from a handler may not.
        loop.call_soon_threadsafe(app.call_later, app.quit_on_signal)

    for name in ("SIGHUP", "SIGTERM"):  # Windows has no SIGHUP
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)
