"""What every screen of the flow shares: the step indicator, the app's state, inline errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

from wizard.tui.state import FlowState

if TYPE_CHECKING:
    from wizard.tui.app import WizardApp
    from wizard.tui.problems import Problem


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
        # Imported here: the redaction rules compile their patterns on import (~15 ms), which
        # the first screen, showing no URL, does without.
        from wizard.core.redaction import redact

        target = self.state.target
        return target.redact(text) if target else redact(text)

    def problem(self, error: BaseException) -> Problem:
        """The error explained by the knowledge base, password removed; remembered for F1."""
        # Imported here: the knowledge base (doctor, its rules and translations) is not needed
        # to show the Welcome screen, and the first screen appears that much sooner.
        from wizard.tui.problems import problem_from

        return problem_from(self.state, error, self.STEP or "")

    # The knowledge base's actions (doctor.ACTIONS) a screen can carry out for the user:
    # a screen that can do one defines fix_<action>(); can_fix() may narrow it further.
    def can_fix(self, action: str) -> bool:
        return callable(getattr(self, f"fix_{action}", None))

    def run_fix(self, action: str) -> None:
        if self.can_fix(action):
            getattr(self, f"fix_{action}")()
