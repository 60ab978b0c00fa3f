"""The Review screen: every pending statement, explained, and Apply only once the name is typed."""

from __future__ import annotations

from textual.geometry import Region
from textual.widgets import Button, Input, Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from tests.tui.test_backup import acknowledge_own_backup, open_backup
from tests.tui.test_preflight import _migrate, settle
from wizard.tui.app import WizardApp
from wizard.tui.screens.backup import BackupScreen
from wizard.tui.screens.review import PRESENT, ReviewReady, ReviewScreen, StatementBlock

STORAGE_KEY = (
    "SELECT count(*) FROM information_schema.columns WHERE table_name = 'attachments' AND column_name = 'storage_key'"
)


async def open_review(app: WizardApp, pilot: object) -> ReviewScreen:
    """Connect, pass the checks, say you have your own backup, Continue."""
    await open_backup(app, pilot)
    await acknowledge_own_backup(app, pilot)
    await pilot.click("#continue")  # type: ignore[attr-defined]
    await settle(app, pilot)
    assert isinstance(app.screen, ReviewScreen)
    return app.screen


def block_text(block: StatementBlock) -> str:
    """What the block shows on screen, wrapped lines joined (the SQL is a highlighted rich Syntax)."""
    lines = []
    for static in block.query(Static):
        region = Region(0, 0, *static.outer_size)
        lines += [strip.text.rstrip() for strip in static.render_lines(region)]
    return " ".join(" ".join(lines).split())


async def test_every_statement_is_shown_and_apply_needs_the_database_name(
    make_app: AppFactory, db: TestDatabase
) -> None:
    from wizard.tui.screens.migrate import MigrateScreen

    messages: list[object] = []
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_review(app, pilot)
        ready = {id(m): m for m in messages if isinstance(m, ReviewReady)}  # the hook may see one twice
        assert [m.migrations for m in ready.values()] == [["002_phase2_vision_api"]]
        header = str(screen.query_one("#header", Static).render())
        assert "Nothing has been changed yet. These 14 statements run in one transaction" in header
        assert "either all of them are applied or none" in header
        blocks = list(screen.query(StatementBlock))
        assert len(blocks) == 14
        first = block_text(blocks[0])
        assert "[1/14] 002_phase2_vision_api, line 7" in first
        assert "ALTER TABLE attachments ADD COLUMN IF NOT EXISTS storage_key varchar;" in first
        assert "adds column storage_key (varchar) to attachments; existing rows get NULL" in first
        assert "ACCESS EXCLUSIVE lock on attachments" in first
        assert "creates table image_analyses with 10 columns" in block_text(blocks[4])
        assert not any(PRESENT in block_text(b) for b in blocks)

        apply = screen.query_one("#apply", Button)
        name = screen.query_one("#confirm-name", Input)
        assert apply.disabled and name.has_focus
        assert db.name in str(screen.query_one("#confirm-prompt", Static).render())
        await pilot.press(*db.name[:-1])
        await pilot.press("enter")  # not the whole name yet: nothing happens
        await pilot.pause()
        assert apply.disabled and isinstance(app.screen, ReviewScreen)
        await pilot.press("x")
        await pilot.pause()
        assert apply.disabled  # a wrong last letter
        await pilot.press("backspace", db.name[-1])
        await pilot.pause()
        assert name.value == db.name and not apply.disabled
        assert db.scalar(STORAGE_KEY) == 0  # reviewing changed nothing
        assert app.state.backup_acknowledged and app.state.conn is not None
        await pilot.click("#apply")
        await pilot.pause()
        assert isinstance(app.screen, MigrateScreen)
        await settle(app, pilot)
        assert db.scalar(STORAGE_KEY) == 1


async def test_a_column_added_by_hand_is_marked_already_present(make_app: AppFactory, db: TestDatabase) -> None:
    db.execute("ALTER TABLE attachments ADD COLUMN storage_key varchar")
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(app, pilot)
        blocks = list(screen.query(StatementBlock))
        assert len(blocks) == 14
        marked = [b.planned.index for b in blocks if PRESENT in block_text(b)]
        assert marked == [1]
        assert "1 of them find their object already there and change nothing" in str(
            screen.query_one("#header", Static).render()
        )


async def test_nothing_pending_offers_verify(make_app: AppFactory, db: TestDatabase) -> None:
    from wizard.tui.screens.verify import VerifyScreen

    _migrate(db)
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.click("#test")
        await settle(app, pilot)
        app.go("review")  # the Check step would offer Verify already; arrive here anyway
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        assert "Nothing is pending" in str(screen.query_one("#header", Static).render())
        assert not screen.query(StatementBlock)
        assert not screen.query_one("#confirm").display
        assert screen.query_one("#verify", Button).display and not screen.query_one("#apply", Button).display
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, VerifyScreen)


async def test_back_goes_to_the_backup_step_and_a_lost_connection_is_explained(
    make_app: AppFactory, db: TestDatabase
) -> None:
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_review(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, BackupScreen)
        assert app.state.conn is not None
        app.state.conn.close()
        await pilot.click("#continue")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        assert "Could not read what is pending" in str(screen.query_one("#header", Static).render())
        assert screen.query_one("#problem").has_class("-shown")
        assert screen.query_one("#apply", Button).disabled
