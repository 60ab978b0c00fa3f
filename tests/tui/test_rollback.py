"""The Rollback screen: what would be lost, typed confirmation, streaming, then Verify."""

from __future__ import annotations

from textual.widgets import Button, Input, Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from wizard.core import engine
from wizard.core.connection import connect
from wizard.core.migrations import load_migrations
from wizard.core.runner import RunOptions
from wizard.tui.screens.rollback import RollbackScreen
from wizard.tui.screens.verify import VerifyScreen


def _migrate_with_data(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        engine.apply_pending(conn, load_migrations(), RunOptions(), lambda e: None)
    db.execute(
        "INSERT INTO image_analyses (attachment_id, agent_type) SELECT id, 'design' FROM attachments LIMIT 3;"
        "UPDATE attachments SET storage_key = 'k/' || id WHERE id IN (SELECT id FROM attachments LIMIT 5)"
    )


async def _settle(app: object, pilot: object) -> None:
    for _ in range(4):
        await app.workers.wait_for_complete()  # type: ignore[attr-defined]
        await pilot.pause()  # type: ignore[attr-defined]


def _text(app: object, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


async def test_rollback_says_what_is_lost_needs_the_database_name_and_ends_on_verify(
    make_app: AppFactory, db: TestDatabase
) -> None:
    _migrate_with_data(db)
    app = make_app(db.url, start="connect")
    app.state.rollback_only = True
    async with app.run_test(size=(100, 40)) as pilot:
        await _settle(app, pilot)
        assert isinstance(app.screen, RollbackScreen)
        impact = _text(app, "#impact")
        assert "table image_analyses and its 3 rows" in impact
        assert "column attachments.storage_key and its 5 non-empty values" in impact
        assert "then press Enter" in _text(app, "#confirm-hint")  # what to do once it is typed
        run = app.screen.query_one("#run", Button)
        confirm = app.screen.query_one("#confirm", Input)
        assert confirm.has_focus
        await pilot.press(*"wrong", "enter")  # not the name: Enter does nothing
        await _settle(app, pilot)
        assert run.disabled and "Rolled back" not in _text(app, "#outcome")
        assert db.scalar("SELECT to_regclass('public.image_analyses')") is not None
        confirm.value = ""
        await pilot.press(*db.name)
        assert not run.disabled
        await pilot.press("enter")  # the name typed, Enter rolls back: no need to find the button
        await _settle(app, pilot)
        assert "Rolled back 002_phase2_vision_api" in _text(app, "#outcome") and "Report:" in _text(app, "#outcome")
        assert db.scalar("SELECT to_regclass('public.image_analyses')") is None
        await pilot.click("#verify")
        await _settle(app, pilot)
        assert isinstance(app.screen, VerifyScreen)
        assert "checks failed" in _text(app, "#overall")  # the pre-Phase-2 state


async def test_the_practice_database_asks_for_the_word_practice(make_app: AppFactory) -> None:
    from tests.cli_runner import run

    assert run("practice", "--reset").code == 0
    assert run("migrate", "--practice", "--yes", "--skip-backup").code == 0
    app = make_app(practice=True, start="connect")
    app.state.rollback_only = True
    async with app.run_test(size=(100, 40)) as pilot:
        await _settle(app, pilot)
        assert isinstance(app.screen, RollbackScreen)
        assert "type practice below" in _text(app, "#confirm-hint")
        app.screen.query_one("#confirm", Input).value = "practice"
        await pilot.pause()
        await pilot.click("#run")
        await _settle(app, pilot)
        assert "Rolled back" in _text(app, "#outcome")
    assert run("practice", "--reset").code == 0


async def test_nothing_to_roll_back_on_a_fresh_database(make_app: AppFactory, db: TestDatabase) -> None:
    app = make_app(db.url, start="connect")
    app.state.rollback_only = True
    async with app.run_test(size=(100, 40)) as pilot:
        await _settle(app, pilot)
        assert "Nothing to roll back" in _text(app, "#impact")
        assert app.screen.query_one("#run", Button).disabled


def _log(app: object) -> list[str]:
    from textual.widgets import RichLog

    return [line.text for line in app.screen.query_one("#log", RichLog).lines]  # type: ignore[attr-defined]


async def test_the_rollback_screen_uses_the_flows_lock_settings_and_shows_notices(
    make_app: AppFactory, db: TestDatabase
) -> None:
    """The same rollback as the CLI's: the flow's lock timeout, wait budget and clock, and the
    server's NOTICEs in the log (an index already dropped by hand: "does not exist, skipping")."""
    import psycopg

    from wizard.core.events import LockWait
    from wizard.tui.messages import EngineEvent

    _migrate_with_data(db)
    db.execute("DROP INDEX idx_image_analyses_agent_type")
    messages: list[object] = []
    holder = psycopg.connect(db.url, application_name="report-query")
    holder.execute("SELECT count(*) FROM image_analyses")  # an open transaction: a lock the rollback waits for
    try:
        app = make_app(db.url, start="connect")
        app.state.rollback_only = True
        app.state.lock_timeout_ms, app.state.max_wait = 100, 7.0
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            await _settle(app, pilot)
            app.screen.query_one("#confirm", Input).value = db.name
            await pilot.pause()
            await pilot.click("#run")
            for _ in range(60):
                await pilot.pause(0.1)
                if any(isinstance(m, EngineEvent) and isinstance(m.event, LockWait) for m in messages):
                    break
            waits = [m.event for m in messages if isinstance(m, EngineEvent) and isinstance(m.event, LockWait)]
            assert waits and waits[0].budget == 7.0  # the flow's max_wait, not the core's default 60 s
            assert any("report-query" in line for line in _log(app))
            holder.rollback()  # the report query ends: the next try goes through
            await _settle(app, pilot)
            await pilot.pause(1)
            await _settle(app, pilot)
            assert "Rolled back 002_phase2_vision_api" in _text(app, "#outcome")
            notices = [line for line in _log(app) if "NOTICE" in line]
            assert any("does not exist, skipping" in line for line in notices), _log(app)
    finally:
        holder.close()
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None
