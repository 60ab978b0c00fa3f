"""Review's "Rehearse on a local copy": the pending migrations run on a throwaway copy of the
database first; the screen streams the steps and the outcome, and production is not changed."""

from __future__ import annotations

from textual.widgets import Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from tests.tui.test_preflight import settle
from wizard.core.doctor import diagnose
from wizard.tui.app import WizardApp
from wizard.tui.screens.rehearse import RehearseScreen
from wizard.tui.screens.review import ReviewScreen
from wizard.tui.widgets.problem_box import ProblemBox


async def _open_rehearsal(app: WizardApp, pilot: object) -> RehearseScreen:
    await pilot.press("ctrl+t")  # type: ignore[attr-defined]
    await settle(app, pilot)
    assert app.state.conn is not None
    app.go("review")
    await settle(app, pilot)
    assert isinstance(app.screen, ReviewScreen)
    await pilot.press("ctrl+r")  # type: ignore[attr-defined]
    await settle(app, pilot)
    assert isinstance(app.screen, RehearseScreen)
    return app.screen


def _text(app: WizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_a_rehearsal_from_review_passes_on_the_copy_and_changes_nothing(
    make_app: AppFactory, db: TestDatabase
) -> None:
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        await _open_rehearsal(app, pilot)
        said = _text(app, "#explain")
        assert "Your database is not changed" in said and "fresh backup" in said  # before it starts
        await pilot.press("enter")
        await settle(app, pilot)
        outcome = _text(app, "#outcome")
        assert "Rehearsal passed" in outcome and "002" in outcome and "lock waits" in outcome, outcome
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None
    assert db.scalar("SELECT to_regclass('migration_wizard.ledger')") is None  # not even the ledger


async def test_a_migration_that_would_fail_is_shown_with_its_fix(make_app: AppFactory, db: TestDatabase) -> None:
    db.execute("CREATE TABLE image_analyses (id serial PRIMARY KEY, attachment uuid, note text)")  # an old try
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        await _open_rehearsal(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        outcome = _text(app, "#outcome")
        assert "failed on the copy" in outcome and "idx_image_analyses_attachment_id" in outcome, outcome
        box = app.screen.query_one(ProblemBox)
        assert box.has_class("-shown")
        shown = str(box.query_one(".problem-text", Static).render()).replace("\n", " ")
        assert 'column "attachment_id" does not exist' in shown
        found = diagnose('column "attachment_id" does not exist', sqlstate="42703")  # the copy's error, as sent
        assert found.matched and found.fix[0][:30] in shown  # its fix, as the troubleshooting rules give it
    assert db.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'image_analyses'") == 3
