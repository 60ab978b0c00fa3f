"""The doctor's answer to an error message: a diagnosis with its confidence and the other
answers that fit ("probably X; if not, Y"), or the honest "unknown" with a general checklist.
doctor.py reaches it; every command, screen and report shows it (diagnosis_lines.py words it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wizard.core.rules import ACTIONS, CONFIDENCES, Rule

UNKNOWN_TITLE = "an unknown error"
GENERAL_CHECKLIST = (
    "Read the message: the part after 'FATAL:' or 'ERROR:' is the server's own explanation.",
    "Check that the URL is the one your provider's console shows (host, database, user, password).",
    "Check that the database server is running and reachable from this computer"
    " (on Neon: the project is not suspended or over its plan's limits).",
    "If it persists, ask your provider's support, quoting the message (the wizard hides passwords in it).",
)


@dataclass(frozen=True)
class Alternative:
    """Another answer that fits the message: "probably X; if not, this"."""

    id: str
    title: str
    cause: str
    fix: tuple[str, ...]
    action: str | None = None
    doc: str | None = None

    @classmethod
    def of(cls, rule: Rule) -> Alternative:
        return cls(rule.id, rule.title, rule.cause, rule.fix, rule.action, rule.doc)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "cause": self.cause, "fix": list(self.fix)}


@dataclass(frozen=True)
class Diagnosis:
    """The answer: for "high", the one cause and fix; for "medium", the most likely one (id,
    title, cause, fix, action) with the others in `alternatives`; for "low", the unknown
    error's checklist (with, in `alternatives`, what it might be)."""

    matched: bool  # one confident answer (confidence "high", no alternatives)
    id: str | None
    title: str
    cause: str
    fix: tuple[str, ...]
    action: str | None = None
    doc: str | None = None
    sqlstate: str | None = None
    raw: str = ""  # the message as given, passwords redacted
    confidence: str = "high"
    alternatives: tuple[Alternative, ...] = ()

    def __post_init__(self) -> None:
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"confidence must be one of {CONFIDENCES}, not {self.confidence!r}")

    @property
    def recognized(self) -> bool:
        """There is an answer to show (certain or probable), not the unknown checklist."""
        return self.confidence != "low"

    @property
    def headline(self) -> str:
        """A phrase: "the server refused ...", or "probably X; if not, Y" for a medium answer."""
        if self.confidence != "medium":
            return self.title
        return "probably " + "".join([self.title, *(f"; if not, {alt.title}" for alt in self.alternatives)])

    @property
    def action_label(self) -> str | None:
        return ACTIONS.get(self.action) if self.action else None

    def to_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "id": self.id,
            "title": self.title,
            "cause": self.cause,
            "fix": list(self.fix),
            "confidence": self.confidence,
            "alternatives": [alt.to_json() for alt in self.alternatives],
        }


def unknown(raw: str, code: str | None) -> Diagnosis:
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    if lines:
        said = lines[0] if len(lines[0]) <= 240 else lines[0][:237] + "..."
        cause = f"The wizard does not recognize this error, so it does not guess at a cause. The message says: {said}"
    else:
        cause = "No error text was given, so there is nothing to recognize."
    return Diagnosis(
        False, None, UNKNOWN_TITLE, cause, GENERAL_CHECKLIST, sqlstate=code or None, raw=raw, confidence="low"
    )
