"""The Restore screen: what the file holds and what goes first, the name typed, one transaction,
rows compared, verify for information. Reachable from Welcome, Rollback and a failed migration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.geometry import Region
from textual.widgets import Button, Input, OptionList, Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from wizard.core import engine, paths
from wizard.core.backup import BackupResult, run_backup
from wizard.core.connection import connect
from wizard.core.migrations import load_migrations
from wizard.core.runner import RunOptions
from wizard.tui.app import WizardApp
from wizard.tui.screens.restore import BEFORE_PHASE_2, RestoreScreen
from wizard.tui.screens.rollback import RollbackScreen
from wizard.tui.screens.verify import VerifyScreen


async def settle(app: WizardApp, pilot: Any) -> None:
    for _ in range(4):
        await app.workers.wait_for_complete()
        await pilot.pause()


def _text(app: WizardApp, selector: str) -> str:
    """What the widget shows, as text (tables included), lines joined by newlines."""
    static = app.screen.query_one(selector, Static)
    region = Region(0, 0, *static.outer_size)
    return "\n".join(strip.text.rstrip() for strip in static.render_lines(region)).strip()


def _flat(text: str) -> str:
    """Text without its spaces and line breaks: what wrapping cannot change."""
    return "".join(text.split())


def _counts(db: TestDatabase) -> dict[str, int]:
    with db.connect() as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {t: int(conn.execute(f'SELECT count(*) FROM public."{t}"').fetchone()[0]) for t in tables}  # type: ignore[index]


def _backup(db: TestDatabase, folder: Path, **options: Any) -> BackupResult:
    with connect(db.target) as conn:
        return run_backup(conn, db.target, lambda _e: None, output=folder, **options)


def _migrate_and_change(db: TestDatabase) -> None:
    """Phase 2 applied, then life goes on: rows in the new table, a changed name."""
    with connect(db.target) as conn:
        engine.apply_pending(conn, load_migrations(), RunOptions(), lambda _e: None)
    db.execute(
        "INSERT INTO image_analyses (attachment_id, agent_type) SELECT id, 'design' FROM attachments LIMIT 3;"
        "UPDATE users SET display_name = 'changed after the backup'"
    )


async def _confirm(app: WizardApp, pilot: Any, name: str) -> None:
    field = app.screen.query_one("#confirm", Input)
    field.value = ""
    field.focus()
    await pilot.press(*name)
    await pilot.pause()


async def test_restore_from_the_start_screen_brings_back_the_database_before_phase_2(
    make_app: AppFactory, db: TestDatabase, backups: Path
) -> None:
    before = _counts(db)
    older = _backup(db, backups, fmt="plain", table="attachments")  # not the one chosen
    taken = _backup(db, backups)
    _migrate_and_change(db)
    app = make_app(db.url)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("b")  # Welcome: Restore from a backup, through Connect
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RestoreScreen)
        listing = screen.query_one("#files-list", OptionList)
        assert [listing.get_option_at_index(i).id for i in range(listing.option_count)] == [
            str(taken.path),
            str(older.path),
        ]  # newest first
        assert listing.has_focus and not screen.query_one("#confirm-area").display
        await pilot.press("down", "enter")  # the older one first: attachments only
        await settle(app, pilot)
        assert not screen.query_one("#files").display
        assert _flat("holds only public.attachments (a single-table backup)") in _flat(_text(app, "#summary"))
        await pilot.click("#another")
        await pilot.pause()
        assert screen.query_one("#files").display and listing.has_focus
        assert not screen.query_one("#confirm-area").display and _text(app, "#summary") == ""
        await pilot.press("up", "enter")  # the newest
        await settle(app, pilot)
        said = _flat(_text(app, "#summary"))
        assert _flat(f"{taken.path} holds the whole database: 12 tables, listed below.") in said
        assert _flat(f"Everything in the database {db.name} is replaced by the backup") in said
        removed = said.split(_flat("Removed first"))[1]
        assert _flat("table public.image_analyses;") in removed and _flat("schema migration_wizard and") in removed
        gone = said.split(_flat("Not in the backup, so gone after the restore:"))[1]
        assert "tablepublic.image_analyses" in gone and "public.attachments" not in gone
        contents = _text(app, "#contents")
        assert "public.attachments" in contents and "public.users" in contents
        assert _flat("Read with the wizard's own pg_restore 18.") in said
        assert _flat("the oldest that reads this archive (made by pg_dump 18.") in said
        assert f"type {db.name} below" in _text(app, "#confirm-hint")
        run = screen.query_one("#run", Button)
        await _confirm(app, pilot, "wrong_name")
        assert run.disabled
        await pilot.press("enter")  # a wrong name: Enter does nothing either
        await settle(app, pilot)
        assert db.scalar("SELECT to_regclass('public.image_analyses')") is not None
        await _confirm(app, pilot, db.name)
        assert not run.disabled
        await pilot.press("enter")
        await settle(app, pilot)
        outcome = _text(app, "#outcome")
        assert "Restored: the database now matches the backup" in outcome and "DIFFERS" not in outcome
        assert "public.users" in outcome and "Report:" in outcome
        assert "120" in outcome  # attachments' rows in the backup, counted while they were loaded
        assert "checks failed" in _text(app, "#verify-summary")
        assert _flat(BEFORE_PHASE_2) in _flat(_text(app, "#verify-summary"))
        assert not screen.query_one("#run").display and not app.busy
        assert app.state.verify is not None and not app.state.verify.ok
        (report,) = paths.reports_dir().glob(f"*-restore-{db.name}.md")
        assert _flat(str(report)) in _flat(outcome)
        written = report.read_text()
        assert "# migration-wizard restore report" in written and f"- Backup: {taken.path}" in written
        assert "- Outcome: restored from" in written and "Overall: FAILED" in written
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None
    assert db.scalar("SELECT to_regnamespace('migration_wizard')") is None
    assert db.scalar("SELECT count(*) FROM users WHERE display_name = 'changed after the backup'") == 0
    assert _counts(db) == before


async def test_restore_from_the_rollback_screen_with_an_attachments_only_backup(
    make_app: AppFactory, db: TestDatabase, backups: Path
) -> None:
    attachments = db.scalar("SELECT count(*) FROM attachments")
    taken = _backup(db, backups, fmt="plain", table="attachments")
    _migrate_and_change(db)
    db.execute("UPDATE attachments SET filename = 'renamed'")
    app = make_app(db.url, start="connect")
    app.state.rollback_only = True
    app.state.backup = taken  # as if the Backup step had taken it in this session
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, RollbackScreen)
        await pilot.click("#restore")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RestoreScreen)  # the session's backup is chosen already
        assert "taken in this session" in str(screen.query_one("#files-list", OptionList).get_option_at_index(0).prompt)
        said = _flat(_text(app, "#summary"))
        assert _flat("holds only public.attachments (a single-table backup)") in said
        assert _flat("The rows of public.attachments are replaced by the backup's") in said
        assert _flat("Other tables are not touched") in said
        assert _flat("table image_analyses (created by 002_phase2_vision_api)") in said
        assert screen.query_one("#confirm", Input).has_focus
        await pilot.press(*db.name, "enter")
        await settle(app, pilot)
        assert "the database now matches the backup" in _text(app, "#outcome")
        await pilot.click("#verify")
        await settle(app, pilot)
        assert isinstance(app.screen, VerifyScreen)
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None
    assert db.scalar("SELECT count(*) FROM attachments WHERE filename = 'renamed'") == 0
    assert db.scalar("SELECT count(*) FROM attachments") == attachments
    assert db.scalar("SELECT count(*) FROM users WHERE display_name = 'changed after the backup'") == 20  # untouched


async def test_a_failed_migration_offers_the_backup_taken_in_this_session(
    make_app: AppFactory, db: TestDatabase, backups: Path, migrations_copy: Path
) -> None:
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_text(path.read_text().replace("ON image_analyses (agent_type);", "ON image_analyses (no_such_column);"))
    app = make_app(db.url, start="connect")
    app.state.migrations_dir = migrations_copy
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#test")
        await settle(app, pilot)
        app.go("migrate")  # no backup taken: nothing to offer
        await settle(app, pilot)
        assert "Migration failed" in _text(app, "#outcome")
        assert not app.screen.query_one("#restore", Button).display
        app.state.backup = _backup(db, backups)
        app.go("migrate")
        await settle(app, pilot)
        assert "Migration failed" in _text(app, "#outcome")
        assert app.screen.query_one("#restore", Button).display
        await pilot.click("#restore")
        await settle(app, pilot)
        assert isinstance(app.screen, RestoreScreen)
        assert _flat("holds the whole database") in _flat(_text(app, "#summary"))


@pytest.mark.parametrize("content", [None, "hello, not a backup"])
async def test_a_file_that_is_not_a_backup_is_explained_and_nothing_can_run(
    make_app: AppFactory, db: TestDatabase, backups: Path, tmp_path: Path, content: str | None
) -> None:
    wrong = tmp_path / "notes.txt"
    if content is not None:
        wrong.write_text(content)
    app = make_app(db.url)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("b")
        await settle(app, pilot)
        assert "No backups in" in _text(app, "#files-title")
        field = app.screen.query_one("#files-path", Input)
        assert field.has_focus
        field.value = str(wrong)  # as pasted
        await pilot.press("enter")
        await settle(app, pilot)
        problem = app.screen.query_one("#problem")
        assert problem.has_class("-shown")
        said = str(problem.query_one(".problem-text", Static).render())
        assert ("There is no backup file" if content is None else "does not look like a pg_dump backup") in said
        assert "This file cannot be restored" in _text(app, "#status")
        assert app.screen.query_one("#run", Button).disabled and not app.screen.query_one("#confirm-area").display


async def test_the_start_screen_offers_restore_and_explaining_an_error(make_app: AppFactory) -> None:
    from textual.widgets import TabbedContent, TextArea

    from wizard.tui.screens.troubleshoot import TroubleshootScreen

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.screen.query_one("#restore", Button).display
        await pilot.click("#explain")
        await pilot.pause()
        panel = app.screen
        assert isinstance(panel, TroubleshootScreen)
        assert panel.query_one(TabbedContent).active == "explain"
        assert isinstance(app.focused, TextArea) and app.focused.id == "paste"  # ready for a paste
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("b")  # Restore from a backup: through Connect first
        await pilot.pause()
        assert type(app.screen).__name__ == "ConnectScreen" and app.state.restore_only
        await pilot.press("escape")  # back on Welcome, Start is the whole flow again
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConnectScreen" and not app.state.restore_only
