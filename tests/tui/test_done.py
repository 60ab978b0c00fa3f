"""The Done screen: the guide's post-migration checklist, ticked from what really happened."""

from __future__ import annotations

from textual.widgets import Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from wizard.core.backup import run_backup
from wizard.tui.app import WizardApp
from wizard.tui.screens.done import DoneScreen
from wizard.tui.screens.migrate import MigrateScreen
from wizard.tui.screens.verify import VerifyScreen


async def _settle(app: WizardApp, pilot: object) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()  # type: ignore[attr-defined]


async def _migrate_verify_done(
    app: WizardApp, pilot: object, db: TestDatabase, break_sql: str = "", *, backup: bool = False
) -> None:
    """Connect, (optionally take a verified backup, as the Backup step does), migrate,
    (optionally break something), verify, then Done."""
    await pilot.click("#test")  # type: ignore[attr-defined]
    await _settle(app, pilot)
    if backup:
        assert app.state.target is not None
        app.state.backup = run_backup(app.state.connection(), app.state.target, lambda _event: None)
    app.go("migrate")
    await _settle(app, pilot)
    assert isinstance(app.screen, MigrateScreen) and app.state.applied == ["002"]
    if break_sql:
        db.execute(break_sql)
    await pilot.click("#verify")  # type: ignore[attr-defined]
    await _settle(app, pilot)
    assert isinstance(app.screen, VerifyScreen) and app.state.verify is not None
    await pilot.click("#next")  # type: ignore[attr-defined]
    await _settle(app, pilot)
    assert isinstance(app.screen, DoneScreen)


def _checklist(app: WizardApp) -> list[str]:
    """The checklist as text: a line per item, its note indented under it."""
    lines = app.screen.query_one("#checklist").query(Static)
    return [("  " if "note" in s.classes else "") + str(s.content) for s in lines]


def _line(lines: list[str], text: str) -> tuple[str, str]:
    """The checklist line holding `text`, and the note under it."""
    n = next(i for i, line in enumerate(lines) if text in line)
    note = lines[n + 1].strip() if n + 1 < len(lines) and lines[n + 1].startswith(" ") else ""
    return lines[n], note


async def test_after_a_good_migration_every_line_is_ticked(make_app: AppFactory, db: TestDatabase) -> None:
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        await _migrate_verify_done(app, pilot, db, backup=True)
        lines = _checklist(app)
        ticks = [line for line in lines if line.startswith(("[x]", "[ ]"))]
        assert app.state.backup is not None and str(app.state.backup.path) in _line(lines, "Backup created")[1]
        assert ticks == [
            "[x] Backup created before migration",
            "[x] Migration script executed successfully",
            "[x] attachments table has 4 new columns",
            "[x] image_analyses table exists",
            "[x] All 4 indexes created",
            "[x] Test INSERT succeeds",
            "[x] No errors in migration output",
        ]
        _, applied = _line(lines, "Migration script executed")
        assert applied.startswith("applied 002 in ") and applied.endswith(" s")
        assert _line(lines, "All 4 indexes created")[1] == ""  # a passed check needs no note
        following = str(app.screen.query_one("#next", Static).render())
        assert "Deploy" in following and "migration-wizard verify" in following and "Keep the backup" in following
        assert "not ticked" not in following
        await pilot.press("v")
        await _settle(app, pilot)
        assert isinstance(app.screen, VerifyScreen)


async def test_a_failing_check_leaves_its_line_unticked_with_the_reason(make_app: AppFactory, db: TestDatabase) -> None:
    app = make_app(db.url, start="connect")
    app.state.backup_acknowledged = True
    async with app.run_test(size=(100, 40)) as pilot:
        await _migrate_verify_done(app, pilot, db, break_sql="DROP INDEX idx_attachments_storage_key")
        lines = _checklist(app)
        line, note = _line(lines, "All 4 indexes created")
        assert line.startswith("[ ]") and "idx_attachments_storage_key missing" in note
        line, note = _line(lines, "No errors in migration output")
        assert line.startswith("[ ]") and note == "verify found problems: “All 4 indexes exist” failed"
        line, note = _line(lines, "Backup created")
        assert line.startswith("[ ]") and note == "acknowledged: you confirmed you have your own backup"
        for ticked in ("Migration script", "4 new columns", "image_analyses table exists", "Test INSERT"):
            assert _line(lines, ticked)[0].startswith("[x]")
        assert "not ticked" in str(app.screen.query_one("#next", Static).render())


async def test_without_a_verify_report_nothing_is_claimed(make_app: AppFactory) -> None:
    app = make_app(start="done")
    app.state.practice = True
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines = _checklist(app)
        assert _line(lines, "Backup created") == (
            "[ ] Backup created before migration",
            "practice database: not needed",
        )
        assert _line(lines, "Migration script")[0].startswith("[ ]")
        assert _line(lines, "Test INSERT succeeds") == (
            "[ ] Test INSERT succeeds",
            "not verified yet: press V to run the checks",
        )
        assert "practice database" in str(app.screen.query_one("#next", Static).render())


def test_the_tui_opens_with_a_saved_profile_without_typing_the_password(
    memory_keyring: object, db: TestDatabase
) -> None:
    import argparse

    from wizard.core import profiles
    from wizard.tui.run import state_from_args

    profiles.save("saved", db.url)
    args = argparse.Namespace(
        practice=False, database_url=None, profile="saved", migrations_dir=None, connect_timeout=15.0
    )
    assert state_from_args(args).initial_url == db.url


def test_a_long_report_path_breaks_after_a_slash_never_inside_a_name() -> None:
    from wizard.tui.widgets.path_text import PathText

    path = "/home/alex/.local/share/migration-wizard/reports/20260212T100000Z-migrate-practice.md"
    said = PathText("Written to ", path, " (only you can read it).")
    for width in (76, 96, 60):  # the Done screen's text at 80 and 100 columns, and narrower
        lines = said.lines(width)
        assert all(len(line) <= width for line in lines)
        assert any("20260212T100000Z-migrate-practice.md" in line for line in lines)  # the name whole
        assert " ".join(lines).replace("/ ", "/") == str(said)  # nothing lost, nothing added
    assert PathText("Written to ", path, " (only you can read it).").lines(200) == [str(said)]
