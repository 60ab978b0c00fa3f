"""Messages the thread workers post to the screens, named for what happened."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from wizard.core.events import Event
from wizard.core.verify_report import CheckResult, VerifyReport
from wizard.tui.problems import Problem


@dataclass
class Connected(Message):
    server_version: str
    seconds: float


@dataclass
class ConnectSlow(Message):
    """No answer yet after a couple of seconds: a suspended Neon compute is waking."""


@dataclass
class ConnectFailed(Message):
    problem: Problem


@dataclass
class PreflightFinished(Message):
    checks: list[CheckResult]


@dataclass
class EngineEvent(Message):
    """One event of the core engine (a statement started or finished, a lock wait ...)."""

    event: Event


@dataclass
class MigrationFinished(Message):
    applied: list[str]
    seconds: float


@dataclass
class MigrationFailed(Message):
    problem: Problem | None  # None when the user cancelled
    sql: str
    line: int | None
    nothing_changed: bool
    cancelled: bool


@dataclass
class VerifyFinished(Message):
    report: VerifyReport


@dataclass
class WorkFailed(Message):
    """A worker's database call failed (connection lost, permission ...)."""

    problem: Problem


# The Backup step and the Restore screen. Their core types are imported for type checking
# only: the core's backup and restore modules are not needed before those screens open.
if TYPE_CHECKING:
    from wizard.core.backup import BackupResult
    from wizard.core.restore import RestorePlan, RestoreResult


@dataclass
class BackupVerified(Message):
    """pg_dump finished and the file was checked: complete, every table in it."""

    result: BackupResult


@dataclass
class BackupStopped(Message):
    """The backup did not finish: it failed (problem) or the user cancelled (None). No file is left."""

    problem: Problem | None


@dataclass
class RestorePlanned(Message):
    """A backup file was read: what it holds, and what the restore would remove first."""

    plan: RestorePlan


@dataclass
class RestoreStatus(Message):
    """What the restore is doing now, in words."""

    text: str


@dataclass
class RestoreFinished(Message):
    result: RestoreResult  # table -> (rows in the backup, rows now), settings left out
    verify: VerifyReport | None
    verify_problem: Problem | None  # verify could not run (the restore itself succeeded)
    report: Path | None


@dataclass
class RestoreFailed(Message):
    problem: Problem
    report: Path | None
    committed: bool = False  # the restore committed, then a later step failed (FailedAfterCommit)
