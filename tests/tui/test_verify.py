"""The Verify screen: one table per check, failures highlighted, re-runnable."""

from __future__ import annotations

from textual.widgets import Button, Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from wizard.core import engine
from wizard.core.connection import connect
from wizard.core.migrations import load_migrations
from wizard.core.runner import RunOptions
from wizard.tui.messages import VerifyFinished
from wizard.tui.screens.verify import CheckBlock, VerifyScreen
from wizard.tui.widgets.checks import WrappingTable


def _migrate(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        engine.apply_pending(conn, load_migrations(), RunOptions(), lambda e: None)


async def _open_verify(app: object, pilot: object) -> None:
    """verify_only connects by itself, then opens Verify, which runs the checks."""
    for _ in range(4):
        await app.workers.wait_for_complete()  # type: ignore[attr-defined]
        await pilot.pause()  # type: ignore[attr-defined]


async def test_verify_only_opens_the_verify_screen_and_everything_passes(
    make_app: AppFactory, db: TestDatabase
) -> None:
    _migrate(db)
    messages: list[object] = []
    app = make_app(db.url, start="connect", verify_only=True)
    async with app.run_test(size=(100, 40), message_hook=messages.append) as pilot:
        await _open_verify(app, pilot)
        assert isinstance(app.screen, VerifyScreen)
        assert any(isinstance(m, VerifyFinished) and m.report.ok for m in messages)
        assert "All 8 checks passed" in str(app.screen.query_one("#overall", Static).render())
        new_rows = app.screen.query_one("#check-attachments_columns", CheckBlock).query_one(WrappingTable).rows
        marked = [str(row[0]) for row in new_rows if str(row[3]) == "NEW"]
        assert marked == ["storage_key", "public_url", "vision_analysis", "analyzed_at"]
        assert app.screen.query_one("#next", Button).label.plain == "Quit (Enter)"
        # The footer does not contradict the button (it once said "Continue"), and Enter quits.
        shown = {b.description for _, b, enabled, _ in app.screen.active_bindings.values() if enabled and b.show}
        assert "Continue" not in shown
        await pilot.press("enter")
        await pilot.pause()
        assert not app.is_running


async def test_a_half_migrated_database_fails_with_the_missing_rows_in_red(
    make_app: AppFactory, db: TestDatabase
) -> None:
    db.execute(
        "ALTER TABLE attachments ADD COLUMN storage_key varchar; ALTER TABLE attachments ADD COLUMN public_url text"
    )
    app = make_app(db.url, start="connect", verify_only=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await _open_verify(app, pilot)
        assert "checks failed" in str(app.screen.query_one("#overall", Static).render())
        block = app.screen.query_one("#check-attachments_columns", CheckBlock)
        assert block.check.status == "fail"
        rows = block.query_one(WrappingTable).rows
        missing = [r for r in rows if str(r[0]) in ("vision_analysis", "analyzed_at")]
        assert len(missing) == 2 and all("missing" in str(r[5]) for r in missing)
        assert all(cell.style == "bold red" for r in missing for cell in r)
        present = next(r for r in rows if str(r[0]) == "storage_key")
        assert all(getattr(cell, "style", "") != "bold red" for cell in present)


async def test_r_re_runs_the_checks_and_sees_a_fix(make_app: AppFactory, db: TestDatabase) -> None:
    messages: list[object] = []
    app = make_app(db.url, start="connect", verify_only=True)
    async with app.run_test(size=(100, 40), message_hook=messages.append) as pilot:
        await _open_verify(app, pilot)
        assert not [m for m in messages if isinstance(m, VerifyFinished)][-1].report.ok
        _migrate(db)
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [m for m in messages if isinstance(m, VerifyFinished)][-1].report.ok
        assert "All 8 checks passed" in str(app.screen.query_one("#overall", Static).render())
