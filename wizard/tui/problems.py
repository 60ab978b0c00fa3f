"""An error as the screens show it: what failed, and the knowledge base's cause and fix.

Every error a screen or worker meets becomes a Problem here, so each one goes through
the troubleshooting rules (doctor.explain) and loses any password on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from wizard.core.doctor import Diagnosis, explain
from wizard.core.errors import WizardError
from wizard.core.redaction import redact
from wizard.tui.state import FlowState


@dataclass(frozen=True)
class Problem:
    what: str  # one plain sentence: what failed
    diagnosis: Diagnosis  # why, and what to do (the rule's fix, "probably X; if not, Y", or the general checklist)
    step: str = ""  # the step of the flow where it happened

    @property
    def fix(self) -> tuple[str, ...]:
        return self.diagnosis.fix

    @property
    def action(self) -> str | None:
        return self.diagnosis.action


def problem_from(state: FlowState, error: BaseException, step: str = "") -> Problem:
    """Explain `error`, remove passwords, and remember it for the troubleshooting panel (F1)."""
    if isinstance(error, WizardError):
        what = error.message
    else:
        text = str(error).strip()
        what = text.splitlines()[0] if text else type(error).__name__
    found = explain(error)
    target = state.target

    def clean(text: str) -> str:
        return target.redact(text) if target else redact(text)

    found = replace(
        found,
        title=clean(found.title),
        cause=clean(found.cause),
        fix=tuple(clean(step) for step in found.fix),
        raw=clean(found.raw),
        alternatives=tuple(
            replace(alt, title=clean(alt.title), cause=clean(alt.cause), fix=tuple(clean(step) for step in alt.fix))
            for alt in found.alternatives
        ),
    )
    problem = Problem(clean(what), found, step)
    state.last_problem = problem
    return problem
