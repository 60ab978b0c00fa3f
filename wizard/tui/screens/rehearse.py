"""From Review: rehearse the migration on a throwaway local copy before touching production.

The core (wizard.core.rehearse) takes a fresh backup (or uses the one the Backup step
took), restores it into an embedded PostgreSQL without owners and privileges, runs the
pending migrations there with the same engine, verifies, and removes the copy. This
screen says so before it starts, streams the steps, and shows the outcome: how long the
migration took on the copy, lock waits, what the copy could not restore, and any error
with its fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static

from wizard.core import events as ev
from wizard.core import operations
from wizard.core.errors import Cancelled, WizardError
from wizard.core.rehearse import Rehearsal
from wizard.core.units import human_duration
from wizard.tui import workers
from wizard.tui.messages import EngineEvent
from wizard.tui.problems import Problem
from wizard.tui.screens.base import FlowScreen
from wizard.tui.widgets.event_log import EventLog
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.problem_box import ProblemBox
from wizard.tui.widgets.steps import StepIndicator

READY, RUNNING, FINISHED = "ready", "running", "finished"


@dataclass
class RehearsalFinished(Message):
    result: Rehearsal | None  # None: it could not run (see problem) or was cancelled
    problem: Problem | None = None


def explain(database: str, reuse: str | None) -> str:
    backup = (
        f"restores the backup you just took ({escape(reuse)})"
        if reuse
        else f"takes a fresh backup of [b]{escape(database)}[/] (pg_dump only reads it) and restores it"
    )
    return (
        "[b]Rehearse on a local copy[/b]: the wizard "
        + backup
        + " into a throwaway PostgreSQL on this computer (without owners and privileges), runs the"
        " pending migrations there with the same engine, then verifies. [b]Your database is not changed.[/b]"
        " The copy is deleted afterwards. Objects that need an extension or role the local server lacks"
        " are listed as warnings."
    )


def outcome_markup(result: Rehearsal) -> str:
    if not result.pending:
        return "[b green]Nothing to rehearse:[/] every migration is already applied."
    lines: list[str] = []
    took = f" in {human_duration(result.seconds)}" if result.seconds is not None else ""
    waits = (
        f"{result.lock_waits} lock wait{'s' if result.lock_waits != 1 else ''} ({result.lock_wait_seconds:.1f} s)"
        if result.lock_waits
        else "no lock waits"
    )
    if result.ok:
        lines.append(
            f"[b green]Rehearsal passed:[/] {escape(', '.join(result.applied))} applied{took} on the copy"
            f" (PostgreSQL {escape(result.server_version or '?')}), {waits}, and verify passed."
        )
        lines.append("Your database was not changed. Apply it for real from Review.")
    else:
        lines.append("[b red]The rehearsal failed on the copy:[/] the same would likely happen on your database.")
        if result.failed_statement:
            lines.append(f"[red]Failing statement:[/] {escape(' '.join(result.failed_statement.split()))}")
        if result.verify is not None and not result.verify.ok:
            failed = [c.title for c in result.verify.checks if c.status == "fail"]
            lines.append(f"[red]Verify failed on the copy:[/] {escape('; '.join(failed))}")
        lines.append("Your database was not changed.")
    if result.warnings:
        lines.append("[b yellow]Not restored on the copy (the rehearsal still ran):[/]")
        lines += [f"  - {escape(w)}" for w in result.warnings]
    return "\n".join(lines)


class RehearseScreen(FlowScreen):
    STEP = "Review"
    BINDINGS = [
        Binding("enter", "start", "Start the rehearsal"),
        Binding("escape", "cancel", "Cancel"),
        Binding("escape", "back", "Back to review"),
    ]
    DEFAULT_CSS = """
    RehearseScreen #explain { height: auto; margin: 1 0; }
    RehearseScreen #log { height: 1fr; min-height: 6; }
    RehearseScreen #outcome { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.phase = READY

    @property
    def reuse(self) -> str | None:
        backup = self.state.backup
        return str(backup.path) if backup is not None and backup.format == "custom" and backup.path.exists() else None

    def compose(self) -> ComposeResult:
        target = self.state.target
        yield StepIndicator(self.STEP)
        with VerticalScroll(id="body"):
            yield Static(explain(target.database if target else "", self.reuse), id="explain")
            yield EventLog(id="log")
            yield Static("", id="outcome")
            yield ProblemBox(id="problem")
        with Horizontal(classes="buttons"):
            yield Button("Start the rehearsal (Enter)", id="start", variant="primary")
            yield Button("Cancel (Esc)", id="cancel", variant="error")
            yield Button("Back to review (Esc)", id="back")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#log").display = False
        self.query_one("#cancel").display = False
        self.query_one("#start", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        wanted = {"start": READY, "cancel": RUNNING, "back": (READY, FINISHED)}.get(action)
        if wanted is None:
            return True
        return self.phase in wanted if isinstance(wanted, tuple) else self.phase == wanted

    def action_start(self) -> None:
        if self.phase != READY:
            return
        self.phase = RUNNING
        self.wizard.busy = True
        self.state.cancel.clear()
        self.query_one("#log").display = True
        self.query_one("#start").display = False
        self.query_one("#back").display = False
        self.query_one("#cancel").display = True
        self.query_one("#cancel", Button).focus()
        self.query_one(ProblemBox).show(None)
        self.refresh_bindings()
        # Quitting cancels it and waits for the local copy to be stopped and removed.
        self.wizard.operation_started(self._rehearse(self.reuse), "rehearsal")

    @work(thread=True, exclusive=True, exit_on_error=False, group="rehearse", description="Rehearsing")
    def _rehearse(self, reuse: str | None) -> None:
        state = self.state
        try:
            backup = Path(reuse) if reuse else None
            result = operations.rehearse(workers.context(state), workers.run_options(state), self._emit, backup=backup)
        except Cancelled:
            self.post_message(RehearsalFinished(None))
            return
        except Exception as error:  # shown inline, never a crash
            self.post_message(RehearsalFinished(None, self.problem(error)))
            return
        self.post_message(RehearsalFinished(result))

    def _emit(self, event: ev.Event) -> None:
        self.post_message(EngineEvent(event))

    def on_engine_event(self, message: EngineEvent) -> None:
        self.query_one("#log", EventLog).show(message.event, self.redact)

    def on_rehearsal_finished(self, message: RehearsalFinished) -> None:
        self.phase = FINISHED
        self.wizard.busy = False
        self.query_one("#cancel").display = False
        back = self.query_one("#back", Button)
        back.display = True
        back.focus()
        outcome = self.query_one("#outcome", Static)
        result = message.result
        if result is not None:
            outcome.update(outcome_markup(result))
            if not result.ok and result.error:
                self.query_one(ProblemBox).show(self.problem(WizardError(result.error, fix=result.fix)))
        elif message.problem is not None:
            outcome.update("[b red]The rehearsal could not run.[/] Your database was not changed.")
            self.query_one(ProblemBox).show(message.problem)
        else:
            outcome.update("[b yellow]Rehearsal cancelled.[/] The copy was removed; your database was not changed.")
        self.call_after_refresh(outcome.scroll_visible)
        self.refresh_bindings()

    def action_cancel(self) -> None:
        if self.phase == RUNNING and not self.state.cancel.is_set():
            self.state.cancel.set()
            self.query_one("#cancel", Button).disabled = True
            self.query_one("#log", EventLog).write("Cancelling: stopping the copy and removing it ...")

    def action_back(self) -> None:
        if self.phase != RUNNING:
            self.wizard.go("review")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"start": self.action_start, "cancel": self.action_cancel, "back": self.action_back}
        actions[event.button.id or "back"]()
