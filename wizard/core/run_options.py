"""The options of an operation that changes the schema (migrate, rollback, rehearse): its lock
timeout and wait budget, the online index builds' threshold, what to do to blocking sessions,
the user's cancel. Apart from runner.py, which needs pglast: a backup or a screen that only
passes options along does not pay for importing the SQL parser."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from wizard.core.blockers import ACTIONS
from wizard.core.defaults import (
    DEFAULT_BLOCKER_GRACE,
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_MAX_WAIT,
    DEFAULT_ONLINE_ROWS,
)
from wizard.core.errors import Cancelled


@dataclass
class RunOptions:
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS
    max_wait: float = DEFAULT_MAX_WAIT
    cancel: threading.Event = field(default_factory=threading.Event)
    # Times the durations it reports (the wait budget always uses the real clock): a
    # screen's snapshot test passes a fixed one.
    clock: Callable[[], float] = time.monotonic
    # Indexes on existing tables with at least this many rows are built CONCURRENTLY after the
    # rest of the migration commits (online.py); None: never, 0: always.
    online_rows: int | None = DEFAULT_ONLINE_ROWS
    # Set only by the user (--cancel-blockers, --terminate-blockers): once a statement has
    # waited `blocker_grace` seconds for a lock, cancel the blocking query or end its session.
    blocker_action: str | None = None
    blocker_grace: float = DEFAULT_BLOCKER_GRACE
    # Opens a second connection to the same database, to watch an online index build.
    monitor: Callable[[], psycopg.Connection[Any]] | None = None
    pooled: bool = False  # through a transaction-mode pooler: no session-level advisory lock
    _act_now: str | None = field(default=None, repr=False)

    def act_on_blockers_now(self, action: str) -> None:
        """The user pressed a button: cancel or disconnect the blocking sessions at the next try."""
        if action not in ACTIONS:
            raise ValueError(action)
        self._act_now = action

    def blocker_action_due(self, waited: float) -> str | None:
        """What to do to the blocking sessions now, if the user asked for anything."""
        action, self._act_now = self._act_now, None
        if action is None and self.blocker_action and waited >= self.blocker_grace:
            action = self.blocker_action
        return action

    def pause(self, seconds: float) -> None:
        """Sleep, but wake up at once when the user cancels."""
        if self.cancel.wait(seconds):
            raise Cancelled("Cancelled by the user; the transaction was rolled back and nothing was changed.")

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("Cancelled by the user; the transaction was rolled back and nothing was changed.")
