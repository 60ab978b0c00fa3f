"""An error on a screen: what failed, why, the numbered fix, and the fix the wizard can
carry out itself as a button (switch to the direct host, percent-encode the password ...)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from wizard.core.diagnosis_lines import Line, explanation
from wizard.core.doctor import ACTIONS, Diagnosis
from wizard.tui.problems import Problem

RAW_LINES = 6


@runtime_checkable
class Fixer(Protocol):
    """A screen that can carry out some of the knowledge base's actions (doctor.ACTIONS)."""

    def can_fix(self, action: str) -> bool: ...

    def run_fix(self, action: str) -> None: ...


def diagnosis_markup(found: Diagnosis, what: str = "") -> str:
    """Console markup: the failure, the cause and numbered steps of each answer (one, or
    "Probably ... If not ..."), the raw message."""
    lines: list[str] = []
    if what:
        lines.append(f"[b red]{escape(what)}[/]")
    lines += [_markup(line) for line in explanation(found, headings=False)]
    if found.doc:
        lines.append(f"  More: {escape(found.doc)}")
    raw = [line for line in found.raw.splitlines() if line.strip()]
    if raw and " ".join(raw) != what:
        shown = raw[:RAW_LINES] + (["..."] if len(raw) > RAW_LINES else [])
        lines.append("[dim]The message:[/]")
        lines += [f"[dim]  {escape(line)}[/]" for line in shown]
    return "\n".join(line for line in lines if line)


def _markup(line: Line) -> str:
    text = escape(line.text)
    if line.kind == "step":
        return f"  {text}"
    if line.kind in ("heading", "label"):
        return f"[b]{escape(line.label)} {text}[/]" if line.label else f"[b]{text}[/]"
    return f"[b]{escape(line.label)}[/] {text}" if line.label else text


def action_button_label(action: str) -> str:
    label = ACTIONS[action]
    return label[0].upper() + label[1:]


class ProblemBox(Vertical):
    """Empty and hidden until show(); the action button appears when the screen can act."""

    DEFAULT_CSS = """
    ProblemBox { height: auto; padding: 0 2; display: none; }
    ProblemBox.-shown { display: block; }
    ProblemBox #problem-actions { height: auto; }
    ProblemBox Button { margin: 1 2 0 0; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.problem: Problem | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="problem-text")
        with Horizontal(id="problem-actions"):
            # Disabled while hidden, so that it never takes the focus (and Enter) from the screen.
            yield Button("", id="problem-action", variant="warning", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#problem-action").display = False

    def show(self, problem: Problem | None) -> None:
        self.problem = problem
        self.set_class(problem is not None, "-shown")
        button = self.query_one("#problem-action", Button)
        if problem is None:
            self.query_one(".problem-text", Static).update("")
            button.display, button.disabled = False, True
            return
        self.query_one(".problem-text", Static).update(
            diagnosis_markup(problem.diagnosis, problem.what) + "\n[dim]F1: troubleshooting[/]"
        )
        action = problem.action
        screen = self.screen
        button.display = bool(action and isinstance(screen, Fixer) and screen.can_fix(action))
        button.disabled = not button.display
        if action and button.display:
            button.label = action_button_label(action)
        self.call_after_refresh(self.scroll_visible)

    @on(Button.Pressed, "#problem-action")
    def act(self, event: Button.Pressed) -> None:
        event.stop()
        screen = self.screen
        if self.problem and self.problem.action and isinstance(screen, Fixer):
            screen.run_fix(self.problem.action)
