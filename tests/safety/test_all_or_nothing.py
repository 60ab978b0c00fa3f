"""A migration is all or nothing, however it is stopped: the wizard killed outright (SIGKILL,
no chance to clean up) or its server session ended by an administrator, mid-statement. The
database keeps none of it, and the next run applies it whole."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.cli_runner import run, start_process
from tests.conftest import TestDatabase
from wizard.core.defaults import APPLICATION_NAME

STORAGE_KEY = (
    "SELECT count(*) FROM information_schema.columns WHERE table_name = 'attachments' AND column_name = 'storage_key'"
)
LEDGER = "SELECT count(*) FROM migration_wizard.ledger WHERE version = '002'"


def _waiting_backend(db: TestDatabase, timeout: float = 60) -> int:
    """The pid of the wizard's session once it waits for the lock the test holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = db.scalar(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = %s"
            " AND wait_event_type = 'Lock'",
            (APPLICATION_NAME, db.name),
        )
        if pid:
            return int(pid)
        time.sleep(0.1)
    raise AssertionError("the wizard never reached its lock wait")


def _gone(db: TestDatabase, pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not db.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)):
            return True
        time.sleep(0.1)
    return False


def _mid_migration(db: TestDatabase, stop: Callable[[subprocess.Popen[str], int], None]) -> tuple[int, str]:
    """Start `migrate`, catch its first statement (in its transaction) waiting on a lock the test
    holds, stop it with `stop`, then release the lock. Returns its exit status and output."""
    holder: psycopg.Connection[Any] = db.connect()
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE attachments IN ACCESS SHARE MODE")  # ALTER TABLE must wait for it
    wizard = start_process(
        "--database-url", db.url, "migrate", "--yes", "--skip-backup", "--lock-timeout", "60000", "--max-wait", "120"
    )
    try:
        backend = _waiting_backend(db)
        stop(wizard, backend)
        out, err = wizard.communicate(timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        if wizard.poll() is None:
            wizard.kill()
    assert _gone(db, backend), "the wizard's session outlived it"
    return wizard.returncode, out + err


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_wizard_killed_mid_migration_leaves_nothing_and_a_rerun_applies_it(any_version: TestDatabase) -> None:
    db = any_version
    code, _ = _mid_migration(db, lambda wizard, _backend: os.kill(wizard.pid, signal.SIGKILL))
    assert code == -signal.SIGKILL
    assert db.scalar(STORAGE_KEY) == 0
    assert not db.scalar("SELECT to_regclass('migration_wizard.ledger') IS NOT NULL") or db.scalar(LEDGER) == 0
    rerun = run("--database-url", db.url, "migrate", "--yes", "--skip-backup")
    assert rerun.code == 0, rerun.text
    assert db.scalar(STORAGE_KEY) == 1 and db.scalar(LEDGER) == 1


def test_a_server_session_ended_mid_migration_leaves_nothing_and_a_rerun_applies_it(
    any_version: TestDatabase,
) -> None:
    db = any_version

    def terminate(_wizard: subprocess.Popen[str], backend: int) -> None:
        db.scalar("SELECT pg_terminate_backend(%s)", (backend,))

    code, text = _mid_migration(db, terminate)
    assert code == 1, text
    assert "connection was lost" in text.lower()
    assert "status" in text  # it says how to see what the database holds
    assert db.scalar(STORAGE_KEY) == 0
    rerun = run("--database-url", db.url, "migrate", "--yes", "--skip-backup")
    assert rerun.code == 0, rerun.text
    assert db.scalar(STORAGE_KEY) == 1 and db.scalar(LEDGER) == 1
