"""What the guided flow has learned so far, shared by its screens."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.core.defaults import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_MAX_WAIT,
    DEFAULT_ONLINE_ROWS,
)

if TYPE_CHECKING:
    import psycopg

    from wizard.core.backup import BackupResult
    from wizard.core.connection import Target
    from wizard.core.events import Event
    from wizard.core.migrations import Migration
    from wizard.core.verify_report import CheckResult, VerifyReport
    from wizard.tui.problems import Problem


@dataclass
class FlowState:
    """Everything a screen needs from the steps before it. Times come from `clock` so
    that snapshot tests can fix them."""

    practice: bool = False
    migrations_dir: Path | None = None
    initial_url: str = ""
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS  # one try at a busy table (as migrate --lock-timeout)
    max_wait: float = DEFAULT_MAX_WAIT  # retrying a busy table in all (as migrate --max-wait)
    online_rows: int | None = DEFAULT_ONLINE_ROWS  # indexes on tables this big are built online
    clock: Callable[[], float] = time.monotonic
    target: Target | None = None
    conn: psycopg.Connection[Any] | None = None
    server_version: str = ""
    preflight: list[CheckResult] = field(default_factory=list)
    backup_acknowledged: bool = False  # the user typed that they have their own backup
    backup: BackupResult | None = None  # the verified backup the Backup step took this session
    events: list[Event] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    migration_seconds: float | None = None
    migration_error: str = ""
    cancelled: bool = False
    verify: VerifyReport | None = None
    last_problem: Problem | None = None  # the latest error, for the troubleshooting panel (F1)
    report_path: Path | None = None
    verify_only: bool = False
    rollback_only: bool = False
    restore_only: bool = False  # Welcome's "Restore from a backup": Connect, then Restore
    cancel: threading.Event = field(default_factory=threading.Event)
    _migrations: list[Migration] | None = None

    @property
    def migrations(self) -> list[Migration]:
        if self._migrations is None:
            # Imported on first use: pglast costs start-up time the first screen does not need.
            from wizard.core.migrations import load_migrations

            self._migrations = load_migrations(self.migrations_dir)
        return self._migrations

    def close(self) -> None:
        if self.conn is not None and not self.conn.closed:
            self.conn.close()
        self.conn = None

    def connection(self) -> psycopg.Connection[Any]:
        """The open connection; the screens call the core through it, one worker at a time."""
        if self.conn is None or self.conn.closed:
            raise RuntimeError("not connected")
        return self.conn
