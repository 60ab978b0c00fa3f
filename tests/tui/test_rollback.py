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
        run = app.screen.query_one("#run", Button)
        confirm = app.screen.query_one("#confirm", Input)
        confirm.value = "wrong name"
        await pilot.pause()
        assert run.disabled
        confirm.value = db.name
        await pilot.pause()
        assert not run.disabled
        await pilot.click("#run")
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
