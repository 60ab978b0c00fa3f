"""The Migrate screen: streams each statement, shows lock waits, cancels safely, explains failures."""

from __future__ import annotations

from pathlib import Path

import psycopg
from textual.widgets import Button, ProgressBar, RichLog, Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from wizard.core.events import LockWait
from wizard.tui.app import WizardApp
from wizard.tui.messages import EngineEvent, MigrationFailed, MigrationFinished
from wizard.tui.screens.migrate import MigrateScreen
from wizard.tui.screens.verify import VerifyScreen

STORAGE_KEY = (
    "SELECT count(*) FROM information_schema.columns WHERE table_name = 'attachments' AND column_name = 'storage_key'"
)


async def _settle(app: WizardApp, pilot: object) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()  # type: ignore[attr-defined]


async def _open_migrate(app: WizardApp, pilot: object) -> MigrateScreen:
    """Connect on the Connect screen, then jump straight to Migrate."""
    await pilot.click("#test")  # type: ignore[attr-defined]
    await _settle(app, pilot)
    assert app.state.conn is not None
    app.go("migrate")
    await pilot.pause()  # type: ignore[attr-defined]
    assert isinstance(app.screen, MigrateScreen)
    return app.screen


def _log(app: WizardApp) -> list[str]:
    return [strip.text.rstrip() for strip in app.screen.query_one("#log", RichLog).lines]


def _text(app: WizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_a_fresh_database_streams_every_statement_then_offers_verify(
    make_app: AppFactory, db: TestDatabase
) -> None:
    messages: list[object] = []
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        screen = await _open_migrate(app, pilot)
        await _settle(app, pilot)
        done = [line for line in _log(app) if line.startswith("✓")]
        assert len(done) == 14
        assert done[0].startswith("✓ [ 1/14] line 7   ALTER TABLE attachments ADD COLUMN IF NOT EXISTS storage_key")
        assert "-> ALTER TABLE (" in done[0] and done[0].endswith("ms)")
        assert done[13].startswith("✓ [14/14] line ") and "COMMENT ON TABLE image_analyses" in done[13]
        bar = screen.query_one("#progress", ProgressBar)
        assert (bar.progress, bar.total) == (14, 14)
        assert "statement 14 of 14" in _text(app, "#elapsed")
        assert any("Applied 002_phase2_vision_api" in line for line in _log(app))
        finished = [m for m in messages if isinstance(m, MigrationFinished)]
        assert len(finished) == 1 and finished[0].applied == ["002"]
        assert app.state.applied == ["002"] and app.state.migration_seconds == finished[0].seconds
        outcome = _text(app, "#outcome")
        assert "Done in" in outcome and str(screen.query_one("#report", Static).content).startswith("Report: ")
        assert not screen.query_one("#verify", Button).disabled
        assert not app.busy
        assert db.scalar(STORAGE_KEY) == 1
        await pilot.press("enter")
        await _settle(app, pilot)
        assert isinstance(app.screen, VerifyScreen)


async def test_a_column_added_by_hand_shows_the_server_notice(make_app: AppFactory, db: TestDatabase) -> None:
    db.execute("ALTER TABLE attachments ADD COLUMN storage_key varchar")
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_migrate(app, pilot)
        await _settle(app, pilot)
        log = _log(app)
        first = log.index(next(line for line in log if line.startswith("✓ [ 1/14]")))
        notice = log[first + 1]
        assert notice.startswith("    ") and notice.strip().startswith("NOTICE:")
        assert "already exists, skipping" in notice
        assert any("Already present before, left as they were: column attachments.storage_key" in line for line in log)


async def test_cancel_during_a_lock_wait_rolls_back_and_changes_nothing(make_app: AppFactory, db: TestDatabase) -> None:
    messages: list[object] = []
    holder = psycopg.connect(db.url, application_name="busy-app")  # an open transaction holds a lock
    try:
        holder.execute("SELECT count(*) FROM attachments")
        app = make_app(db.url, start="connect")
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await _open_migrate(app, pilot)
            for _ in range(100):
                await pilot.pause(0.2)
                if any(isinstance(m, EngineEvent) and isinstance(m.event, LockWait) for m in messages):
                    break
            else:
                raise AssertionError("no lock wait reported")
            assert app.busy  # quitting now would ask first
            waiting = " ".join(line.strip() for line in _log(app))
            assert "waiting for a lock on attachments, held by pid" in waiting and "(busy-app)" in waiting
            assert "retrying in" in waiting
            await pilot.press("escape")
            await _settle(app, pilot)
            assert "Cancelled: the transaction was rolled back, nothing was changed" in _text(app, "#outcome")
            assert any(isinstance(m, MigrationFailed) and m.cancelled for m in messages)
            assert app.state.cancelled and not app.busy
            assert app.screen.query_one("#back", Button).display
            assert db.scalar(STORAGE_KEY) == 0
    finally:
        holder.close()
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None


async def test_a_failing_statement_is_shown_with_its_line_and_nothing_changes(
    make_app: AppFactory, db: TestDatabase, migrations_copy: Path
) -> None:
    path = migrations_copy / "002_phase2_vision_api.sql"
    text = path.read_text().replace("ON image_analyses (agent_type);", "ON image_analyses (no_such_column);")
    path.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "no_such_column" in row)
    messages: list[object] = []
    app = make_app(db.url, start="connect")
    app.state.migrations_dir = migrations_copy
    app.state._migrations = None
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await _open_migrate(app, pilot)
        await _settle(app, pilot)
        failed = [m for m in messages if isinstance(m, MigrationFailed)]
        assert len(failed) == 1 and failed[0].line == line and failed[0].nothing_changed and not failed[0].cancelled
        assert "no_such_column" in failed[0].sql
        outcome = _text(app, "#outcome")
        assert "Migration failed" in outcome and f"line {line}" in outcome and "no_such_column" in outcome
        assert "Nothing was changed: the transaction was rolled back." in outcome
        assert app.state.migration_error and not app.busy
        assert screen.query_one("#back", Button).display
        assert screen.query_one("#verify", Button).disabled
        assert len([row for row in _log(app) if row.startswith("✓")]) == 8  # the 9th failed
    assert db.scalar(STORAGE_KEY) == 0


async def test_a_lost_connection_is_explained_not_a_crash(make_app: AppFactory, db: TestDatabase) -> None:
    messages: list[object] = []
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await pilot.click("#test")
        await _settle(app, pilot)
        app.state.close()
        app.go("migrate")
        await _settle(app, pilot)
        assert isinstance(app.screen, MigrateScreen)
        assert any(isinstance(m, MigrationFailed) for m in messages)
        assert "Migration failed" in _text(app, "#outcome") and not app.busy


async def test_cancel_stops_a_long_running_statement_at_once(
    make_app: AppFactory, db: TestDatabase, migrations_copy: Path
) -> None:
    import time

    from wizard.core.events import StatementStarted

    path = migrations_copy / "002_phase2_vision_api.sql"
    text = path.read_text()
    path.write_text(
        text.replace(
            "CREATE INDEX IF NOT EXISTS idx_attachments_storage_key",
            "SELECT pg_sleep(60);\n" + "CREATE INDEX IF NOT EXISTS idx_attachments_storage_key",
            1,
        )
    )
    messages: list[object] = []
    app = make_app(db.url, start="connect")
    app.state.migrations_dir = migrations_copy
    app.state._migrations = None
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await _open_migrate(app, pilot)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            isinstance(m, EngineEvent) and isinstance(m.event, StatementStarted) and "pg_sleep" in m.event.sql
            for m in messages
        ):
            await pilot.pause(0.1)
        started = time.monotonic()
        await pilot.press("escape")
        await _settle(app, pilot)
        assert time.monotonic() - started < 15  # not the 60 s of the statement
        failed = [m for m in messages if isinstance(m, MigrationFailed)]
        assert failed and failed[0].cancelled
        assert "nothing was changed" in _text(app, "#outcome").lower()
    assert db.scalar(STORAGE_KEY) == 0
