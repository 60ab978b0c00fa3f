"""What verify finds, as data: each check's result, each migration's state, the report.

Kept apart from the checks themselves (verify.py), which the screens and commands that only
show a report do not need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PASS, WARN, FAIL = "pass", "warn", "fail"
# What verify says of each migration (its checks taken together).
APPLIED_VERIFIED, FAILED, NOT_APPLIED, MODIFIED = "applied_verified", "failed", "not_applied", "modified"
STATE_WORDS = {
    APPLIED_VERIFIED: "applied and verified",
    FAILED: "failed",
    NOT_APPLIED: "not applied",
    MODIFIED: "file changed since it was applied",
}
_RANK = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: str
    detail: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    fix: tuple[str, ...] = ()  # the knowledge base's fix when the check met a database error
    migration: str = ""  # the version whose expectations declare the check ("" for preflight's)


@dataclass(frozen=True)
class MigrationState:
    """One migration as verify found it: applied_verified, failed or not_applied, and why."""

    version: str
    name: str
    state: str
    detail: str
    rolled_back_at: datetime | None = None  # not applied because the wizard rolled it back then

    @property
    def label(self) -> str:
        return f"{self.version}_{self.name}"

    @property
    def sentence(self) -> str:
        """'<version>_<name>: not applied (rolled back by migration-wizard at <when>)'."""
        return f"{self.label}: {STATE_WORDS[self.state]} ({self.detail})"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": self.version, "name": self.name, "state": self.state}
        if self.rolled_back_at is not None:
            data["rolled_back_at"] = self.rolled_back_at.astimezone(UTC).isoformat(timespec="seconds")
        return data | {"detail": self.detail}


@dataclass(frozen=True)
class VerifyReport:
    checks: list[CheckResult]
    migrations: list[MigrationState] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks) and all(m.state == APPLIED_VERIFIED for m in self.migrations)

    def checks_of(self, version: str) -> list[CheckResult]:
        return [c for c in self.checks if c.migration == version]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "migrations": [m.to_json() for m in self.migrations],
            "checks": [
                {"id": c.id, "title": c.title, "status": c.status, "detail": c.detail, "rows": c.rows}
                | ({"fix": list(c.fix)} if c.fix else {})
                for c in self.checks
            ],
        }


def when(moment: datetime) -> str:
    """A ledger time for people: '2026-11-30 20:01 UTC'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def worst(statuses: Sequence[str]) -> str:
    return max(statuses, key=lambda s: _RANK[s], default=PASS)


def judge(
    version: str,
    name: str,
    checks: Sequence[CheckResult],
    applied_at: datetime | None,  # in the ledger since; None: not recorded
    rolled_back_at: datetime | None,  # the wizard's latest rollback of it, when not recorded
    present: bool,  # some of its own objects are here although the ledger does not record it
    modified: bool = False,  # the file's checksum differs from the one the ledger recorded
) -> MigrationState:
    """A migration's checks taken together, in words."""
    if applied_at is None and not present:
        if rolled_back_at is not None:
            detail = f"rolled back by migration-wizard at {when(rolled_back_at)}"
            return MigrationState(version, name, NOT_APPLIED, detail, rolled_back_at)
        detail = "none of it is here and the ledger does not record it: migrate applies it"
        return MigrationState(version, name, NOT_APPLIED, detail)
    failed = [f"“{c.title}”" for c in checks if c.status == FAIL]
    warned = sum(c.status == WARN for c in checks)
    where = f"in the ledger since {when(applied_at)}" if applied_at else "not recorded in the ledger (run by hand?)"
    if modified:
        # The checks say what the file says now, not what ran: the database may not match either.
        found = f"{len(failed)} of {len(checks)} checks failed: {', '.join(failed)}" if failed else "its checks pass"
        applied = f" at {when(applied_at)}" if applied_at else ""
        detail = (
            f"the file is not the one applied{applied}, {found}; restore the original file"
            " (a schema change belongs in a new migration)"
        )
        return MigrationState(version, name, MODIFIED, " ".join(detail.split()))
    if failed:
        detail = f"{len(failed)} of {len(checks)} checks failed: {', '.join(failed)}; {where}"
        return MigrationState(version, name, FAILED, detail)
    warnings = f", {warned} with a warning" if warned else ""
    return MigrationState(version, name, APPLIED_VERIFIED, f"all {len(checks)} checks passed{warnings}; {where}")
