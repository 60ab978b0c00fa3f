"""The Check (pre-flight) screen: one row per check, a summary, and where it lets you go."""

from __future__ import annotations

import psycopg
from textual.widgets import Button, Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from wizard.core import engine
from wizard.core.connection import connect
from wizard.core.migrations import load_migrations
from wizard.core.runner import RunOptions
from wizard.tui.app import WizardApp
from wizard.tui.messages import PreflightFinished, WorkFailed
from wizard.tui.screens.backup import BackupScreen
from wizard.tui.screens.connect import ConnectScreen
from wizard.tui.screens.preflight import PreflightScreen
from wizard.tui.widgets.checks import CheckTable


async def settle(app: WizardApp, pilot: object) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()  # type: ignore[attr-defined]


async def open_preflight(app: WizardApp, pilot: object) -> PreflightScreen:
    """Test the connection on the Connect screen, then Continue: the checks run by themselves."""
    await pilot.click("#test")  # type: ignore[attr-defined]
    await settle(app, pilot)
    await pilot.click("#continue")  # type: ignore[attr-defined]
    await settle(app, pilot)
    assert isinstance(app.screen, PreflightScreen)
    return app.screen


def text(app: WizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def rows(app: WizardApp) -> dict[str, tuple[str, str]]:
    """Check title -> (badge, reason), as the table shows them."""
    return {str(row[1]): (str(row[0]).strip(), str(row[2])) for row in app.screen.query_one(CheckTable).rows}


def _migrate(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        engine.apply_pending(conn, load_migrations(), RunOptions(), lambda e: None)


async def test_a_fresh_database_passes_every_check_and_continues_to_backup(
    make_app: AppFactory, db: TestDatabase
) -> None:
    messages: list[object] = []
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await open_preflight(app, pilot)
        assert any(isinstance(m, PreflightFinished) for m in messages)
        shown = rows(app)
        assert set(shown) >= {
            "Connection",
            "Server version",
            "Application tables present",
            "Privileges to change the schema",
            "Sessions using the tables now",
            "Migration state",
        }
        assert all(badge == "PASS" for badge, _ in shown.values())
        assert "Pending: 002_phase2_vision_api" in shown["Migration state"][1]
        assert "All checks passed" in text(app, "#summary")
        assert [c.status for c in app.state.preflight] == ["pass"] * len(shown)
        carry_on = app.screen.query_one("#continue", Button)
        assert not carry_on.disabled and carry_on.display
        assert not app.screen.query_one("#verify", Button).display
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, BackupScreen)


async def test_the_wrong_database_fails_the_application_tables_check(
    make_app: AppFactory, empty_db: TestDatabase
) -> None:
    app = make_app(empty_db.url, start="connect")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_preflight(app, pilot)
        badge, reason = rows(app)["Application tables present"]
        assert badge == "FAIL" and "public.attachments" in reason
        assert "A check failed: fix it before migrating" in text(app, "#summary")
        assert "is this the application's database?" in text(app, "#notes")
        assert app.screen.query_one("#continue", Button).disabled
        await pilot.press("enter")  # disabled: stays put
        await settle(app, pilot)
        assert isinstance(app.screen, PreflightScreen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ConnectScreen)


async def test_a_session_holding_a_lock_on_attachments_is_a_warning_naming_its_pid(
    make_app: AppFactory, db: TestDatabase
) -> None:
    app = make_app(db.url, start="connect")
    with psycopg.connect(db.url) as other:  # not autocommit: stays "idle in transaction"
        other.execute("SELECT count(*) FROM attachments").fetchone()
        pid = other.info.backend_pid
        async with app.run_test(size=(80, 24)) as pilot:
            await open_preflight(app, pilot)
            badge, reason = rows(app)["Sessions using the tables now"]
            assert badge == "WARN" and f"pid {pid} is idle in transaction" in reason
            assert "1 warning: read it before you go on" in text(app, "#summary")
            notes = text(app, "#notes")
            assert f"pid {pid}" in notes and "SELECT count(*) FROM attachments" in notes
            assert not app.screen.query_one("#continue", Button).disabled  # a warning does not block
            other.rollback()
            await pilot.press("r")  # the other session let go: re-run
            await settle(app, pilot)
            assert rows(app)["Sessions using the tables now"][0] == "PASS"
            assert "All checks passed" in text(app, "#summary")


async def test_an_already_migrated_database_offers_verify(make_app: AppFactory, db: TestDatabase) -> None:
    from wizard.tui.screens.verify import VerifyScreen

    _migrate(db)
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_preflight(app, pilot)
        assert "Already applied" in rows(app)["Migration state"][1]
        assert "nothing to migrate" in text(app, "#summary")
        assert not app.screen.query_one("#continue", Button).display
        verify = app.screen.query_one("#verify", Button)
        assert verify.display and not verify.disabled
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, VerifyScreen)


async def test_a_lost_connection_is_shown_inline_and_r_retries(make_app: AppFactory, db: TestDatabase) -> None:
    messages: list[object] = []
    app = make_app(db.url.replace("postgres:@", "postgres:Secret42pw@"), start="connect")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await pilot.click("#test")
        await settle(app, pilot)
        assert app.state.conn is not None
        app.state.conn.close()  # the server went away between the steps
        await pilot.click("#continue")
        await settle(app, pilot)
        assert isinstance(app.screen, PreflightScreen)
        assert any(isinstance(m, WorkFailed) for m in messages)
        problem = text(app, "#problem .problem-text") + text(app, "#retry-hint")
        assert "The checks could not run" in problem and "Press R" in problem
        assert "Secret42pw" not in problem and "Secret42pw" not in repr(app.state.last_problem)
        assert app.screen.query_one("#continue", Button).disabled
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, PreflightScreen)  # still there, still explaining
