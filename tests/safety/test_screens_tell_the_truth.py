"""The screens tell the truth too: a restore that committed and then could not write its session
report (a full disk) says the database was restored, not that it failed; an empty migration file
is refused on the Check step, naming the file, before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Static

from tests.conftest import TestDatabase
from wizard.core import paths
from wizard.core.backup import BackupResult, run_backup
from wizard.core.connection import connect
from wizard.tui.app import WizardApp
from wizard.tui.screens.preflight import PreflightScreen
from wizard.tui.screens.restore import RestoreScreen
from wizard.tui.state import FlowState
from wizard.tui.widgets.problem_box import ProblemBox


async def _settle(app: WizardApp, pilot: Any) -> None:
    for _ in range(4):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def test_a_restore_that_committed_then_could_not_write_its_report_says_it_restored(
    db: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(paths, "backups_dir", lambda: folder)
    with connect(db.target) as conn:
        taken: BackupResult = run_backup(conn, db.target, lambda _e: None, output=folder)
    db.execute("UPDATE users SET display_name = 'changed after the backup'")
    blocked = tmp_path / "reports"
    blocked.write_text("a file where the reports folder should be\n")
    monkeypatch.setattr(paths, "reports_dir", lambda: paths._private_dir(blocked))  # mkdir fails: OSError
    app = WizardApp(FlowState(initial_url=db.url, connect_timeout=5, restore_only=True, backup=taken), start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RestoreScreen) and screen.plan is not None
        await pilot.press(*db.name, "enter")
        await _settle(app, pilot)
        outcome = " ".join(str(screen.query_one("#outcome", Static).render()).split())
        assert "The database was restored (committed), but a later step failed" in outcome
        assert "The restore failed" not in outcome
        box = screen.query_one(ProblemBox)
        said = " ".join(str(box.query_one(".problem-text", Static).render()).split())
        assert "(committed), but writing the session report failed" in said, said
        assert not app.busy
    assert db.scalar("SELECT count(*) FROM users WHERE display_name = 'changed after the backup'") == 0


async def test_an_empty_migration_file_is_refused_on_the_check_step(db: TestDatabase, migrations_copy: Path) -> None:
    (migrations_copy / "002_phase2_vision_api.sql").write_text("-- written later\n")
    state = FlowState(initial_url=db.url, connect_timeout=5, migrations_dir=migrations_copy)
    app = WizardApp(state, start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#test")
        await _settle(app, pilot)
        await pilot.click("#continue")
        await _settle(app, pilot)
        assert isinstance(app.screen, PreflightScreen)
        said = " ".join(str(app.screen.query_one(ProblemBox).query_one(".problem-text", Static).render()).split())
        assert "002_phase2_vision_api.sql holds no SQL statement" in said, said
        assert app.screen.query_one("#continue", Button).disabled
    assert db.scalar("SELECT to_regclass('migration_wizard.ledger')") is None
