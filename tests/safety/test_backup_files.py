"""A backup is written under a hidden temporary name and gets its own name only once verified: a
wizard killed mid-dump leaves nothing that looks like a backup, and what it leaves is never offered
for a restore (a cut-off custom archive still passes `pg_restore --list`)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from tests.cli_runner import run, start_process
from tests.conftest import TestDatabase
from wizard.core.backup import LEFTOVER_AGE, BackupFailed, run_backup
from wizard.core.connection import connect
from wizard.core.events import BackupProgress, BackupStarted, Event
from wizard.tui.widgets.backup_files import backup_files

UNFINISHED = "is an unfinished backup left by an interrupted run; it cannot be restored"


def _pg_dump_of(pid: int, timeout: float = 30) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in psutil.Process(pid).children(recursive=True) if p.name() == "pg_dump"]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("pg_dump did not start")


def _waiting_for_lock(db: TestDatabase, pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.scalar("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                     " WHERE NOT l.granted AND a.datname = current_database()"):  # fmt: skip
            return
        time.sleep(0.05)
    raise AssertionError(f"pg_dump {pid} never waited for the lock")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_a_backup_killed_mid_dump_leaves_nothing_that_is_offered_or_restored(db: TestDatabase, tmp_path: Path) -> None:
    holder = psycopg.connect(db.url)
    holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")  # pg_dump waits for it, its file begun
    data = tmp_path / "data"
    wizard = start_process("--database-url", db.url, "backup", "--json", env={"XDG_DATA_HOME": str(data)})
    dump: psutil.Process | None = None
    try:
        dump = _pg_dump_of(wizard.pid)
        _waiting_for_lock(db, dump.pid)
        wizard.send_signal(signal.SIGKILL)
        wizard.communicate(timeout=30)
        folder = data / "migration-wizard" / "backups"
        left = list(folder.iterdir())
        assert [p for p in left if p.suffix in (".dump", ".sql")] == []  # nothing under a backup's name
        assert backup_files(folder) == []
        assert len(left) == 1 and left[0].name.startswith(".") and left[0].name.endswith(".dump.partial"), left
        refused = run("--database-url", db.url, "restore", str(left[0]), "--yes")
        assert refused.code == 3, refused.text
        assert f"{left[0].name} {UNFINISHED}" in refused.err
    finally:
        if dump is not None:  # the killed wizard's pg_dump, if it still waits for the test's lock
            with contextlib.suppress(psutil.Error):
                dump.kill()
        if wizard.poll() is None:
            wizard.kill()
            wizard.communicate()
        holder.close()


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_a_finished_backup_leaves_exactly_its_file(db: TestDatabase, tmp_path: Path, fmt: str) -> None:
    events: list[Event] = []
    output = tmp_path / ("named.dump" if fmt == "custom" else "named.sql")
    with connect(db.target) as conn:
        result = run_backup(conn, db.target, events.append, fmt=fmt, output=output)
    assert list(tmp_path.iterdir()) == [output] and result.path == output
    assert output.stat().st_mode & 0o777 == 0o600
    started = [e for e in events if isinstance(e, BackupStarted)]
    assert [e.path for e in started] == [str(output)]  # the name the user will find, not the temporary one
    sizes = [e.bytes_written for e in events if isinstance(e, BackupProgress)]
    assert max(sizes) > 0  # progress reads the file pg_dump is writing


def test_a_backup_that_fails_verification_leaves_no_file(db: TestDatabase, tmp_path: Path) -> None:
    db.execute("CREATE TABLE gone_soon (id int)")

    def drop_once_started(event: Event) -> None:
        # Counted among the tables to back up, then dropped before pg_dump reads the catalog.
        if isinstance(event, BackupStarted):
            db.execute("DROP TABLE gone_soon")

    with connect(db.target) as conn, pytest.raises(BackupFailed) as failure:
        run_backup(conn, db.target, drop_once_started, output=tmp_path)
    assert "missing tables: public.gone_soon" in failure.value.message
    assert list(tmp_path.iterdir()) == []


def test_a_backup_removes_leftovers_older_than_a_day_and_keeps_a_running_ones(db: TestDatabase, tmp_path: Path) -> None:
    old = tmp_path / ".db-20250101T000000Z.dump.partial"
    recent = tmp_path / ".db-20250102T000000Z.sql.partial"  # another wizard may be writing it
    someone_elses = tmp_path / ".download.partial"
    for path in (old, recent, someone_elses):
        path.write_bytes(b"PGDMP")
    long_ago = time.time() - LEFTOVER_AGE - 60
    os.utime(old, (long_ago, long_ago))
    os.utime(someone_elses, (long_ago, long_ago))
    with connect(db.target) as conn:
        result = run_backup(conn, db.target, lambda e: None, output=tmp_path)
    assert sorted(tmp_path.iterdir()) == sorted([recent, someone_elses, result.path])


def test_restore_refuses_an_unfinished_backup_by_its_name(db: TestDatabase, tmp_path: Path) -> None:
    with connect(db.target) as conn:
        finished = run_backup(conn, db.target, lambda e: None, output=tmp_path)
    leftover = finished.path.with_name(f".{finished.path.name}.partial")
    finished.path.rename(leftover)  # a complete archive, but never verified: not restored either
    refused = run("--database-url", db.url, "restore", str(leftover), "--yes", "--json")
    assert refused.code == 3, refused.text
    assert UNFINISHED in refused.result["error"]["message"]
    assert backup_files(tmp_path) == []
