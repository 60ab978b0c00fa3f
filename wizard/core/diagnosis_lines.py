"""The words of a diagnosis, the same in `doctor`, in any command's error and on every screen.

A confident answer is its cause and numbered steps; a probable one is "Probably: X" with its
cause and steps, then "If not: Y" with its own; an unknown error is said to be unknown, with
the general checklist, and what it might be (if anything) after it. Each renderer only
styles the lines by their kind (the TUI bolds the headings, the CLI indents the steps).
"""

from __future__ import annotations

from dataclasses import dataclass

from wizard.core.doctor import Alternative, Diagnosis


@dataclass(frozen=True)
class Line:
    kind: str  # "heading" (an answer's title), "why", "label" (what the steps are), "step", "unknown"
    text: str
    label: str = ""  # the heading's or the cause's leading word(s), for renderers that style them


def capital(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:]


def summary(found: Diagnosis) -> str:
    """One sentence: "The server refused ...", "Probably: X. If not: Y.", or "Unknown error"."""
    if found.confidence == "medium":
        return " ".join(
            [f"Probably: {capital(found.title)}.", *(f"If not: {capital(alt.title)}." for alt in found.alternatives)]
        )
    if not found.recognized:
        return "Unknown error: the wizard does not recognize this message, and will not guess."
    return f"{capital(found.title)}."


def explanation(
    found: Diagnosis, *, why: str = "Why:", checklist: str = "A general checklist:", headings: bool = True
) -> list[Line]:
    """The lines that explain `found`. `headings=False` leaves out the title of a confident
    answer (for a renderer that shows it already)."""
    lines: list[Line] = []
    if found.confidence == "medium":
        answers = [Alternative(found.id or "", found.title, found.cause, found.fix), *found.alternatives]
        for number, answer in enumerate(answers):
            lines.append(_heading("Probably:" if number == 0 else "If not:", answer))
            lines += _answer(answer.cause, answer.fix, why)
        return lines
    if not found.recognized:
        lines.append(Line("unknown", found.cause, "Not recognized."))
        lines += [Line("label", checklist), *_steps(found.fix)]
        for alternative in found.alternatives:
            lines.append(_heading("It might be:", alternative))
            lines += _answer(alternative.cause, alternative.fix, why)
        return lines
    if headings and found.id:
        lines.append(Line("heading", f"{capital(found.title)}.", ""))
    return lines + _answer(found.cause if found.id else "", found.fix, why)


def plain(lines: list[Line], indent: str = "  ") -> list[str]:
    """The lines as text for a terminal: steps indented, labels before their text."""
    shown = []
    for line in lines:
        text = f"{line.label} {line.text}" if line.label else line.text
        shown.append(indent + text if line.kind == "step" else text)
    return shown


def _heading(label: str, answer: Alternative) -> Line:
    return Line("heading", f"{capital(answer.title)}." + (f"  [{answer.id}]" if answer.id else ""), label)


def _answer(cause: str, fix: tuple[str, ...], why: str) -> list[Line]:
    lines = [Line("why", cause, why)] if cause else []
    return [*lines, Line("label", "What to do:"), *_steps(fix)]


def _steps(fix: tuple[str, ...]) -> list[Line]:
    return [Line("step", f"{number}. {step}") for number, step in enumerate(fix, 1)]
