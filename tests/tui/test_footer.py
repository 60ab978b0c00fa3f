"""The footer, at 80 and 100 columns, on every screen: F1 (help) and quit are always there, and no
key is cut mid-word; the Welcome screen offers nothing it cannot do."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from tests.conftest import TestDatabase
from tests.tui.conftest import AppFactory
from wizard.tui.app import WizardApp
from wizard.tui.screens.welcome import WelcomeScreen

SIZES = ((80, 24), (100, 32))


def footer_problems(app: WizardApp) -> list[str]:
    """What is wrong with the footer on screen now (nothing: an empty list)."""
    footer = app.screen.query_one(Footer)
    keys = list(footer.query(FooterKey))
    palette = [k for k in keys if k.has_class("-command-palette")]
    end = palette[0].region.x if palette else footer.region.right
    name = type(app.screen).__name__
    problems = [
        f"{name}: {k.key_display} {k.description!r} is cut at {app.size.width} columns"
        for k in keys
        if k not in palette and (not k.region.width or k.region.right > end)
    ]
    actions = [k.action.rpartition(".")[2] for k in keys]
    if "quit_safely" not in actions:
        problems.append(f"{name}: no quit key at {app.size.width} columns")
    if "help" not in actions and "dismiss_panel" not in actions:
        problems.append(f"{name}: no F1 at {app.size.width} columns")
    return problems


async def _settle(app: WizardApp, pilot: Pilot[None]) -> None:
    for _ in range(4):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def _both_sizes(app: WizardApp, pilot: Pilot[None]) -> list[str]:
    found: list[str] = []
    for size in SIZES:
        await pilot.resize_terminal(*size)
        await pilot.pause()
        found += footer_problems(app)
    return found


async def test_every_screen_shows_f1_and_quit_and_cuts_no_key(
    make_app: AppFactory, db: TestDatabase, backups: Path
) -> None:
    app = make_app(db.url)
    found: list[str] = []
    async with app.run_test(size=SIZES[0]) as pilot:
        found += await _both_sizes(app, pilot)  # Welcome
        await pilot.press("f1")
        await pilot.pause()
        found += await _both_sizes(app, pilot)  # the troubleshooting panel
        await pilot.press("escape")
        app.go("connect")
        await _settle(app, pilot)
        found += await _both_sizes(app, pilot)
        await pilot.press("ctrl+t")
        await _settle(app, pilot)
        found += await _both_sizes(app, pilot)  # connected: the saved connections' row is offered
        for screen in ("preflight", "backup", "review", "rehearse", "migrate", "verify", "done", "rollback", "restore"):
            app.go(screen)
            await _settle(app, pilot)
            found += await _both_sizes(app, pilot)
    assert found == []


async def test_the_practice_database_is_not_offered_on_itself(make_app: AppFactory) -> None:
    app = make_app(practice=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, WelcomeScreen)
        assert not screen.query("#practice")
        assert "practice" not in [k.action for k in screen.query(FooterKey)]
        await pilot.press("p")
        await pilot.pause()
        assert app.screen is screen and app.state.practice  # P does nothing here
        titles = [command.title for command in app.get_system_commands(screen)]
        assert "Practice" not in titles and "Verify only" in titles
