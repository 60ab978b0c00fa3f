"""What the engine reports while it works. The CLI prints these; the TUI turns them into Messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class LockHolder:
    pid: int
    user: str
    state: str
    seconds_in_state: float
    application: str
    mode: str
    query: str

    def describe(self) -> str:
        app = f" ({self.application})" if self.application else ""
        state = self.state or "unknown state"
        text = f"pid {self.pid}{app}, {state} for {self.seconds_in_state:.0f} s, holding {self.mode}"
        if self.query:
            text += f": {self.query}"
        return text


@dataclass(frozen=True)
class MigrationStarted:
    version: str
    name: str
    total: int
    attempt: int
    direction: str = "up"


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


Event = (
    MigrationStarted
    | StatementStarted
    | StatementFinished
    | StatementSkipped
    | LockWait
    | WaitingForOtherRun
    | BaselineRecorded
    | MigrationApplied
    | AlreadyApplied
    | MigrationRolledBack
    | BackupStarted
    | BackupProgress
    | RehearsalStep
    | RehearsalWarning
)
Emit = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """An Emit for callers that do not follow progress."""
