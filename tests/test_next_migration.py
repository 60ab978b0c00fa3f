"""A migration added after Phase 2, as files only (tests/data/next_migration: a `.sql`, a
`.down.sql` and a `.toml`, no code change), walked through status, plan, migrate, verify and
rollback in the CLI and on the screens: every screen speaks of it in its own words, and
none says "Phase 2" where it means 003."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton, Static

from tests.cli_runner import run
from tests.conftest import TestDatabase
from wizard.core.expectations import load_expectations
from wizard.tui.app import WizardApp
from wizard.tui.state import FlowState

NEXT = Path(__file__).resolve().parent / "data" / "next_migration"
# Words that belong to Phase 2 alone: wrong wherever the wizard speaks of 003.
PHASE_2_WORDS = ("Phase 2", "image_analyses", "attachments", "Vision")


@pytest.fixture
def with_003(migrations_copy: Path) -> Path:
    """The shipped migrations plus 003_tags, in a folder of the test's own."""
    for path in NEXT.iterdir():
        shutil.copy(path, migrations_copy / path.name)
    return migrations_copy


@pytest.fixture
def phase_2_live(db: TestDatabase) -> TestDatabase:
    """Phase 2 went out earlier, with the shipped migrations; now 003 arrives."""
    assert run("migrate", "--yes", "--skip-backup", "--database-url", db.url).code == 0
    return db


def _phase_2_free(text: str) -> bool:
    return not any(word in text for word in PHASE_2_WORDS)


def test_the_cli_walks_003_through_status_plan_migrate_verify_and_rollback(
    phase_2_live: TestDatabase, with_003: Path
) -> None:
    db = phase_2_live
    target = ("--database-url", db.url, "--migrations-dir", str(with_003))

    status = json.loads(run("status", "--json", *target).out)
    assert [(m["version"], m["state"]) for m in status["migrations"]] == [
        ("001", "applied"),
        ("002", "applied"),
        ("003", "pending"),
    ]

    plan = run("plan", *target)
    assert plan.code == 0 and "003_tags: Conversation tags" in plan.out
    assert "CREATE TABLE IF NOT EXISTS tags" in plan.out and _phase_2_free(plan.out)

    migrated = run("migrate", "--yes", "--skip-backup", *target)
    assert migrated.code == 0, migrated.text
    applying = migrated.out[: migrated.out.index("Report:")]  # then verify, of both migrations
    assert "Applied 003_tags" in applying and _phase_2_free(applying)

    verified = run("verify", "--plain", *target)
    assert verified.code == 0, verified.text
    assert "003_tags: applied and verified (all 8 checks passed; in the ledger since " in verified.out
    assert "002_phase2_vision_api: applied and verified" in verified.out
    assert "PASS  The tags index exists" in verified.out and "PASS  All 4 indexes exist" in verified.out

    rolled = run("rollback", "--yes", *target)
    assert rolled.code == 0, rolled.text
    assert "table tags" in rolled.out and _phase_2_free(rolled.out)
    assert db.scalar("SELECT to_regclass('public.tags')") is None
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is not None

    status = json.loads(run("status", "--json", *target).out)
    assert [m["state"] for m in status["migrations"]] == ["applied", "applied", "pending"]

    after = run("verify", *target)
    assert after.code == 1
    assert "003_tags: not applied (rolled back by migration-wizard at " in after.out
    assert "002_phase2_vision_api: applied and verified" in after.out
    assert "by hand" not in after.out
    data = json.loads(run("verify", "--json", *target).out)
    states = {m["version"]: m for m in data["migrations"]}
    assert states["002"]["state"] == "applied_verified" and "rolled_back_at" not in states["002"]
    assert states["003"]["state"] == "not_applied" and states["003"]["rolled_back_at"].endswith("+00:00")
    assert set(states["003"]) == {"version", "name", "state", "rolled_back_at", "detail"}


async def _settle(pilot: Pilot[Any]) -> None:
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def _screen(app: WizardApp) -> str:
    return type(app.screen).__name__


def _statics(app: WizardApp, selector: str = "Static") -> str:
    return "\n".join(str(s.render()) for s in app.screen.query(selector).results(Static))


def _app(db: TestDatabase, folder: Path, start: str = "welcome") -> WizardApp:
    return WizardApp(FlowState(initial_url=db.url, connect_timeout=5, migrations_dir=folder), start=start)


async def test_the_screens_walk_003_from_welcome_to_rollback_in_its_own_words(
    phase_2_live: TestDatabase, with_003: Path
) -> None:
    db = phase_2_live
    app = _app(db, with_003)
    async with app.run_test(size=(100, 40)) as pilot:
        welcome = str(app.screen.query_one("#intro", Static).render())
        assert welcome.startswith("Conversation tags migration\n") and _phase_2_free(welcome)
        assert "up to migration 003" in welcome

        await pilot.press("enter")  # Start
        await _settle(pilot)
        await pilot.press("ctrl+t")  # test the connection
        await _settle(pilot)
        await pilot.press("enter")
        await _settle(pilot)
        assert _screen(app) == "PreflightScreen"
        app.state.backup_acknowledged = True  # as if typed: this test is not about the backup
        await pilot.press("enter")
        await _settle(pilot)
        assert _screen(app) == "BackupScreen"
        choice = app.screen.query_one("#attachments", RadioButton).label.plain
        assert choice == "Only the conversations table, the one Tags changes"

        await pilot.click("#continue")
        await _settle(pilot)
        assert _screen(app) == "ReviewScreen"
        field = next(iter(app.screen.query(Input)))
        field.focus()
        await pilot.press(*db.name, "enter")
        await _settle(pilot)
        assert _screen(app) == "MigrateScreen" and app.state.applied == ["003"]

        await pilot.press("enter")  # Verify
        await _settle(pilot)
        assert _screen(app) == "VerifyScreen" and app.state.verify is not None and app.state.verify.ok
        heading = _statics(app, "#migration-003 .migration")
        assert "003_tags: applied and verified" in heading

        await pilot.press("enter")  # Done
        await _settle(pilot)
        assert _screen(app) == "DoneScreen"
        checklist = _statics(app, "#checklist Static")
        for line in (
            "conversations table has the pinned column",
            "tags table exists",
            "Tags index created",
            "Test INSERT into tags succeeds",
        ):
            assert f"[x] {line}" in checklist
        assert _phase_2_free(checklist)
        following = str(app.screen.query_one("#next", Static).render())
        assert "Deploy the version of the application that shows tags on conversations." in following
        assert _phase_2_free(following)

        await pilot.press("u")  # Roll back
        await _settle(pilot)
        assert _screen(app) == "RollbackScreen"
        said = _statics(app)
        assert "Undo the Tags migration (rollback)" in said and "Rolling back 003_tags" in said
        assert _phase_2_free(said)
        app.screen.query_one("#confirm", Input).value = db.name
        await pilot.pause()
        await pilot.click("#run")
        await _settle(pilot)
        assert db.scalar("SELECT to_regclass('public.tags')") is None

        await pilot.click("#verify")
        await _settle(pilot)
        assert _screen(app) == "VerifyScreen"
        heading = _statics(app, "#migration-003 .migration")
        assert "003_tags: not applied (rolled back by migration-wizard at " in heading
        assert "002_phase2_vision_api: applied and verified" in _statics(app, "#migration-002 .migration")
        assert "by hand" not in _statics(app)


async def test_two_migrations_applied_together_are_each_named_on_the_done_screen(
    db: TestDatabase, with_003: Path
) -> None:
    app = _app(db, with_003, start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#test")
        await _settle(pilot)
        app.go("migrate")
        await _settle(pilot)
        assert app.state.applied == ["002", "003"]
        await pilot.click("#verify")
        await _settle(pilot)
        await pilot.click("#next")
        await _settle(pilot)
        assert _screen(app) == "DoneScreen"
        checklist = _statics(app, "#checklist Static")
        assert "[x] Phase 2: attachments table has 4 new columns" in checklist
        assert "[x] Phase 2: All 4 indexes created" in checklist
        assert "[x] Tags: Tags index created" in checklist
        following = str(app.screen.query_one("#next", Static).render())
        assert "the new columns and the image_analyses table (Phase 2); and" in following
        assert "shows tags on conversations (Tags)." in following


def test_a_migration_without_wording_is_named_by_its_title(tmp_path: Path) -> None:
    toml = (NEXT / "003_tags.toml").read_text()
    start, end = toml.index("[wording]"), toml.index("[precondition]")
    path = tmp_path / "003_tags.toml"
    path.write_text(toml[:start] + toml[end:])
    wording = load_expectations(path).wording
    assert (wording.name, wording.headline) == ("Conversation tags", "Conversation tags migration")
    assert wording.deploy == "the version of the application that uses what Conversation tags adds"
    assert wording.backup_table == "conversations"  # the existing table it changes
