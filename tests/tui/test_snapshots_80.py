"""Every screen of the flow at 80x24, the smallest terminal a user is likely to have (SVG
snapshots; `pytest --snapshot-update` rewrites them after an intended change). At this size the
footer must still show F1 and quit, tables wrap their cells instead of cutting them, and a file
path breaks after a '/', never inside a name. What varies between runs is fixed as in
test_snapshots.py and test_snapshots_backup.py, whose fixtures these reuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from tests.tui.test_snapshots import (
    NEON,
    _constant_clock,
    _logged,
    _migrate_with_fixed_ledger,
    _settle,
    _to,
    fixed_db,
    fixed_report_path,
)
from tests.tui.test_snapshots_backup import fixed_backups
from wizard.core import backup
from wizard.core.connection import connect

SIZE = (80, 24)
__all__ = ["fixed_backups", "fixed_db", "fixed_report_path"]  # fixtures, used by name


def _on(fixed: TestDatabase) -> Any:
    """The app on the snapshot database, every duration on screen 0."""

    def make(make_app: AppFactory, **options: Any) -> Any:
        return _constant_clock(make_app(fixed.url, start="connect", **options))

    return make


async def _connected_then(pilot: Pilot[Any], screen: str) -> None:
    await pilot.press("ctrl+t")
    await _to(pilot, screen)


def test_welcome_80(snap_compare: Any, make_app: AppFactory) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE)


def test_connect_80_with_a_pooler_url(snap_compare: Any, make_app: AppFactory) -> None:
    async def paste(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one("#url", Input).value = NEON
        await pilot.pause()

    assert snap_compare(make_app(start="connect"), terminal_size=SIZE, run_before=paste)


def test_preflight_80(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _connected_then(pilot, "preflight")

    assert snap_compare(_on(fixed_db)(make_app), terminal_size=SIZE, run_before=run_before)


@pytest.mark.usefixtures("fixed_backups")
def test_backup_80(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _connected_then(pilot, "backup")

    assert snap_compare(_on(fixed_db)(make_app), terminal_size=SIZE, run_before=run_before)


def test_review_80(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _connected_then(pilot, "review")

    assert snap_compare(_on(fixed_db)(make_app), terminal_size=SIZE, run_before=run_before)


def test_rehearse_80(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _connected_then(pilot, "rehearse")

    assert snap_compare(_on(fixed_db)(make_app), terminal_size=SIZE, run_before=run_before)


@pytest.mark.usefixtures("fixed_report_path")
def test_migrate_80_finished(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _connected_then(pilot, "migrate")
        await _settle(pilot)
        await _logged(pilot, "recorded in the ledger")
        pilot.app.screen.query_one("#body").scroll_end(animate=False)  # the outcome, wherever it was
        await pilot.pause()

    assert snap_compare(_on(fixed_db)(make_app), terminal_size=SIZE, run_before=run_before)


def test_verify_80(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    _migrate_with_fixed_ledger(fixed_db)
    app = _on(fixed_db)(make_app, verify_only=True)
    assert snap_compare(app, terminal_size=SIZE, run_before=_settle)


@pytest.mark.usefixtures("fixed_report_path")
def test_done_80_after_migrating(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _connected_then(pilot, "migrate")
        await _to(pilot, "verify")
        await _to(pilot, "done")
        pilot.app.screen.query_one("#body").scroll_end(animate=False)  # the report's path
        await pilot.pause()

    assert snap_compare(_on(fixed_db)(make_app), terminal_size=SIZE, run_before=run_before)


def test_rollback_80(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    _migrate_with_fixed_ledger(fixed_db)
    app = _on(fixed_db)(make_app)
    app.state.rollback_only = True
    assert snap_compare(app, terminal_size=SIZE, run_before=_settle)


def test_restore_80(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase, fixed_backups: Path) -> None:
    with connect(fixed_db.target) as conn:
        # Plain SQL: its size is the same every run (a compressed archive's is not).
        taken = backup.run_backup(conn, fixed_db.target, lambda _e: None, fmt="plain", output=fixed_backups)
    app = _on(fixed_db)(make_app)
    app.state.restore_only = True
    app.state.backup = taken
    assert snap_compare(app, terminal_size=SIZE, run_before=_settle)


def test_troubleshooting_panel_80_explains_a_paste(snap_compare: Any, make_app: AppFactory) -> None:
    async def paste(pilot: Pilot[Any]) -> None:
        from textual import events

        await pilot.press("f1")
        await pilot.pause()
        message = "ERROR:  canceling statement due to lock timeout"
        pilot.app.screen.query_one("#paste").post_message(events.Paste(message))  # as a terminal sends a paste
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=paste)
