"""SIGTERM and SIGHUP (docker stop, systemd, CI, a closed terminal) stop a headless command the way
Ctrl+C does: the running statement is cancelled on the server at once, so the table it waited for is
not blocked behind it, pg_dump is stopped, a partial backup removed, the report written, and the exit
status says which signal (128 + its number). Each test runs the wizard as a process of its own."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from tests.cli_runner import start_process
from tests.conftest import TestDatabase
from tests.safety.copy_servers import servers_in
from wizard.core.defaults import APPLICATION_NAME

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")

# A wizard waiting for a lock: which statement, in the test's database.
_WAITING = (
    "SELECT a.pid, a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE NOT l.granted AND a.application_name = %s AND a.datname = current_database()"
)


@pytest.fixture
def holder(db: TestDatabase) -> Iterator[psycopg.Connection[Any]]:
    """Another session in an open transaction (a long report, say), holding a lock the test names."""
    conn = psycopg.connect(db.url)
    yield conn
    conn.close()


def _waiting(db: TestDatabase) -> list[tuple[int, str]]:
    with db.connect() as conn:
        return [(int(pid), str(query)) for pid, query in conn.execute(_WAITING, (APPLICATION_NAME,))]


def _until_waiting(db: TestDatabase, wizard: subprocess.Popen[str], timeout: float = 60) -> list[tuple[int, str]]:
    """The wizard's sessions waiting for the test's lock, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wizard.poll() is not None:
            out, err = wizard.communicate()
            raise AssertionError(f"the wizard ended ({wizard.returncode}) before waiting:\n{out}\n{err}")
        found = _waiting(db)
        if found:
            return found
        time.sleep(0.05)
    wizard.kill()
    raise AssertionError("the wizard never waited for the lock")


def _stopped(wizard: subprocess.Popen[str], signum: int, again: bool = False) -> tuple[str, str, float]:
    """Send the signal (twice, with `again`) and wait for the wizard to end: its output and how long it took."""
    sent = time.monotonic()
    wizard.send_signal(signum)
    if again:
        time.sleep(0.05)
        if wizard.poll() is None:
            wizard.send_signal(signum)
    try:
        out, err = wizard.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        wizard.kill()
        raise
    return out, err, time.monotonic() - sent


def _gone(db: TestDatabase, timeout: float = 5) -> bool:
    """Every session of the wizard has ended (its connections close as the process exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = db.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        )
        if count == 0:
            return True
        time.sleep(0.05)
    return False


def _result(out: str) -> dict[str, Any]:
    last: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return last


def _reports(data: Path) -> list[Path]:
    return sorted((data / "migration-wizard" / "reports").glob("*.md"))


@pytest.mark.parametrize(
    ("signum", "code", "name"),
    [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP"), (signal.SIGINT, 130, "SIGINT")],
    ids=["SIGTERM", "SIGHUP", "SIGINT"],
)
def test_a_signal_cancels_the_waiting_statement_on_the_server_and_says_so(
    db: TestDatabase, holder: psycopg.Connection[Any], tmp_path: Path, signum: int, code: int, name: str
) -> None:
    holder.execute("LOCK TABLE attachments IN ACCESS SHARE MODE")  # ALTER TABLE must wait for it
    data = tmp_path / "data"
    wizard = start_process(
        *("--database-url", db.url, "migrate", "--yes", "--skip-backup", "--json"),
        *("--lock-timeout", "600000", "--max-wait", "600"),
        env={"XDG_DATA_HOME": str(data)},
    )
    waiting = _until_waiting(db, wizard)
    assert any("ALTER TABLE attachments" in query for _, query in waiting), waiting
    out, err, took = _stopped(wizard, signum)
    assert wizard.returncode == code, f"{out}\n{err}"
    assert took < 10, f"took {took:.1f} s to stop"
    # Cancelled on the server before the wizard exited: nothing queues behind the test's lock (a
    # statement the wizard had left running would still be waiting here, the test holding its lock).
    assert _waiting(db) == []
    assert _gone(db)
    holder.rollback()
    assert db.scalar("SELECT count(*) FROM information_schema.columns WHERE column_name = 'storage_key'") == 0
    assert db.scalar("SELECT to_regclass('image_analyses')") is None
    if db.scalar("SELECT to_regclass('migration_wizard.ledger')") is not None:
        assert db.scalar("SELECT count(*) FROM migration_wizard.ledger WHERE version LIKE '002%%'") == 0
    result = _result(out)
    assert result["event"] == "result" and result["ok"] is False and result["exit"] == code, result
    assert name in result["error"]["message"] and "rolled back" in result["error"]["message"]
    assert "nothing was committed" not in out + err
    assert "Traceback" not in err
    assert _reports(data), "no session report was written"


def test_a_second_signal_while_cleaning_up_ends_it_the_same_way(
    db: TestDatabase, holder: psycopg.Connection[Any], tmp_path: Path
) -> None:
    holder.execute("LOCK TABLE attachments IN ACCESS SHARE MODE")
    data = tmp_path / "data"
    wizard = start_process(
        *("--database-url", db.url, "migrate", "--yes", "--skip-backup", "--json"),
        *("--lock-timeout", "600000", "--max-wait", "600"),
        env={"XDG_DATA_HOME": str(data)},
    )
    _until_waiting(db, wizard)
    out, err, _ = _stopped(wizard, signal.SIGTERM, again=True)
    assert wizard.returncode == 143, f"{out}\n{err}"
    assert "Traceback" not in err
    assert _result(out)["exit"] == 143
    assert _waiting(db) == []
    assert _reports(data)


def test_sigterm_mid_backup_stops_pg_dump_and_leaves_no_file(any_version: TestDatabase, tmp_path: Path) -> None:
    db = any_version
    holder = psycopg.connect(db.url)
    holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")  # pg_dump waits for it, mid-dump
    data = tmp_path / "data"
    wizard = start_process("--database-url", db.url, "backup", "--json", env={"XDG_DATA_HOME": str(data)})
    try:
        _until_waiting(db, wizard)
        dumps = [p for p in psutil.Process(wizard.pid).children(recursive=True) if p.name() == "pg_dump"]
        assert dumps, "pg_dump is not the wizard's child"
        backups = data / "migration-wizard" / "backups"
        assert [p.name for p in backups.iterdir() if p.name.endswith(".partial")], "pg_dump writes a temporary file"
        out, err, took = _stopped(wizard, signal.SIGTERM)
        assert wizard.returncode == 143, f"{out}\n{err}"
        assert took < 10
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in dumps), "pg_dump was left"
        assert _waiting(db) == []  # pg_dump's lock request went with it
        assert list(backups.iterdir()) == []  # neither the backup nor its temporary file
        result = _result(out)
        assert result["ok"] is False and result["exit"] == 143 and "SIGTERM" in result["error"]["message"]
        assert "Traceback" not in err
        assert _reports(data)
    finally:
        if wizard.poll() is None:
            wizard.kill()
            wizard.communicate()
        holder.close()


def test_sigterm_cancels_the_statement_on_every_server_version(any_version: TestDatabase, tmp_path: Path) -> None:
    db = any_version
    holder = psycopg.connect(db.url)
    try:
        holder.execute("LOCK TABLE attachments IN ACCESS SHARE MODE")
        wizard = start_process(
            *("--database-url", db.url, "migrate", "--yes", "--skip-backup", "--json"),
            *("--lock-timeout", "600000", "--max-wait", "600"),
            env={"XDG_DATA_HOME": str(tmp_path / "data")},
        )
        _until_waiting(db, wizard)
        out, err, took = _stopped(wizard, signal.SIGTERM)
        assert wizard.returncode == 143 and took < 10, f"{out}\n{err}"
        assert _waiting(db) == []  # cancelled on the server, the test still holding its lock
        assert _result(out)["exit"] == 143
    finally:
        holder.close()
    assert _gone(db)
    assert db.scalar("SELECT count(*) FROM information_schema.columns WHERE column_name = 'storage_key'") == 0


def test_sigterm_mid_restore_rolls_it_back_and_stops_pg_restore(any_version: TestDatabase, tmp_path: Path) -> None:
    db = any_version
    holder = psycopg.connect(db.url)
    try:
        data = tmp_path / "data"
        env = {"XDG_DATA_HOME": str(data)}
        backup = start_process("--database-url", db.url, "backup", "--output", str(tmp_path), "--json", env=env)
        out, err = backup.communicate(timeout=120)
        assert backup.returncode == 0, out + err
        path = _result(out)["path"]
        db.execute("UPDATE users SET display_name = 'changed after the backup'")
        holder.execute("SELECT count(*) FROM attachments")  # an open transaction: the restore's DROP waits
        wizard = start_process("--database-url", db.url, "restore", path, "--yes", "--json", env=env)
        _until_waiting(db, wizard)
        tools = [p for p in psutil.Process(wizard.pid).children(recursive=True) if p.name() == "pg_restore"]
        out, err, took = _stopped(wizard, signal.SIGTERM)
        assert wizard.returncode == 143 and took < 10, f"{out}\n{err}"
        assert _waiting(db) == []
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tools), "pg_restore was left"
        result = _result(out)
        assert result["exit"] == 143 and "SIGTERM" in result["error"]["message"]
        assert "Traceback" not in err
        holder.rollback()
        assert db.scalar("SELECT count(*) FROM users WHERE display_name = 'changed after the backup'") > 0
        assert _reports(data)
    finally:
        holder.close()


def test_sigterm_mid_rehearsal_stops_and_removes_the_local_copy(db: TestDatabase, tmp_path: Path) -> None:
    data = tmp_path / "data"
    wizard = start_process("--database-url", db.url, "rehearse", "--json", env={"XDG_DATA_HOME": str(data)})
    try:
        assert wizard.stdout is not None
        for line in wizard.stdout:  # until the copy's server runs: the restore into it has begun
            if '"rehearsal_step"' in line and '"restore"' in line:
                break
        else:
            raise AssertionError("the rehearsal never reached its copy")
        copies = data / "migration-wizard" / "rehearsals"
        servers = servers_in(copies)
        assert servers, "the local copy's server is not running"
        out, err, took = _stopped(wizard, signal.SIGTERM)
    finally:
        if wizard.poll() is None:
            wizard.kill()
    assert wizard.returncode == 143 and took < 30, f"{out}\n{err}"
    assert "Traceback" not in err
    assert _result(out)["exit"] == 143
    deadline = time.monotonic() + 10
    while servers_in(copies):
        assert time.monotonic() < deadline, "the local copy's server was left running"
        time.sleep(0.1)
    assert not copies.exists() or list(copies.iterdir()) == [], "the local copy's files were left"
    assert db.scalar("SELECT count(*) FROM information_schema.columns WHERE column_name = 'storage_key'") == 0
