"""The step indicator shown at the top of every screen of the flow."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

STEPS = ("Connect", "Check", "Backup", "Review", "Migrate", "Verify", "Done")


class StepIndicator(Static):
    """Connect > Check > Backup > Review > Migrate > Verify > Done, the current one highlighted."""

    DEFAULT_CSS = """
    StepIndicator { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(self, current: str | None) -> None:
        super().__init__(self._render_steps(current))
        self.current = current

    @staticmethod
    def _render_steps(current: str | None) -> Text:
        text = Text()
        passed = current is not None
        for number, step in enumerate(STEPS):
            if number:
                text.append("  >  ", style="dim")
            if step == current:
                text.append(f" {step} ", style="bold reverse")
                passed = False
            elif passed and current in STEPS:
                text.append(step, style="green")
            else:
                text.append(step, style="dim")
        return text
