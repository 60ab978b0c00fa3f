"""App-wide keys: quitting safely, the command palette (the F1 panel: test_troubleshoot.py)."""

from __future__ import annotations

from textual.widgets import Input

from tests.tui.conftest import AppFactory
from wizard.tui.screens.confirm import ConfirmScreen


async def test_q_quits_but_types_a_letter_in_the_url_field(make_app: AppFactory) -> None:
    app = make_app(start="connect")
    async with app.run_test() as pilot:
        url = app.screen.query_one("#url", Input)
        url.focus()
        await pilot.press("q")
        await pilot.pause()
        assert url.value == "q" and app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_quitting_during_a_migration_asks_first(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        app.busy = True
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.is_running
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and not app.state.cancel.is_set()
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app.state.cancel.is_set()


async def test_the_command_palette_lists_the_screen_actions(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert {"Troubleshooting", "Start", "Practice", "Verify only"} <= set(titles)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"
