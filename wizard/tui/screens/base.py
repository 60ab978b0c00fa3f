"""What every screen of the flow shares: the step indicator, the app's state, inline errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

from wizard.core.connection import redact
from wizard.core.errors import WizardError
from wizard.tui.state import FlowState

if TYPE_CHECKING:
    from wizard.tui.app import WizardApp


class FlowScreen(Screen[None]):
    """A step of the guided flow. STEP names it in the step indicator."""

    STEP: str | None = None

    @property
    def wizard(self) -> WizardApp:
        return cast("WizardApp", self.app)

    @property
    def state(self) -> FlowState:
        return self.wizard.state

    def redact(self, text: str) -> str:
        target = self.state.target
        return target.redact(text) if target else redact(text)

    def describe_error(self, error: BaseException) -> tuple[str, tuple[str, ...]]:
        """One plain sentence and the fix steps, password removed; remembered for the help panel."""
        if isinstance(error, WizardError):
            message, fix = error.message, error.fix
        else:
            message, fix = f"{type(error).__name__}: {error}", ()
        message = self.redact(message)
        self.state.last_error = message + ("\n" + "\n".join(fix) if fix else "")
        return message, tuple(self.redact(f) for f in fix)
