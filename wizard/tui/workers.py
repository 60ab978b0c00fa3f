"""The database work the screens start, run in thread workers; each ends in a Message.

Every call goes through the core; nothing here talks SQL. Errors become WorkFailed (or a
more specific message) carrying a Problem: the error explained by the knowledge base,
with passwords removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from textual.message import Message

from wizard.core import connection, operations, practice
from wizard.core.errors import WizardError
from wizard.core.run_options import RunOptions
from wizard.core.verify import run_verify
from wizard.tui.messages import Connected, ConnectFailed, ConnectSlow, VerifyFinished, WorkFailed
from wizard.tui.problems import problem_from
from wizard.tui.state import FlowState

Post = Callable[[Message], object]


def connect(state: FlowState, raw_url: str, post: Post) -> None:
    """Start the practice database or parse the URL, then connect (with the slow-start note)."""
    started = state.clock()
    try:
        state.close()
        target = practice.start() if state.practice else connection.parse_url(raw_url)
        state.target = target

        def slow() -> None:
            post(ConnectSlow())

        conn = connection.connect(target, timeout=state.connect_timeout, on_slow=slow)
        state.conn = conn
        state.server_version = connection.server_version(conn)
    except WizardError as error:
        post(ConnectFailed(problem_from(state, error, "Connect")))
        return
    post(Connected(state.server_version, state.clock() - started))


def verify(state: FlowState, post: Post) -> None:
    try:
        report = run_verify(state.connection(), state.migrations)
    except Exception as error:  # a dropped connection must not crash the screen
        post(WorkFailed(problem_from(state, error, "Verify")))
        return
    state.verify = report
    post(VerifyFinished(report))


def context(state: FlowState) -> operations.Context:
    """The operations' view of the flow: its connection, target and migrations."""
    if state.target is None:
        raise RuntimeError("not connected")
    return operations.Context(state.connection(), state.target, state.server_version, state.migrations)


def run_options(state: FlowState) -> RunOptions:
    """The flow's lock timeout, wait budget, cancel flag and clock: the same for every operation."""
    return RunOptions(
        state.lock_timeout_ms, state.max_wait, cancel=state.cancel, clock=state.clock, online_rows=state.online_rows
    )


def interrupt(state: FlowState) -> None:
    """Ask the server to stop the statement running now (a long CREATE INDEX, say); the
    engine then sees the cancel flag and rolls the transaction back."""
    conn = state.conn
    if conn is not None and not conn.closed:
        # Nothing running, or the link is gone: then the flag alone is enough.
        with contextlib.suppress(Exception):
            conn.cancel_safe(timeout=5)
