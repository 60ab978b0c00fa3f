"""Pictures of the Backup step and the Restore screen (SVG snapshots; `pytest --snapshot-update`
rewrites them after an intended change). What varies between runs is fixed first: the clock,
the database name, the backups folder, the time stamp in the file name, and the sizes (the
database's on the server moves with its own bookkeeping, a compressed archive's by a few bytes)."""

from __future__ import annotations

import dataclasses
import fcntl
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.conftest import TEMPLATE, EmbeddedServer, TestDatabase
from tests.tui.conftest import AppFactory
from wizard.core import backup, engine, operations, paths
from wizard.core.connection import connect
from wizard.core.migrations import load_migrations
from wizard.core.runner import RunOptions

SIZE = (100, 32)
NAME = "snapshot_backup"


@pytest.fixture
def fixed_db(pg_server: EmbeddedServer) -> Iterator[TestDatabase]:
    pg_server.drop_database(NAME)
    with pg_server.admin() as conn:
        conn.execute(f"CREATE DATABASE {NAME} TEMPLATE {TEMPLATE}")
    yield TestDatabase(NAME, pg_server.url(NAME), pg_server)
    pg_server.drop_database(NAME)


class FixedDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> FixedDatetime:
        return cls(2026, 2, 12, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def fixed_backups(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The backups folder and the time stamp in the file's name, the same every run. The folder is
    the same for every test worker, so a test holds it (a lock) while it runs."""
    folder = Path(tempfile.gettempdir()) / "migration-wizard-snapshot-backups"
    real = operations.run_backup

    def fixed_size(*args: Any, **kwargs: Any) -> backup.BackupResult:
        # A compressed archive's size moves by a few bytes between runs, too.
        return dataclasses.replace(real(*args, **kwargs), bytes=56_000, database_bytes=8 * 1024 * 1024)

    with open(f"{folder}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        monkeypatch.setattr(paths, "backups_dir", lambda: folder)
        monkeypatch.setattr(backup, "datetime", FixedDatetime)
        monkeypatch.setattr(operations, "run_backup", fixed_size)  # what the Backup step's operation runs
        yield folder
        shutil.rmtree(folder, ignore_errors=True)


def _constant_clock(app: Any) -> Any:
    app.state.clock = lambda: 1000.0  # every duration on screen is 0
    return app


async def _settle(pilot: Pilot[Any]) -> None:
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def _to_backup(pilot: Pilot[Any]) -> None:
    await pilot.press("ctrl+t")
    await _settle(pilot)
    pilot.app.go("backup")  # type: ignore[attr-defined]
    await _settle(pilot)


@pytest.mark.usefixtures("fixed_backups")
def test_backup_before_starting(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    app = _constant_clock(make_app(fixed_db.url, start="connect"))
    assert snap_compare(app, terminal_size=SIZE, run_before=_to_backup)


@pytest.mark.usefixtures("fixed_backups")
def test_backup_verified(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _to_backup(pilot)
        await pilot.press("enter")
        await _settle(pilot)
        await pilot.pause(0.2)  # the result is scrolled into view once laid out

    app = _constant_clock(make_app(fixed_db.url, start="connect"))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_restore_before_confirming(
    snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase, fixed_backups: Path
) -> None:
    with connect(fixed_db.target) as conn:
        # Plain SQL: its size is the same every run (a compressed archive's is not).
        taken = backup.run_backup(conn, fixed_db.target, lambda _e: None, fmt="plain", output=fixed_backups)
        engine.apply_pending(conn, load_migrations(), RunOptions(), lambda _e: None)
    app = _constant_clock(make_app(fixed_db.url, start="connect"))
    app.state.restore_only = True
    app.state.backup = taken  # taken in this session: chosen already

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
