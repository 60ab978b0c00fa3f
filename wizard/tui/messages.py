"""Messages the thread workers post to the screens, named for what happened."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from wizard.core.events import Event
from wizard.core.verify import CheckResult, VerifyReport
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
