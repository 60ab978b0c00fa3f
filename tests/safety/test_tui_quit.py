"""Quitting the wizard's screens while a migration, rollback or restore runs on the server: the
statement is cancelled on the server, the wizard says it is waiting, and it exits only once the
transaction is rolled back and the report written. A restore can be cancelled on its own too.
A rehearsal quit mid-way stops its local copy's server and removes its files first.

Each operation is made to wait on the server: the test holds a lock (an open transaction that
read the table) and the wizard's lock timeout is longer than the test."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from textual.messages import ExitApp
from textual.notifications import Notify
from textual.widgets import Input, Static
from textual.worker import WorkerState

from tests.conftest import TestDatabase
from tests.safety.copy_servers import servers_in
from wizard.core import engine, paths
from wizard.core.backup import BackupResult, run_backup
from wizard.core.connection import connect
from wizard.core.defaults import APPLICATION_NAME
from wizard.core.events import RehearsalStep
from wizard.core.migrations import load_migrations
from wizard.core.runner import RunOptions
from wizard.tui.app import QUIT_WAIT, WizardApp
from wizard.tui.messages import EngineEvent
from wizard.tui.run import quit_on_signals
from wizard.tui.screens.confirm import ConfirmScreen
from wizard.tui.screens.migrate import MigrateScreen
from wizard.tui.screens.rehearse import RehearsalFinished
from wizard.tui.screens.restore import RestoreScreen
from wizard.tui.screens.rollback import RollbackScreen
from wizard.tui.state import FlowState

STORAGE_KEY = (
    "SELECT count(*) FROM information_schema.columns WHERE table_name = 'attachments' AND column_name = 'storage_key'"
)
# The wizard's sessions in the test's database, by what they are doing.
_WIZARD = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()"
_WAITING_FOR_LOCK = _WIZARD + " AND state = 'active' AND wait_event_type = 'Lock'"
_NOT_IDLE = _WIZARD + " AND state <> 'idle'"  # a statement running, or a transaction left open


@contextmanager
def _holding(db: TestDatabase, *tables: str) -> Iterator[None]:
    """Another application reads the tables in an open transaction: its lock makes DDL wait."""
    holder = psycopg.connect(db.url, application_name="busy-app")
    try:
        for table in tables:
            holder.execute(f"SELECT count(*) FROM {table}")
        yield
    finally:
        holder.close()


def _app(db: TestDatabase, **flow: Any) -> WizardApp:
    # A lock timeout longer than any test: the statement waits on the server until cancelled.
    state = FlowState(initial_url=db.url, connect_timeout=5, lock_timeout_ms=60_000, **flow)
    return WizardApp(state, start="connect")


async def _settle(app: WizardApp, pilot: Any) -> None:
    for _ in range(4):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def _until_waiting_for_the_lock(db: TestDatabase, pilot: Any) -> None:
    deadline = time.monotonic() + 15
    while db.scalar(_WAITING_FOR_LOCK, (APPLICATION_NAME,)) == 0:
        assert time.monotonic() < deadline, "the wizard never waited for the test's lock"
        await pilot.pause(0.1)


async def _quit_and_wait(app: WizardApp, pilot: Any, asked: str = "rolled back: nothing will be changed.") -> float:
    """Ctrl+Q, "Cancel and quit" (y); returns the seconds until the app had exited."""
    await pilot.press("ctrl+q")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    question = " ".join(str(w.render()) for w in app.screen.query(Static))
    assert f"Quit now? It will be cancelled and {asked}" in question, question
    await pilot.press("y")
    started = time.monotonic()
    while app.is_running:
        assert time.monotonic() - started < QUIT_WAIT + 5, "the app did not exit"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def _said_it_waits(messages: list[object], what: str, waiting: str = "the server to roll back") -> None:
    shown = [m.notification.message for m in messages if isinstance(m, Notify)]
    assert f"Cancelling the {what}: waiting for {waiting} ..." in shown, shown


def _rolled_back_and_gone(app: WizardApp, db: TestDatabase, waited: float) -> None:
    """The operation's worker ran to its end (it caught the cancel and returned), the server
    answered well before the quit's wait ran out, and no wizard session is left doing anything."""
    assert app.operation is not None and app.operation.state is WorkerState.SUCCESS
    assert waited < QUIT_WAIT - 2
    assert db.scalar(_NOT_IDLE, (APPLICATION_NAME,)) == 0


def _counts(db: TestDatabase) -> dict[str, int]:
    with db.connect() as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {t: int(conn.execute(f'SELECT count(*) FROM public."{t}"').fetchone()[0]) for t in tables}  # type: ignore[index]


def _apply_002(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        engine.apply_pending(conn, load_migrations(), RunOptions(), lambda _e: None)


async def test_quitting_mid_migration_waits_until_the_server_has_rolled_it_back(db: TestDatabase) -> None:
    messages: list[object] = []
    with _holding(db, "attachments"):  # 002's first statement, ALTER TABLE attachments, waits
        app = _app(db)
        async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
            await pilot.click("#test")
            await _settle(app, pilot)
            app.go("migrate")
            await _until_waiting_for_the_lock(db, pilot)
            assert isinstance(app.screen, MigrateScreen) and app.busy
            waited = await _quit_and_wait(app, pilot)
        _said_it_waits(messages, "migration")
        _rolled_back_and_gone(app, db, waited)
        assert app.state.cancelled  # the engine saw the cancel: rolled back, not failed
        assert app.state.report_path is not None and app.state.report_path.exists()
        assert db.scalar(STORAGE_KEY) == 0
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
async def test_sigterm_mid_migration_quits_the_same_way_without_asking(db: TestDatabase) -> None:
    messages: list[object] = []
    saved = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with _holding(db, "attachments"):
            app = _app(db)
            quit_on_signals(app)  # as run_tui installs them
            async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
                await pilot.click("#test")
                await _settle(app, pilot)
                app.go("migrate")
                await _until_waiting_for_the_lock(db, pilot)
                os.kill(os.getpid(), signal.SIGTERM)
                started = time.monotonic()
                while app.is_running:
                    assert time.monotonic() - started < QUIT_WAIT + 5, "the app did not exit"
                    assert not isinstance(app.screen, ConfirmScreen)  # nobody to ask
                    await asyncio.sleep(0.05)
            _said_it_waits(messages, "migration")
            _rolled_back_and_gone(app, db, time.monotonic() - started)
            assert db.scalar(STORAGE_KEY) == 0
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


async def test_a_closed_browser_tab_mid_migration_quits_the_same_way(db: TestDatabase) -> None:
    """Under --web, textual-serve's driver posts ExitApp when the tab closes: not an exit at once."""
    messages: list[object] = []
    with _holding(db, "attachments"):
        app = _app(db)
        async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
            await pilot.click("#test")
            await _settle(app, pilot)
            app.go("migrate")
            await _until_waiting_for_the_lock(db, pilot)
            app.post_message(ExitApp())  # what the web driver does for a closed tab
            started = time.monotonic()
            await pilot.pause(0.2)
            assert app.state.cancel.is_set()
            while app.is_running:
                assert time.monotonic() - started < QUIT_WAIT + 5, "the app did not exit"
                await asyncio.sleep(0.05)
        _said_it_waits(messages, "migration")
        _rolled_back_and_gone(app, db, time.monotonic() - started)
        assert db.scalar(STORAGE_KEY) == 0


async def test_quitting_mid_rollback_waits_until_the_server_has_rolled_it_back(db: TestDatabase) -> None:
    _apply_002(db)
    messages: list[object] = []
    with _holding(db, "image_analyses", "attachments"):  # the down file's DROPs wait
        app = _app(db, rollback_only=True)
        async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
            await _settle(app, pilot)
            assert isinstance(app.screen, RollbackScreen)
            app.screen.query_one("#confirm", Input).value = db.name
            await pilot.pause()
            await pilot.click("#run")
            await _until_waiting_for_the_lock(db, pilot)
            waited = await _quit_and_wait(app, pilot)
        _said_it_waits(messages, "rollback")
        _rolled_back_and_gone(app, db, waited)
        assert db.scalar("SELECT to_regclass('public.image_analyses')") is not None
        assert db.scalar(STORAGE_KEY) == 1


@pytest.fixture
def taken(db: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BackupResult:
    """A whole-database backup, in a backups folder of the test's own (what the screen lists)."""
    folder = tmp_path / "backups"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(paths, "backups_dir", lambda: folder)
    with connect(db.target) as conn:
        return run_backup(conn, db.target, lambda _e: None, output=folder)


async def _start_restore(app: WizardApp, pilot: Any, db: TestDatabase) -> RestoreScreen:
    await _settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, RestoreScreen) and screen.plan is not None  # the session's backup, read
    await pilot.press(*db.name, "enter")
    await _until_waiting_for_the_lock(db, pilot)  # its first DROP waits for the test's lock
    assert screen.query_one("#cancel").display and app.busy
    return screen


async def test_cancelling_a_restore_rolls_it_back_and_changes_nothing(db: TestDatabase, taken: BackupResult) -> None:
    db.execute("UPDATE users SET display_name = 'changed after the backup'")
    before = _counts(db)
    with _holding(db, "attachments"):
        app = _app(db, restore_only=True, backup=taken)
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await _start_restore(app, pilot, db)
            started = time.monotonic()
            await pilot.press("escape")
            await _settle(app, pilot)
            assert time.monotonic() - started < 5  # not the restore's 30 s lock timeout
            outcome = str(screen.query_one("#outcome", Static).render())
            assert "Restore cancelled: the database was not changed" in outcome and "Report:" in outcome
            assert not app.busy and not screen.query_one("#cancel").display
            assert screen.query_one("#confirm-area").display  # typing the name again restores after all
            assert db.scalar(_NOT_IDLE, (APPLICATION_NAME,)) == 0
        assert _counts(db) == before
    assert db.scalar("SELECT count(*) FROM users WHERE display_name = 'changed after the backup'") == before["users"]


async def test_quitting_mid_restore_waits_until_the_server_has_rolled_it_back(
    db: TestDatabase, taken: BackupResult
) -> None:
    _apply_002(db)  # the restore would remove image_analyses: it must still be there
    before = _counts(db)
    messages: list[object] = []
    with _holding(db, "attachments"):
        app = _app(db, restore_only=True, backup=taken)
        async with app.run_test(size=(100, 40), message_hook=messages.append) as pilot:
            await _start_restore(app, pilot, db)
            waited = await _quit_and_wait(app, pilot)
        _said_it_waits(messages, "restore")
        _rolled_back_and_gone(app, db, waited)
        assert _counts(db) == before
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is not None


def _steps(messages: list[object]) -> set[str]:
    return {m.event.step for m in messages if isinstance(m, EngineEvent) and isinstance(m.event, RehearsalStep)}


async def test_quitting_mid_rehearsal_stops_and_removes_the_local_copy(
    db: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies = tmp_path / "rehearsals"
    copies.mkdir()
    monkeypatch.setattr(paths, "rehearsals_dir", lambda: copies)
    messages: list[object] = []
    app = _app(db)
    async with app.run_test(size=(100, 40), message_hook=messages.append) as pilot:
        await pilot.click("#test")
        await _settle(app, pilot)
        app.go("review")
        await _settle(app, pilot)
        await pilot.press("ctrl+r", "enter")  # Review's "Rehearse on a local copy", then start it
        deadline = time.monotonic() + 60
        while not _steps(messages) & {"server"}:  # the copy's server is starting: seconds, not less
            assert time.monotonic() < deadline, "the rehearsal never started its copy"
            await pilot.pause(0.02)
        waited = await _quit_and_wait(app, pilot, "its local copy removed: your database is not changed.")
    finished = {id(m): m for m in messages if isinstance(m, RehearsalFinished)}.values()  # seen as it bubbles
    assert [(m.result, m.problem) for m in finished] == [(None, None)]  # cancelled, not passed or failed
    assert app.operation is not None and app.operation.state is WorkerState.SUCCESS and waited < QUIT_WAIT - 2
    _said_it_waits(messages, "rehearsal", "the local copy to be stopped and removed")
    assert "cleanup" in _steps(messages)  # "Removed the copy: its server stopped, its folder deleted."
    assert servers_in(copies) == [], "the local copy's server was left running"
    assert list(copies.iterdir()) == [], "the local copy's files were left"
    assert db.scalar(STORAGE_KEY) == 0
