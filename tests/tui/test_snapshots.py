"""Pictures of the key screens (SVG snapshots): `pytest --snapshot-update` rewrites them
after an intended change. Everything that varies between runs is fixed first: the clock
(FixedClock), the database name, and the ledger's timestamp and author."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RichLog

from tests.conftest import TEMPLATE, EmbeddedServer, TestDatabase
from tests.tui.conftest import AppFactory
from wizard.core import engine
from wizard.core.connection import connect
from wizard.core.migrations import load_migrations
from wizard.core.runner import RunOptions
from wizard.tui.problems import problem_from

SIZE = (100, 32)
NEON = "postgresql://alex:AbC123xyz@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb"


@pytest.fixture
def fixed_db(pg_server: EmbeddedServer) -> Iterator[TestDatabase]:
    """A database with a fixed name, so that the name on screen is the same every run."""
    pg_server.drop_database("snapshot_app")
    with pg_server.admin() as conn:
        conn.execute(f"CREATE DATABASE snapshot_app TEMPLATE {TEMPLATE}")
    yield TestDatabase("snapshot_app", pg_server.url("snapshot_app"), pg_server)
    pg_server.drop_database("snapshot_app")


def _migrate_with_fixed_ledger(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        engine.apply_pending(conn, load_migrations(), RunOptions(), lambda e: None)
        conn.execute(
            "UPDATE migration_wizard.ledger SET applied_at = '2026-02-12 10:00:00+00',"
            " applied_by = 'neondb_owner (alex@laptop)', duration_ms = 42"
        )


async def _settle(pilot: Pilot[Any]) -> None:
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def _logged(pilot: Pilot[Any], words: str, *, within: float = 10) -> None:
    """Wait until the screen's event log holds `words`, then until it has scrolled to its end (a
    busy machine renders its last lines, and follows them, late)."""
    log = pilot.app.screen.query_one("#log", RichLog)
    for _ in range(round(within / 0.05)):
        if any(words in strip.text for strip in log.lines):
            break
        await pilot.pause(0.05)
    else:
        raise AssertionError(f"the log never showed {words!r}")
    log.scroll_end(animate=False, immediate=True)
    for _ in range(round(within / 0.05)):
        await pilot.pause(0.05)
        if log.scroll_y >= log.max_scroll_y:
            return
    raise AssertionError("the log never reached its end")


def test_welcome(snap_compare: Any, make_app: AppFactory) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE)


def test_connect_with_a_pasted_neon_pooler_url(snap_compare: Any, make_app: AppFactory) -> None:
    async def paste(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one("#url", Input).value = f"psql '{NEON}'"
        await pilot.pause()

    assert snap_compare(make_app(start="connect"), terminal_size=SIZE, run_before=paste)


def test_verify_all_passed(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    _migrate_with_fixed_ledger(fixed_db)
    app = make_app(fixed_db.url, start="connect", verify_only=True)
    assert snap_compare(app, terminal_size=SIZE, run_before=_settle)


def test_troubleshooting_panel_with_the_latest_error(snap_compare: Any, make_app: AppFactory) -> None:
    async def fail_then_open(pilot: Pilot[Any]) -> None:
        app = pilot.app
        # psycopg's own shape for a refused password (the text of a real failure on this machine).
        error = psycopg.OperationalError(
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL:  password'
            ' authentication failed for user "alex"'
        )
        problem_from(app.state, error, "Connect")  # type: ignore[attr-defined]
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=fail_then_open)


def test_troubleshooting_panel_with_a_search(snap_compare: Any, make_app: AppFactory) -> None:
    async def search(pilot: Pilot[Any]) -> None:
        await pilot.press("f1")
        await pilot.pause()
        await pilot.click("#--content-tab-known")  # with no error yet, it opens on "Explain a message"
        await pilot.click("#search")
        await pilot.press(*"lock")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=search)


def test_connect_with_saved_connections(snap_compare: Any, make_app: AppFactory, memory_keyring: object) -> None:
    from wizard.core import profiles

    profiles.save("production", "postgresql://alex:pw-prod-1@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb")
    profiles.save("staging", "postgresql://alex:pw-stag-1@ep-quiet-river-654321.us-east-2.aws.neon.tech/neondb")
    assert snap_compare(make_app(start="connect"), terminal_size=SIZE)


def test_rollback_before_confirming(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    _migrate_with_fixed_ledger(fixed_db)
    fixed_db.execute(
        "INSERT INTO image_analyses (attachment_id, agent_type) SELECT id, 'design' FROM attachments LIMIT 3"
    )
    app = make_app(fixed_db.url, start="connect")
    app.state.rollback_only = True
    assert snap_compare(app, terminal_size=SIZE, run_before=_settle)


def _constant_clock(app: Any) -> Any:
    app.state.clock = lambda: 1000.0  # every duration on screen is 0
    return app


async def _to(pilot: Pilot[Any], screen: str) -> None:
    await _settle(pilot)
    pilot.app.go(screen)  # type: ignore[attr-defined]
    await _settle(pilot)


def test_preflight(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+t")
        await _to(pilot, "preflight")

    app = _constant_clock(make_app(fixed_db.url, start="connect"))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_review(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+t")
        await _to(pilot, "review")

    app = _constant_clock(make_app(fixed_db.url, start="connect"))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.fixture
def fixed_report_path(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The report's folder and time stamp, which the Migrate screen shows, fixed for the picture.
    The folder is the same for every test worker, so a test holds it (a lock) while it runs."""
    import fcntl
    import shutil
    import tempfile
    from pathlib import Path

    from wizard.core import paths, report

    folder = Path(tempfile.gettempdir()) / "migration-wizard-snapshot-reports"
    with open(f"{folder}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        monkeypatch.setattr(paths, "reports_dir", lambda: folder)
        monkeypatch.setattr(report, "datetime", _fixed_datetime())
        yield
        shutil.rmtree(folder, ignore_errors=True)


def _fixed_datetime() -> type:
    from datetime import UTC, datetime

    class FixedDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> FixedDatetime:
            return cls(2026, 2, 12, 10, 0, 0, tzinfo=UTC)

    return FixedDatetime


@pytest.mark.usefixtures("fixed_report_path")
def test_migrate_finished(snap_compare: Any, make_app: AppFactory, fixed_db: TestDatabase) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+t")
        await _to(pilot, "migrate")
        await _settle(pilot)
        await _logged(pilot, "recorded in the ledger")

    app = _constant_clock(make_app(fixed_db.url, start="connect"))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
