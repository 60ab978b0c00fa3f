"""What the operations report while they work. The CLI prints these (as lines, or as JSON
lines with --json); the TUI turns them into Messages. `to_json` is the one JSON shape."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LockHolder:
    pid: int
    user: str
    state: str
    seconds_in_state: float
    application: str
    mode: str
    query: str
    transaction_age: float = 0.0  # seconds since its transaction began (0: none open)

    def describe(self) -> str:
        app = f" ({self.application})" if self.application else ""
        state = self.state or "unknown state"
        text = f"pid {self.pid}{app}, {state} for {self.seconds_in_state:.0f} s"
        if self.transaction_age >= 1 and self.transaction_age - self.seconds_in_state >= 1:
            text += f" (its transaction began {self.transaction_age:.0f} s ago)"
        if self.mode:
            text += f", {self.mode}" if self.mode.startswith(("holds ", "waits ")) else f", holding {self.mode}"
        if self.query:
            text += f": {self.query}"
        return text


@dataclass(frozen=True)
class MigrationStarted:
    version: str
    name: str
    total: int  # the file's statements
    attempt: int
    direction: str = "up"
    running: int = 0  # how many of them run in this transaction (the rest: built online, or kept)


@dataclass(frozen=True)
class StatementStarted:
    version: str
    index: int
    total: int
    sql: str
    line: int


@dataclass(frozen=True)
class StatementFinished:
    version: str
    index: int
    total: int
    sql: str
    line: int
    status: str
    duration: float
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatementSkipped:
    """A rollback statement left out because its object existed before the migration."""

    version: str
    index: int
    total: int
    sql: str
    reason: str


@dataclass(frozen=True)
class LockWait:
    version: str
    relation: str
    waited: float
    budget: float
    retry_in: float
    holders: tuple[LockHolder, ...]


@dataclass(frozen=True)
class BlockerSignalled:
    """The user asked to cancel the query of (or disconnect) a session that blocked the migration."""

    pid: int
    action: str  # "cancel" or "terminate"
    done: bool  # False: the server refused (no right to signal it) or the session had gone
    query: str


@dataclass(frozen=True)
class TransactionalPartCommitted:
    """A migration's statements except its online index builds are committed and recorded
    (phase 'transactional' in the ledger); the builds follow, each its own step."""

    version: str
    name: str
    duration: float
    online: tuple[str, ...]  # the indexes still to build, CONCURRENTLY


@dataclass(frozen=True)
class IndexBuildStarted:
    version: str
    index: str
    table: str
    sql: str
    rows: int  # the table's estimated rows
    repairs: bool = False  # an invalid index left by an interrupted build was dropped first


@dataclass(frozen=True)
class IndexBuildProgress:
    """A sample of pg_stat_progress_create_index for the build (blocks or tuples done of total)."""

    version: str
    index: str
    phase: str
    done: int
    total: int
    elapsed: float
    waiting_for: tuple[LockHolder, ...] = ()

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.done / self.total) if self.total > 0 else None


@dataclass(frozen=True)
class IndexBuildFinished:
    version: str
    index: str
    duration: float
    skipped: str = ""  # why nothing was built (e.g. "a valid index of that name already exists")


@dataclass(frozen=True)
class WaitingForOtherRun:
    """Another run of the wizard is applying migrations to this database."""

    waited: float
    pids: tuple[int, ...]


@dataclass(frozen=True)
class BaselineRecorded:
    version: str
    name: str


@dataclass(frozen=True)
class MigrationApplied:
    version: str
    name: str
    duration: float
    preexisting: tuple[str, ...]


@dataclass(frozen=True)
class AlreadyApplied:
    version: str
    name: str


@dataclass(frozen=True)
class MigrationRolledBack:
    version: str
    name: str
    duration: float
    kept: tuple[str, ...]


@dataclass(frozen=True)
class BackupStarted:
    path: str
    tool: str
    reason: str
    tables: int


@dataclass(frozen=True)
class BackupProgress:
    """A line pg_dump printed (--verbose), with how far it has got."""

    line: str
    tables_done: int
    tables_total: int
    bytes_written: int
    elapsed: float


@dataclass(frozen=True)
class RehearsalStep:
    """`rehearse` begins a step: backup, server, restore, check, migrate, verify or cleanup."""

    step: str
    text: str


@dataclass(frozen=True)
class RehearsalWarning:
    """An object of the backup the local copy could not restore. `kind`: extension, role or other;
    `name`: the missing extension or role (empty for other)."""

    kind: str
    object: str
    reason: str
    name: str = ""

    @property
    def text(self) -> str:
        return f"{self.object} was not restored on the copy: {self.reason}"


@dataclass(frozen=True)
class BackupVerified:
    """The backup file is complete and holds every table."""

    path: str
    bytes: int
    tables: int
    database_bytes: int


@dataclass(frozen=True)
class RestoreStarted:
    """The restore begins: what it removes first, how the file is read, in one transaction."""

    path: str
    tables: int
    removes: int
    how: str


@dataclass(frozen=True)
class SettingLeftOut:
    """Something in the backup this server does not have, not sent: a setting (a newer pg_dump
    wrote it) or a column option (another server build's); `name` says which."""

    name: str
    server_major: int
    kind: str = "setting"  # or "column option"


@dataclass(frozen=True)
class TableRestored:
    """A table of the backup after the restore: its rows in the backup and now."""

    table: str
    rows_in_backup: int
    rows_now: int


@dataclass(frozen=True)
class VerifyFinished:
    ok: bool
    checks: int
    failed: int
    warnings: int


@dataclass(frozen=True)
class ReportWritten:
    """The operation's session report (Markdown, 0600) is at `path`."""

    path: str


Event = (
    MigrationStarted
    | StatementStarted
    | StatementFinished
    | StatementSkipped
    | LockWait
    | BlockerSignalled
    | WaitingForOtherRun
    | TransactionalPartCommitted
    | IndexBuildStarted
    | IndexBuildProgress
    | IndexBuildFinished
    | BaselineRecorded
    | MigrationApplied
    | AlreadyApplied
    | MigrationRolledBack
    | BackupStarted
    | BackupProgress
    | RehearsalStep
    | RehearsalWarning
    | BackupVerified
    | RestoreStarted
    | SettingLeftOut
    | TableRestored
    | VerifyFinished
    | ReportWritten
)
Emit = Callable[[Event], None]
EVENT_TYPES: tuple[type, ...] = Event.__args__


def event_name(event: Event | type) -> str:
    """StatementFinished -> statement_finished: the `event` key of its JSON line."""
    kind = event if isinstance(event, type) else type(event)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind.__name__).lower()


def to_json(event: Event) -> dict[str, Any]:
    """{"event": "statement_finished", ...its fields}: one line of `--json` output."""
    return {"event": event_name(event), **dataclasses.asdict(event)}


def fanout(*emits: Emit) -> Emit:
    """One Emit that hands each event to every one of `emits`, in order."""

    def emit(event: Event) -> None:
        for each in emits:
            each(event)

    return emit


def ignore(_event: Event) -> None:
    """An Emit for callers that do not follow progress."""
