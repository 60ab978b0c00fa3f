"""The Backup step: a verified pg_dump before anything changes, or the user's own backup, said in words."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from textual.widgets import Button, Input, RadioButton, RichLog, Static

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from tests.tui.test_preflight import open_preflight, settle
from wizard.tui.app import WizardApp
from wizard.tui.messages import BackupStopped, BackupVerified
from wizard.tui.screens.backup import BackupScreen
from wizard.tui.screens.done import PHRASE, backup_note
from wizard.tui.screens.review import ReviewScreen

TABLES = (
    "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
)


async def open_backup(app: WizardApp, pilot: Any) -> BackupScreen:
    """Connect, pass the checks, Continue: the Backup step."""
    await open_preflight(app, pilot)
    await pilot.click("#continue")
    await settle(app, pilot)
    assert isinstance(app.screen, BackupScreen)
    return app.screen


async def acknowledge_own_backup(app: WizardApp, pilot: Any) -> None:
    """On the Backup step: type that you have your own backup (Continue is then enabled)."""
    app.screen.query_one("#ack", Input).focus()
    await pilot.press(*PHRASE)
    await pilot.pause()


def _text(app: WizardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def _log(app: WizardApp) -> list[str]:
    return [strip.text.rstrip() for strip in app.screen.query_one("#backup-log", RichLog).lines]


async def test_a_whole_database_backup_is_verified_before_continue_is_enabled(
    make_app: AppFactory, db: TestDatabase, backups: Path
) -> None:
    messages: list[object] = []
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_backup(app, pilot)
        why = _text(app, "#why")
        assert "pg_dump" in why and "nothing in the database changes" in why and "Restore puts the database back" in why
        assert str(backups) in _text(app, "#where") and f"{db.name}-<date and time>.dump" in _text(app, "#where")
        assert "older than the server (18)" in _text(app, "#tool")  # which pg_dump, and why, before it runs
        carry_on = screen.query_one("#continue", Button)
        assert carry_on.disabled and app.state.backup is None
        assert screen.query_one("#start", Button).has_focus
        await pilot.press("enter")  # Back up now
        await settle(app, pilot)
        verified = {id(m): m for m in messages if isinstance(m, BackupVerified)}  # the hook may see one twice
        assert len(verified) == 1
        result = next(iter(verified.values())).result
        assert app.state.backup == result
        assert result.path.parent == backups and result.path.suffix == ".dump" and result.path.exists()
        assert result.path.stat().st_mode & 0o777 == 0o600
        with db.connect() as conn:
            assert list(result.tables) == [r[0] for r in conn.execute(TABLES)]
        shown = _text(app, "#result")
        assert "✓ Verified" in shown and "all 12 tables are in it" in shown
        assert str(result.path) in shown.replace("\n", "") and "public.attachments" in shown
        assert "The database takes" in shown and " MB on the server" in shown
        assert 'dumping contents of table "public.attachments"' in _log(app)
        assert "table 12 of 12" in _text(app, "#backup-stats")
        assert not carry_on.disabled and carry_on.has_focus
        assert backup_note(app.state) == str(result.path)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("escape")  # back: the backup is still there, verified
        await settle(app, pilot)
        assert isinstance(app.screen, BackupScreen)
        assert "✓ Verified" in _text(app, "#result") and not app.screen.query_one("#continue", Button).disabled
    assert sorted(backups.iterdir()) == [result.path]


async def test_the_attachments_table_only_as_plain_sql(make_app: AppFactory, db: TestDatabase, backups: Path) -> None:
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        await open_backup(app, pilot)
        await pilot.click("#attachments")
        await pilot.click("#plain")
        await pilot.pause()
        assert app.screen.query_one("#attachments", RadioButton).value
        assert f"{db.name}-<date and time>.sql" in _text(app, "#where")
        await pilot.press("b")
        await settle(app, pilot)
        result = app.state.backup
        assert result is not None and result.tables == ("public.attachments",) and result.path.suffix == ".sql"
        text = result.path.read_text()
        assert "COPY public.attachments" in text and "COPY public.messages" not in text
        assert "all 1 table is in it" in _text(app, "#result")


@pytest.fixture
def users_locked(db: TestDatabase) -> Iterator[psycopg.Connection[Any]]:
    """pg_dump waits for this lock: the backup is under way for as long as the test needs."""
    holder = psycopg.connect(db.url)
    holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
    yield holder
    holder.close()


async def _wait_for_pg_dump_to_block(db: TestDatabase, pilot: Any) -> int:
    """pg_dump's server process, once it waits for the lock on users."""
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
        " AND query ILIKE '%%LOCK TABLE%%'"
    )
    for _ in range(400):
        pid = db.scalar(query, (db.name,))
        if pid:
            return int(pid)
        await pilot.pause(0.05)
    raise AssertionError("pg_dump never waited for the lock")


async def test_cancel_stops_pg_dump_and_leaves_no_file(
    make_app: AppFactory, db: TestDatabase, backups: Path, users_locked: psycopg.Connection[Any]
) -> None:
    messages: list[object] = []
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_backup(app, pilot)
        await pilot.press("enter")
        await _wait_for_pg_dump_to_block(db, pilot)
        assert len(list(backups.iterdir())) == 1  # the file being written
        assert screen.query_one("#cancel", Button).display and screen.query_one("#continue", Button).disabled
        assert "Writing" in _text(app, "#backup-file")
        await pilot.press("escape")  # Cancel, while running (not Back)
        await settle(app, pilot)
        assert isinstance(app.screen, BackupScreen)
        stopped = {id(m): m for m in messages if isinstance(m, BackupStopped)}
        assert [m.problem for m in stopped.values()] == [None]
        assert "Backup cancelled" in _text(app, "#result") and "partial file deleted" in _text(app, "#result")
        assert list(backups.iterdir()) == [] and app.state.backup is None
        assert screen.query_one("#continue", Button).disabled and screen.query_one("#start", Button).display


async def test_a_failed_backup_is_explained_and_retry_works(
    make_app: AppFactory, db: TestDatabase, backups: Path, users_locked: psycopg.Connection[Any]
) -> None:
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_backup(app, pilot)
        await pilot.press("enter")
        pid = await _wait_for_pg_dump_to_block(db, pilot)
        db.execute(f"SELECT pg_terminate_backend({pid})")  # an administrator ends pg_dump's session
        await settle(app, pilot)
        problem = screen.query_one("#problem")
        assert problem.has_class("-shown")
        text = str(problem.query_one(".problem-text", Static).render())
        assert "pg_dump failed" in text and "terminating connection due to administrator command" in text
        assert "Why:" in text and "What to do:" in text and "Run the command again" in text
        assert "The backup failed" in _text(app, "#result") and "no file was left behind" in _text(app, "#result")
        assert list(backups.iterdir()) == [] and app.state.backup is None
        start = screen.query_one("#start", Button)
        assert str(start.label) == "Retry (B)" and start.has_focus
        assert screen.query_one("#continue", Button).disabled
        assert app.state.last_problem is not None  # for the troubleshooting panel (F1)
        users_locked.rollback()  # the lock is gone: the retry goes through
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.state.backup is not None and "✓ Verified" in _text(app, "#result")
        assert not problem.has_class("-shown")


@pytest.fixture
def pg_dump_without_ssl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pg_dump 18 first on PATH that was built without SSL (as Homebrew's and the bundled
    ones can be): it fails the way such a build fails."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "pg_dump"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 18.4"; exit 0; fi\n'
        'echo \'pg_dump: error: connection to server at "db.example.com" (10.0.0.5), port 5432 failed:'
        ' sslmode value "require" invalid when SSL support is not compiled in\' >&2\n'
        "exit 1\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return script


async def test_a_broken_pg_dump_on_path_is_replaced_by_the_wizards_own_with_one_button(
    make_app: AppFactory, db: TestDatabase, backups: Path, pg_dump_without_ssl: Path
) -> None:
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_backup(app, pilot)
        assert f"on PATH ({pg_dump_without_ssl})" in _text(app, "#tool").replace("\n", "")
        await pilot.press("enter")
        await settle(app, pilot)
        text = str(screen.query_one("#problem .problem-text", Static).render())
        assert "SSL support is not compiled in" in text and "encrypted connections" in text
        fix = screen.query_one("#problem-action", Button)
        assert fix.display and str(fix.label) == "Use the pg_dump 18 it ships with"
        await pilot.click("#problem-action")
        await settle(app, pilot)
        result = app.state.backup
        assert result is not None and result.tool.bundled
        assert "the wizard's own pg_dump 18.4, as you asked" in _text(app, "#tool")
        assert "✓ Verified" in _text(app, "#result")


async def test_skipping_needs_the_phrase_typed_and_is_recorded(
    make_app: AppFactory, db: TestDatabase, backups: Path
) -> None:
    app = make_app(db.url, start="connect")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_backup(app, pilot)
        skip = _text(app, "#skip-why")
        assert "Neon branch" in skip and "point-in-time restore" in skip and "pg_dump file of your own" in skip
        carry_on = screen.query_one("#continue", Button)
        field = screen.query_one("#ack", Input)
        field.focus()
        field.value = "I have a backup"
        await pilot.press("enter")  # not the phrase: Enter does not go on
        await pilot.pause()
        assert isinstance(app.screen, BackupScreen) and carry_on.disabled and not app.state.backup_acknowledged
        assert f"type exactly: {PHRASE}" in _text(app, "#ack-state")
        field.value = ""
        await acknowledge_own_backup(app, pilot)
        assert not carry_on.disabled and app.state.backup_acknowledged
        assert "the session report will say you have your own backup" in _text(app, "#ack-state")
        assert backup_note(app.state) == f"not taken by the wizard: the user typed “{PHRASE}”"
        await pilot.press("backspace")  # no longer the phrase: blocked again
        await pilot.pause()
        assert carry_on.disabled and not app.state.backup_acknowledged
        await pilot.press("p", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
        app.screen.query_one("#confirm-name", Input).value = db.name
        await pilot.pause()
        await pilot.click("#apply")
        await settle(app, pilot)
        report = app.state.report_path
        assert report is not None
        assert f"- Backup: not taken by the wizard: the user typed “{PHRASE}”" in report.read_text()
    assert list(backups.iterdir()) == []


async def test_quitting_during_a_backup_stops_pg_dump_and_leaves_no_file(
    make_app: AppFactory, db: TestDatabase, backups: Path, users_locked: psycopg.Connection[Any]
) -> None:
    import asyncio

    app = make_app(db.url, start="connect")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_backup(app, pilot)
        await pilot.press("enter")
        await _wait_for_pg_dump_to_block(db, pilot)
        assert len(list(backups.iterdir())) == 1
        await pilot.press("ctrl+q")  # nothing to lose: it quits at once
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
    for _ in range(200):  # the backup's thread finishes on its own: pg_dump stopped, file deleted
        if not list(backups.iterdir()) and db.scalar(waiting, (db.name,)) == 0:
            break
        await asyncio.sleep(0.05)
    assert list(backups.iterdir()) == []
    assert db.scalar(waiting, (db.name,)) == 0  # no pg_dump left behind, waiting for the lock
