"""Starting the Textual wizard from the command line."""

from __future__ import annotations

import argparse
import os
import signal

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
    # Closing the terminal window: leave like Ctrl+Q does, so that a running migration is
    # cancelled (rolled back) and the practice server is stopped on the way out.
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda _signum, _frame: app.call_later(app.exit))
    app.run()
    report = state.verify
    if verify_only and report is not None:
        return 0 if report.ok else 1
    return 0
