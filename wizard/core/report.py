"""The session report: a Markdown record of every operation (migrate, rollback, backup, restore,
rehearse), for a reviewer.

It holds the target (never the password), versions, each statement with its duration,
NOTICEs and lock waits, the verification results, the backup (or why there was none),
and the structure of the migration's tables before and after, side by side.
Reports are written 0600 in a 0700 folder under the user data directory.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from wizard import __version__
from wizard.core import catalog, event_lines, paths
from wizard.core.catalog import ColumnInfo
from wizard.core.connection import Target
from wizard.core.doctor import Diagnosis, explain
from wizard.core.errors import ReportNotWritten, WizardError
from wizard.core.events import (
    AlreadyApplied,
    BaselineRecorded,
    Event,
    IndexBuildProgress,
    LockWait,
    MigrationApplied,
    MigrationRolledBack,
    StatementFinished,
    StatementSkipped,
    WaitingForOtherRun,
)
from wizard.core.migrations import Migration
from wizard.core.verify_report import VerifyReport

Schema = dict[str, list[ColumnInfo]]


def schema_of(conn: psycopg.Connection[Any], migrations: list[Migration]) -> Schema:
    """The columns of every table the migrations touch (empty list: the table is absent), in
    one query (a round trip per table was 0.2 s of a backup over a 50 ms link)."""
    tables = [(m.expectations.schema, table) for m in migrations for table in m.expectations.tables_touched()]
    found = catalog.snapshot(conn, catalog.Wanted(frozenset(tables)))
    return {table: found.columns(schema, table) for schema, table in tables}


@dataclass
class SessionReport:
    action: str
    target: Target
    server_version: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: list[Event] = field(default_factory=list)
    before: Schema = field(default_factory=dict)
    after: Schema = field(default_factory=dict)
    verify: VerifyReport | None = None
    backup: str = ""
    outcome: str = ""
    problem: Diagnosis | None = None  # why it failed and what to do, when it failed
    path: Path | None = None

    def record(self, event: Event) -> None:
        self.events.append(event)

    def render(self) -> str:
        lines = [
            f"# migration-wizard {self.action} report",
            "",
            f"- When: {self.started_at.strftime('%Y-%m-%d %H:%M:%S UTC')}",
            f"- Target: {self.target.describe()}",
            f"- Server: PostgreSQL {self.server_version}",
            f"- migration-wizard: {__version__}",
            f"- Backup: {self.backup or 'none recorded'}",
            f"- Outcome: {self.outcome or 'unknown'}",
            "",
            "## Statements",
            "",
        ]
        lines += self._statements() or ["Nothing was run."]
        if self.problem is not None:
            lines += ["", "## What went wrong and what to do", ""]
            # The same words as the screens and commands: probable answers with their alternatives.
            from wizard.core.diagnosis_lines import explanation, plain

            lines += plain(explanation(self.problem), indent="   ")
            if self.problem.id:
                lines += ["", f"(rule {self.problem.id}, confidence {self.problem.confidence})"]
        lines += ["", "## Schema before and after", ""]
        for table in sorted(set(self.before) | set(self.after)):
            lines += self._side_by_side(table)
        lines += ["## Verification", ""]
        lines += self._verification()
        return self.target.redact("\n".join(lines) + "\n")

    def _statements(self) -> list[str]:
        lines: list[str] = []
        for event in self.events:
            match event:
                case StatementFinished(index=i, sql=sql, line=line, status=status, duration=took):
                    lines.append(f"{i}. `{' '.join(sql.split())}` (line {line}): {status}, {took * 1000:.0f} ms")
                    lines += [f"   - {notice}" for notice in event.notices]
                case StatementSkipped(index=i, sql=sql, reason=reason):
                    lines.append(f"{i}. `{' '.join(sql.split())}`: skipped, {reason}")
                case LockWait(relation=rel, waited=waited, holders=holders, retry_in=retry):
                    who = "; ".join(h.describe() for h in holders) or "a session that had finished"
                    lines.append(f"- Lock wait on {rel} after {waited:.1f} s, held by {who}; retried in {retry:.1f} s")
                case WaitingForOtherRun(waited=waited):
                    lines.append(f"- Waited {waited:.0f} s for another run of the wizard")
                case BaselineRecorded(version=v, name=name):
                    lines.append(f"- Recorded {v}_{name} as the baseline")
                case MigrationApplied(version=v, name=name, duration=took, preexisting=pre):
                    lines.append(
                        f"- Applied {v}_{name} in {took:.2f} s"
                        + (f"; already present: {', '.join(pre)}" if pre else "")
                    )
                case MigrationRolledBack(version=v, name=name, duration=took, kept=kept):
                    lines.append(
                        f"- Rolled back {v}_{name} in {took:.2f} s" + (f"; kept: {', '.join(kept)}" if kept else "")
                    )
                case AlreadyApplied(version=v, name=name):
                    lines.append(f"- {v}_{name} was already applied")
                case IndexBuildProgress(waiting_for=()):
                    continue  # the build's progress is for watching, not for the record
                case _:  # backup, restore and rehearsal steps: as the screens and the CLI say them
                    lines += [f"{'  ' * said.indent}- {said.text}" for said in event_lines.lines(event, 200)]
        return lines

    def _side_by_side(self, table: str) -> list[str]:
        before = {c.name: c for c in self.before.get(table, [])}
        after = {c.name: c for c in self.after.get(table, [])}
        names = list(before) + [n for n in after if n not in before]
        lines = [f"### {table}", ""]
        if not before and not after:
            return [*lines, "Absent before and after.", ""]
        lines += [
            "| column | before: type | before: nullable | after: type | after: nullable | change |",
            "|---|---|---|---|---|---|",
        ]
        for name in names:
            old, new = before.get(name), after.get(name)
            change = "NEW" if old is None else "REMOVED" if new is None else "changed" if old != new else ""
            lines.append(f"| {name} | {_type(old)} | {_nullable(old)} | {_type(new)} | {_nullable(new)} | {change} |")
        return [*lines, ""]

    def _verification(self) -> list[str]:
        if self.verify is None:
            return ["Not run."]
        lines = [f"Overall: {'OK' if self.verify.ok else 'FAILED'}", ""]
        lines += [f"- {c.status.upper()} {c.title}: {c.detail}" for c in self.verify.checks]
        return lines

    def write(self) -> Path:
        stamp = self.started_at.strftime("%Y%m%dT%H%M%SZ")
        safe_db = paths.safe_name(self.target.database)
        folder = paths.reports_dir()
        # A new file, never another run's: runs that end in the same second (several at once, on
        # one database) each take the next free number, the file system deciding who got which.
        for counter in itertools.count(1):
            path = folder / f"{stamp}-{self.action}-{safe_db}{f'-{counter}' if counter > 1 else ''}.md"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            break
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.render())
        return path.resolve()


def _type(column: ColumnInfo | None) -> str:
    return column.data_type if column else ""


def _nullable(column: ColumnInfo | None) -> str:
    if column is None:
        return ""
    return "YES" if column.nullable else "NO"


@contextmanager
def recording(
    conn: psycopg.Connection[Any],
    target: Target,
    server_version: str,
    migrations: list[Migration],
    action: str,
    backup: str,
) -> Iterator[SessionReport]:
    """Record a migrate or rollback whatever happens; the report's path is in `.path` afterwards."""
    record = SessionReport(action, target, server_version, backup=backup)
    record.before = schema_of(conn, migrations)
    failure: BaseException | None = None
    try:
        yield record
    except BaseException as error:
        failure = error
        record.outcome = _failed_outcome(error)
        if isinstance(error, Exception):
            record.problem = explain(error)
        raise
    finally:
        # Never let the record hide what happened: a late cancel request or a dropped link
        # may fail this last look at the schema, which then stays empty in the report.
        if not conn.closed:
            with contextlib.suppress(psycopg.Error):
                record.after = schema_of(conn, migrations)
        try:
            record.path = record.write()
        except OSError as error:
            problem = _not_written(error)
            if failure is None:
                raise problem from None
            # The operation's own failure is what the user must see; the report's is added to it.
            if isinstance(failure, WizardError):
                failure.detail = "\n".join(filter(None, (failure.detail, problem.message)))


def _failed_outcome(error: BaseException) -> str:
    if isinstance(error, KeyboardInterrupt):
        how = getattr(error, "signal_name", "") or "Ctrl+C"
        return f"interrupted ({how}): the open transaction was rolled back by the server"
    if isinstance(error, WizardError):
        nothing = getattr(error, "nothing_changed", True)
        return f"failed: {error.message}" + ("; nothing was changed" if nothing else "")
    text = str(error).strip()
    return f"failed: {text.splitlines()[0] if text else repr(error)}"


def _not_written(error: OSError) -> ReportNotWritten:
    where = error.filename or "the reports folder"
    reason = error.strerror or str(error)
    return ReportNotWritten(
        f"The session report could not be written to {where}: {reason}.",
        fix=(
            "Free some space (or fix the folder's permissions) where the wizard keeps its reports:"
            " the user data directory's migration-wizard/reports folder, or set XDG_DATA_HOME elsewhere.",
        ),
    )
