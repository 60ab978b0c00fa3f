"""A verified backup with pg_dump before anything changes.

Verified means: pg_dump exited 0, the file is complete (pg_restore --list reads a custom
archive; a plain dump ends with pg_dump's completion line), and every table of the
database (or the one asked for) is in it (dumpfile.py reads it without loading it).

pg_dump writes under a hidden temporary name (`.NAME.partial`), renamed to NAME only once the
file is verified: a wizard killed outright (SIGKILL, a power cut) leaves no cut-off file under a
backup's name, and a custom archive cut off mid-table still passes `pg_restore --list`. A failed,
cancelled or interrupted backup removes its temporary file and stops its pg_dump.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from wizard.core import dumpfile, paths, pgtools, tool_finder
from wizard.core.connection import Target
from wizard.core.doctor import diagnose
from wizard.core.errors import BackupFailed, Cancelled, WizardError
from wizard.core.events import BackupProgress, BackupStarted, Emit
from wizard.core.flight import flight, raise_failed

FORMATS = ("custom", "plain")
# A custom archive is compressed with gzip at level 1, not pg_dump's default 6: level 6 spends
# about three times the CPU for an archive some 15-20% smaller, and pg_dump compresses on this
# computer while the database waits. Every pg_restore reads any level.
CUSTOM_COMPRESSION = 1
_DUMPING = re.compile(r"dumping contents of table \"?([\w.]+)\"?")
AGAIN = (
    "Run the backup again. If it fails the same way, check the free space where backups are written,"
    " or choose another folder (--output)."
)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    format: str
    tables: tuple[str, ...]
    tool: tool_finder.PgTool
    reason: str
    database_bytes: int
    report: Path | None = None  # the session report of a `backup` on its own

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "report": str(self.report) if self.report else None,
            "path": str(self.path),
            "bytes": self.bytes,
            "format": self.format,
            "tables": list(self.tables),
            "pg_dump": {"path": str(self.tool.path), "version": self.tool.version},
            "database_bytes": self.database_bytes,
        }


_TABLES = (
    "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname NOT LIKE 'pg\\_%%' AND (%s::text IS NULL OR c.relname = %s::text OR"
    " n.nspname || '.' || c.relname = %s::text) ORDER BY 1"
)


def tables_of(conn: psycopg.Connection[Any], only: str | None = None) -> list[str]:
    """schema.table of every ordinary table a backup must hold (the wizard's ledger included)."""
    rows = conn.execute(_TABLES, (only, only, only)).fetchall()
    return [str(r[0]) for r in rows]


def _contents(conn: psycopg.Connection[Any], only: str | None) -> tuple[list[str], int]:
    """tables_of() and the database's size, asked together: one round trip."""
    tables, size = flight(conn, [(_TABLES, (only, only, only)), ("SELECT pg_database_size(current_database())", None)])
    raise_failed([tables, size])
    return [str(r[0]) for r in tables.rows or []], int(size.rows[0][0]) if size.rows else 0


def default_path(target: Target, fmt: str, folder: Path | None = None) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = paths.safe_name(target.database)
    return (folder or paths.backups_dir()) / f"{safe}-{stamp}.{'dump' if fmt == 'custom' else 'sql'}"


def _output(target: Target, fmt: str, output: Path | None) -> Path:
    if output is None:
        return default_path(target, fmt)
    output = output.expanduser()
    if output.is_dir():
        return default_path(target, fmt, output)
    if not output.parent.is_dir():
        raise BackupFailed(
            f"The folder {output.parent} does not exist.", fix=("Create it, or choose another --output.",)
        )
    return output


def run_backup(
    conn: psycopg.Connection[Any],
    target: Target,
    emit: Emit,
    *,
    fmt: str = "custom",
    table: str | None = None,
    output: Path | None = None,
    cancel: threading.Event | None = None,
    prefer_bundled: bool = False,
) -> BackupResult:
    # pg_dump (to write) and pg_restore (to read the file back) are found while the database
    # answers: their `--version` runs in parallel with the round trip, not after it.
    tool_finder.prefetch("pg_dump", "pg_restore")
    server_major = conn.info.server_version // 10000
    expected, database_bytes = _contents(conn, table)
    if table and not expected:
        raise BackupFailed(
            f"There is no table {table!r} to back up in this database.",
            fix=("Check the table's name (`plan` names the ones the migration changes), or back up everything.",),
        )
    choice = pgtools.choose("pg_dump", server_major, prefer_bundled=prefer_bundled)
    path = _output(target, fmt, output).resolve()
    partial = dumpfile.partial_path(path)
    args = [
        str(choice.tool.path),
        "--verbose",
        f"--format={'custom' if fmt == 'custom' else 'plain'}",
        *([f"--compress={CUSTOM_COMPRESSION}"] if fmt == "custom" else []),
        "--file",
        str(partial),
    ]
    if table:
        args += ["--table", expected[0]]
    _remove_leftovers(path.parent)
    emit(BackupStarted(str(path), f"pg_dump {choice.tool.version}", choice.reason, len(expected)))
    # Created private before pg_dump writes into it (it keeps the mode when it truncates).
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    try:
        with pgtools.connection_env(target, choice) as env:
            _run(args, env, partial, len(expected), emit, cancel or threading.Event())
        _verify(partial, expected)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(path, path.stat().st_size, fmt, tuple(expected), choice.tool, choice.reason, database_bytes)


LEFTOVER_AGE = 24 * 3600.0  # seconds


def _remove_leftovers(folder: Path) -> None:
    """Delete the temporary files of backups killed outright (SIGKILL, a power cut) over a day
    ago: only the wizard's own (`.NAME.dump.partial`, `.NAME.sql.partial`), and never a running
    backup's, which is younger: pg_dump writes into it as it goes."""
    now = time.time()
    for leftover in folder.glob(".*" + dumpfile.PARTIAL):
        try:
            ours = leftover.name.endswith(tuple(suffix + dumpfile.PARTIAL for suffix in dumpfile.SUFFIXES))
            if ours and now - leftover.stat().st_mtime > LEFTOVER_AGE:
                leftover.unlink()
        except OSError:  # gone already, or not ours to delete: it stays hidden and is never offered
            continue


def _run(
    args: list[str], env: dict[str, str], path: Path, total: int, emit: Emit, cancel: threading.Event
) -> list[str]:
    started = time.monotonic()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    done = 0
    pgtools.stop_on_cancel(process, cancel)
    assert process.stderr is not None
    # Interrupted (Ctrl+C, SIGTERM, SIGHUP) or failed here, pg_dump is stopped before its file is
    # removed: SIGTERM reaches the wizard only, and pg_dump would go on writing a file no one keeps.
    with pgtools.stopped_on_exit(process):
        for raw in process.stderr:
            line = raw.rstrip()
            lines.append(line)
            if _DUMPING.search(line):
                done += 1
            size = path.stat().st_size if path.exists() else 0
            emit(BackupProgress(line, done, total, size, time.monotonic() - started))
        code = process.wait()
    if cancel.is_set():
        raise Cancelled("Backup cancelled: the partial file was deleted.")
    if code != 0:
        problem = [ln for ln in lines if "error:" in ln or "FATAL" in ln or "detail:" in ln] or lines[-3:]
        found = diagnose("\n".join(problem))
        raise BackupFailed(
            f"pg_dump failed: {problem[0] if problem else f'exit status {code}'}",
            fix=found.fix,
            detail="\n".join(problem[1:]),
            diagnosis=found if found.recognized else None,
        )
    return lines


def _verify(path: Path, expected: list[str]) -> None:
    try:
        dump = dumpfile.read(path, writing=True)
    except WizardError as error:
        raise BackupFailed(f"The backup file is not complete: {error}", fix=(AGAIN,)) from None
    if not dump.complete:
        raise BackupFailed("The backup file is not complete: it lacks pg_dump's completion line.", fix=(AGAIN,))
    missing = [t for t in expected if t not in dump.tables]
    if missing:
        raise BackupFailed(
            f"The backup is missing tables: {', '.join(missing)}.",
            fix=(
                "Check that the user in the URL may read those tables (on Neon, connect as the owner, neondb_owner).",
                AGAIN,
            ),
        )
