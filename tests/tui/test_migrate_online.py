"""The Migrate screen on the online path: a blocker named with buttons that stop it only on a
press, and index builds on existing tables shown with their progress after the commit."""

from __future__ import annotations

import psycopg
from textual.widgets import Button, ProgressBar, RichLog, Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from wizard.core.events import BlockerSignalled, IndexBuildFinished, IndexBuildStarted, LockWait
from wizard.tui.app import WizardApp
from wizard.tui.messages import EngineEvent, MigrationFinished
from wizard.tui.screens.migrate import MigrateScreen

VALID = "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s AND i.indisvalid"


async def _settle(app: WizardApp, pilot: object) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()  # type: ignore[attr-defined]


async def _open_migrate(app: WizardApp, pilot: object) -> MigrateScreen:
    await pilot.click("#test")  # type: ignore[attr-defined]
    await _settle(app, pilot)
    app.go("migrate")
    await pilot.pause()  # type: ignore[attr-defined]
    assert isinstance(app.screen, MigrateScreen)
    return app.screen


def _events(messages: list[object], kind: type) -> list[object]:
    return [m.event for m in messages if isinstance(m, EngineEvent) and isinstance(m.event, kind)]


async def test_a_blocker_is_named_with_buttons_and_disconnected_only_on_a_press(
    make_app: AppFactory, db: TestDatabase
) -> None:
    messages: list[object] = []
    holder = psycopg.connect(db.url, application_name="forgotten-tab")  # idle in transaction, holding a lock
    try:
        holder.execute("SELECT count(*) FROM attachments")
        app = make_app(db.url, start="connect")
        async with app.run_test(size=(100, 32), message_hook=messages.append) as pilot:
            screen = await _open_migrate(app, pilot)
            for _ in range(100):
                await pilot.pause(0.2)
                if _events(messages, LockWait) and screen.query_one("#blocked").has_class("shown"):
                    break
            else:
                raise AssertionError("no blocker shown")
            said = str(screen.query_one("#blocked-by", Static).render())
            assert "forgotten-tab" in said and "idle in transaction" in said
            await pilot.pause(1.0)
            assert not _events(messages, BlockerSignalled)  # waiting never stops anyone by itself
            assert not any(isinstance(m, MigrationFinished) for m in messages)
            await pilot.click("#terminate-blocker")
            await _settle(app, pilot)
            signalled = _events(messages, BlockerSignalled)
            assert len(signalled) == 1 and signalled[0].action == "terminate" and signalled[0].done  # type: ignore[attr-defined]
            assert any(isinstance(m, MigrationFinished) for m in messages)
            assert not screen.query_one("#blocked").has_class("shown")
            log = " ".join(strip.text for strip in screen.query_one("#log", RichLog).lines)
            assert "disconnected pid" in log
    finally:
        holder.close()


async def test_index_builds_on_existing_tables_run_online_after_the_commit_with_a_bar(
    make_app: AppFactory, db: TestDatabase
) -> None:
    messages: list[object] = []
    app = make_app(db.url, start="connect")
    app.state.online_rows = 0  # every existing table counts as big
    async with app.run_test(size=(100, 32), message_hook=messages.append) as pilot:
        screen = await _open_migrate(app, pilot)
        await _settle(app, pilot)
        assert any(isinstance(m, MigrationFinished) for m in messages)
        started = _events(messages, IndexBuildStarted)
        assert [e.index for e in started] == ["idx_attachments_storage_key", "idx_attachments_conversation_id"]  # type: ignore[attr-defined]
        assert len(_events(messages, IndexBuildFinished)) == 2
        bar = screen.query_one("#progress", ProgressBar)
        assert bar.total == 100 and bar.progress == 100
        log = " ".join(strip.text for strip in screen.query_one("#log", RichLog).lines)
        assert "except its index builds on big tables" in log and "CONCURRENTLY" in log
        assert "built index idx_attachments_storage_key online" in log
        assert screen.query_one("#verify", Button).disabled is False
    assert db.scalar(VALID, ("idx_attachments_conversation_id",)) == 1
