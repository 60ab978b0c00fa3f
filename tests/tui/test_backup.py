"""The Backup screen: a real database needs a backup ticked off; the practice database does not."""

from __future__ import annotations

from textual.widgets import Button, Checkbox, Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from tests.tui.test_preflight import open_preflight, settle
from wizard.tui.screens.backup import BackupScreen
from wizard.tui.screens.preflight import PreflightScreen
from wizard.tui.screens.review import ReviewScreen, StatementBlock


async def test_a_real_database_needs_the_box_ticked_before_continue(make_app: AppFactory, db: TestDatabase) -> None:
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_preflight(app, pilot)
        await pilot.click("#continue")
        await settle(app, pilot)
        assert isinstance(app.screen, BackupScreen)
        why = str(app.screen.query_one("#why", Static).render())
        assert "put the database back exactly as it was" in why and "Neon branch" in why
        carry_on = app.screen.query_one("#continue", Button)
        box = app.screen.query_one("#have-backup", Checkbox)
        assert str(box.label) == "I have a backup I can restore"
        assert carry_on.disabled and not app.state.backup_acknowledged
        await pilot.press("enter")  # the box has focus: Enter ticks it, it does not go on
        await pilot.pause()
        assert box.value and not carry_on.disabled and app.state.backup_acknowledged
        await pilot.press("shift+tab", "space")  # untick again: blocked again
        await pilot.pause()
        assert not box.value and carry_on.disabled and not app.state.backup_acknowledged
        await pilot.click("#continue")
        await pilot.pause()
        assert isinstance(app.screen, BackupScreen)
        await pilot.click("#have-backup")
        await pilot.pause()
        await pilot.press("enter")  # focus moved to Continue when ticked
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, BackupScreen)
        assert app.screen.query_one("#have-backup", Checkbox).value  # remembered
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, PreflightScreen)


async def test_the_practice_database_needs_no_backup(make_app: AppFactory) -> None:
    from tests.cli_runner import run

    assert run("practice", "--reset").code == 0  # shared by the session: start from its pre-Phase-2 state
    app = make_app(practice=True, start="connect")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_preflight(app, pilot)  # starts the embedded practice database
        assert app.state.practice and "All checks passed" in str(app.screen.query_one("#summary", Static).render())
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, BackupScreen)
        why = str(app.screen.query_one("#why", Static).render())
        assert "no backup is needed" in why and "migration-wizard practice --reset" in why
        assert not app.screen.query(Checkbox)
        assert not app.screen.query_one("#continue", Button).disabled
        assert app.state.backup_acknowledged
        await pilot.press("enter")
        await settle(app, pilot)
        # The Review step on the practice database: no name to type, Apply is ready.
        review = app.screen
        assert isinstance(review, ReviewScreen)
        assert len(review.query(StatementBlock)) == 14
        assert not review.query_one("#confirm").display
        assert not review.query_one("#apply", Button).disabled
