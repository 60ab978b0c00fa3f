"""Five runs of the wizard at once, in separate processes: exactly one applies, the others
wait for it and then find the migration applied; all five succeed."""

from __future__ import annotations

import subprocess
import threading
import time
from typing import IO

from tests.cli_runner import start_process
from tests.conftest import TestDatabase
from wizard.core.runner import RUN_LOCK_KEY


class _Output:
    """A process's stdout and stderr, read as they come (each in its own thread), so the test can
    see when a run says it is waiting, and the pipes never fill up."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.parts: dict[str, list[str]] = {"out": [], "err": []}
        self.threads = [
            threading.Thread(target=self._read, args=(stream, self.parts[name]), daemon=True)
            for name, stream in (("out", process.stdout), ("err", process.stderr))
        ]
        for thread in self.threads:
            thread.start()

    @staticmethod
    def _read(stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line)

    def text(self) -> str:
        return "".join(self.parts["out"]) + "".join(self.parts["err"])

    def finish(self) -> str:
        self.process.wait(timeout=180)
        for thread in self.threads:
            thread.join(timeout=10)
        return self.text()


RUNS = 5
WAITING = "another migration-wizard run"  # its words while it waits for the run lock


def test_five_concurrent_migrates_apply_once_and_all_succeed(db: TestDatabase) -> None:
    # Hold the wizard's run lock so that every process is certainly waiting at once,
    # then let them race for it.
    gate = db.connect()
    gate.execute("BEGIN")
    gate.execute("SELECT pg_advisory_xact_lock(%s)", (RUN_LOCK_KEY,))
    args = ("migrate", "--yes", "--skip-backup", "--database-url", db.url)
    runs = [_Output(start_process(*args)) for _ in range(RUNS)]
    deadline = time.monotonic() + 90
    # Each run says it waits for another one once it has found the lock taken.
    while not all(WAITING in run.text() for run in runs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(WAITING in run.text() for run in runs), "\n=====\n".join(run.text() for run in runs)
    gate.execute("COMMIT")
    gate.close()
    texts = [run.finish() for run in runs]
    assert [run.process.returncode for run in runs] == [0] * RUNS, "\n=====\n".join(texts)
    applied = [t for t in texts if "Applied 002_phase2_vision_api" in t]
    skipped = [t for t in texts if "already applied" in t]
    assert len(applied) == 1 and len(skipped) == RUNS - 1
    assert db.scalar("SELECT count(*) FROM migration_wizard.ledger WHERE version = '002'") == 1
