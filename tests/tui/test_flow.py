"""The whole guided flow with the keyboard, as a newcomer would go through it."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, Input

from tests.cli_runner import run
from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from wizard.tui.app import WizardApp


async def _settle(pilot: Pilot[Any]) -> None:
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def _on(app: WizardApp, name: str) -> bool:
    return type(app.screen).__name__ == name


async def _walk_to_done(app: WizardApp, pilot: Pilot[Any], *, database: str | None) -> None:
    await pilot.press("enter")  # Welcome: Start
    await _settle(pilot)
    assert _on(app, "ConnectScreen")
    await pilot.press("ctrl+t")  # test the connection (or start the practice database)
    await _settle(pilot)
    await pilot.press("enter")  # Continue is focused once connected
    await _settle(pilot)
    assert _on(app, "PreflightScreen")
    await pilot.press("enter")
    await _settle(pilot)
    assert _on(app, "BackupScreen")
    # Continue needs a backup on a real database; on the practice database one is optional.
    assert app.screen.query_one("#continue", Button).disabled == (database is not None)
    await pilot.press("enter")  # Back up now (on the practice database too: it rehearses the real step)
    await _settle(pilot)
    assert app.state.backup is not None and app.state.backup.path.exists()
    await pilot.press("enter")  # Continue is focused once the backup is verified
    await _settle(pilot)
    assert _on(app, "ReviewScreen")
    if database is not None:
        field = next(iter(app.screen.query(Input)))
        field.focus()
        await pilot.press(*database)
    await pilot.press("enter")
    await _settle(pilot)
    assert _on(app, "MigrateScreen")
    await _settle(pilot)
    await pilot.press("enter")  # Verify
    await _settle(pilot)
    assert _on(app, "VerifyScreen")
    assert app.state.verify is not None and app.state.verify.ok
    await pilot.press("enter")
    await _settle(pilot)
    assert _on(app, "DoneScreen")


async def test_the_whole_flow_on_a_plain_database(make_app: AppFactory, db: TestDatabase) -> None:
    from textual.widgets import Static

    from wizard.core import paths

    app = make_app(db.url)
    async with app.run_test(size=(100, 40)) as pilot:
        await _walk_to_done(app, pilot, database=db.name)
        assert db.scalar("SELECT count(*) FROM migration_wizard.ledger WHERE version = '002'") == 1
        report = str(app.screen.query_one("#report", Static).content)  # the sentence, unwrapped
        assert str(paths.reports_dir()) in report and app.state.report_path and app.state.report_path.exists()
        assert app.state.backup is not None  # the report names the verified backup
        assert f"- Backup: {app.state.backup.path}" in app.state.report_path.read_text()
        await pilot.press("u")  # Done offers the rollback
        await _settle(pilot)
        assert _on(app, "RollbackScreen")


async def test_the_whole_flow_on_the_practice_database_then_verify_again_later(make_app: AppFactory) -> None:
    assert run("practice", "--reset").code == 0
    app = make_app(practice=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await _walk_to_done(app, pilot, database=None)
    later = run("verify", "--practice", "--json")
    assert later.code == 0 and '"ok": true' in later.out
    assert run("practice", "--reset").code == 0
