"""The help panel (F1 or ?): the latest error, and the guide's troubleshooting entries."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown

ENTRIES = Path(__file__).resolve().parent.parent / "troubleshooting.toml"


def troubleshooting_markdown() -> str:
    with ENTRIES.open("rb") as handle:
        entries = tomllib.load(handle)["entry"]
    return "\n".join(f"**{e['problem']}**  \n{e['solution']}\n" for e in entries)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("f1", "dismiss", "Close", show=False)]

    def __init__(self, last_error: str) -> None:
        super().__init__()
        self.last_error = last_error

    def compose(self) -> ComposeResult:
        latest = (
            f"## The latest error\n\n```\n{self.last_error}\n```\n"
            if self.last_error
            else "## The latest error\n\nNo error so far.\n"
        )
        with Vertical(id="help-panel"):
            with VerticalScroll():
                yield Markdown(latest + "\n## Troubleshooting\n\n" + troubleshooting_markdown())
            yield Button("Close (Esc)", id="close", variant="primary")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss()
