"""Printing for the headless commands: every line passes through the password redactor."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from wizard.core.connection import redact
from wizard.core.events import (
    AlreadyApplied,
    BaselineRecorded,
    Event,
    LockWait,
    MigrationApplied,
    MigrationRolledBack,
    MigrationStarted,
    StatementFinished,
    StatementSkipped,
    StatementStarted,
    WaitingForOtherRun,
)
from wizard.core.units import human_duration


def _supports_unicode(stream: TextIO) -> bool:
    return (getattr(stream, "encoding", "") or "").lower().replace("-", "") in ("utf8", "utf16")


class Printer:
    """Writes to stdout/stderr, redacting every known secret and any URL password."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.secrets: tuple[str, ...] = ()
        self.ok_mark = "✓" if _supports_unicode(self.stdout) else "ok"
        self.fail_mark = "✗" if _supports_unicode(self.stdout) else "FAILED"

    def out(self, text: str = "", *, end: str = "\n") -> None:
        self.stdout.write(redact(text, self.secrets) + end)
        self.stdout.flush()

    def err(self, text: str = "") -> None:
        self.stderr.write(redact(text, self.secrets) + "\n")
        self.stderr.flush()


def one_line(sql: str, width: int = 72) -> str:
    text = re.sub(r"\s+", " ", sql).strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def table(rows: Sequence[dict[str, Any]], indent: str = "      ") -> list[str]:
    if not rows:
        return []
    headers = list(rows[0].keys())
    cells = [[_cell(r.get(h)) for h in headers] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = [indent + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append(indent + "  ".join("-" * w for w in widths))
    lines += [indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return lines


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


class EventPrinter:
    """Renders engine events as they happen: one line per statement."""

    def __init__(self, printer: Printer) -> None:
        self.p = printer

    def __call__(self, event: Event) -> None:
        p = self.p
        match event:
            case MigrationStarted(version=v, name=n, total=total, attempt=attempt, direction=direction):
                verb = "Applying" if direction == "up" else "Rolling back"
                again = f", attempt {attempt}" if attempt > 1 else ""
                p.out(f"{verb} {v}_{n} ({total} statements, in one transaction{again})")
            case StatementStarted():
                pass
            case StatementFinished(index=i, total=total, sql=sql, line=line, status=status, duration=took):
                took_text = human_duration(took)
                p.out(f"  {p.ok_mark} [{i:>2}/{total}] line {line:<3} {one_line(sql, 60)}  -> {status} ({took_text})")
                for notice in event.notices:
                    p.out(f"         {notice}")
            case StatementSkipped(index=i, total=total, sql=sql, reason=reason):
                p.out(f"  - [{i:>2}/{total}] {one_line(sql, 50)}: skipped, {reason}")
            case LockWait(relation=rel, waited=waited, budget=budget, retry_in=retry, holders=holders):
                who = "; ".join(h.describe() for h in holders) or "a session that has just finished"
                p.out(f"  waiting for a lock on {rel}, held by {who}")
                p.out(f"  (rolled back this try; retrying in {retry:.1f} s, waited {waited:.0f} s of {budget:.0f} s)")
            case WaitingForOtherRun(waited=waited, pids=pids):
                who = f" (pid {', '.join(map(str, pids))})" if pids else ""
                p.out(f"  another migration-wizard run{who} is working on this database; waiting ({waited:.0f} s)")
            case BaselineRecorded(version=v, name=n):
                p.out(f"  recorded {v}_{n} as the baseline: the application's tables were already there")
            case MigrationApplied(version=v, name=n, duration=took, preexisting=pre):
                p.out(f"Applied {v}_{n} in {human_duration(took)}; recorded in the ledger.")
                if pre:
                    p.out("  Already present before, left as they were: " + ", ".join(object_label(k) for k in pre))
            case AlreadyApplied(version=v, name=n):
                p.out(f"{v}_{n} is already applied (another run finished it): nothing to do.")
            case MigrationRolledBack(version=v, name=n, duration=took, kept=kept):
                p.out(f"Rolled back {v}_{n} in {human_duration(took)}; removed from the ledger.")
                if kept:
                    p.out("  Kept, because they existed before it: " + ", ".join(object_label(k) for k in kept))


def object_label(key: str) -> str:
    """'column:attachments.storage_key' as 'column attachments.storage_key'."""
    kind, _, name = key.partition(":")
    return f"{kind} {name}"
