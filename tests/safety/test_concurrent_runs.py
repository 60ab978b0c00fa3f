"""Five runs of the wizard at once, in separate processes: exactly one applies, the others
wait for it and then find the migration applied; all five succeed."""

from __future__ import annotations

import time

from tests.cli_runner import start_process
from tests.conftest import TestDatabase
from wizard.core.runner import RUN_LOCK_KEY


def _waiting_runs(db: TestDatabase) -> int:
    """The wizard's sessions that have tried its run lock (and so wait for it): a session alone
    is not enough, the wizard connects while it loads, before it reaches the lock."""
    return int(
        db.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migration-wizard' AND datname = %s"
            " AND query LIKE '%%advisory%%'",  # its try at the lock, or its look at who holds it
            (db.name,),
        )
    )


RUNS = 5


def test_five_concurrent_migrates_apply_once_and_all_succeed(db: TestDatabase) -> None:
    # Hold the wizard's run lock so that every process is certainly waiting at once,
    # then let them race for it.
    gate = db.connect()
    gate.execute("BEGIN")
    gate.execute("SELECT pg_advisory_xact_lock(%s)", (RUN_LOCK_KEY,))
    args = ("migrate", "--yes", "--skip-backup", "--database-url", db.url)
    runs = [start_process(*args) for _ in range(RUNS)]
    deadline = time.monotonic() + 90
    while _waiting_runs(db) < RUNS and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    gate.execute("COMMIT")
    gate.close()
    outputs = [p.communicate(timeout=180) for p in runs]
    assert [p.returncode for p in runs] == [0] * RUNS, "\n=====\n".join(o + e for o, e in outputs)
    texts = [out + err for out, err in outputs]
    assert all("another migration-wizard run" in t for t in texts)
    applied = [t for t in texts if "Applied 002_phase2_vision_api" in t]
    skipped = [t for t in texts if "already applied" in t]
    assert len(applied) == 1 and len(skipped) == RUNS - 1
    assert db.scalar("SELECT count(*) FROM migration_wizard.ledger WHERE version = '002'") == 1
