"""Undo the latest migration: what would be lost first, a typed confirmation, then the statements streaming."""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, LoadingIndicator, Static

from wizard.core import operations
from wizard.core.errors import Cancelled, FailedAfterCommit, WizardError
from wizard.core.events import Event
from wizard.core.rollback import RollbackImpact
from wizard.tui import workers
from wizard.tui.messages import EngineEvent, WorkFailed
from wizard.tui.problems import Problem
from wizard.tui.screens.base import FlowScreen
from wizard.tui.screens.done import undo_title
from wizard.tui.widgets.event_log import EventLog
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.problem_box import ProblemBox
from wizard.tui.widgets.steps import StepIndicator


@dataclass
class ImpactReady(Message):
    impact: RollbackImpact | None


@dataclass
class RollbackDone(Message):
    ok: bool
    text: str
    problem: Problem | None = None


def describe_impact(impact: RollbackImpact) -> str:
    """What a rollback removes and keeps, in plain words (Rich markup)."""
    label = impact.migration.label
    lines = [f"[b]Rolling back {escape(label)} would remove:[/b]"]
    lines += [f"  • table {escape(t)} and its [b]{n}[/b] row{'s' if n != 1 else ''}" for t, n in impact.rows_lost]
    lines += [
        f"  • column {escape(c)} and its [b]{n}[/b] non-empty value{'s' if n != 1 else ''}"
        for c, n in impact.values_lost
    ]
    lines += [
        f"  • also {escape(d.description)} (it depends on {escape(d.depends_on)})"
        for d in impact.dependents
        if d.outcome == "dropped"
    ]
    if impact.kept:
        lines.append("[b]Stays[/b] (it existed before the migration ran):")
        lines += [f"  • {escape(k.replace(':', ' ', 1))}" for k in impact.kept]
    if not impact.recorded:
        lines.append(
            "[yellow]Not recorded in the ledger (run by hand?): the wizard cannot tell what existed"
            " before, so everything it defines is removed.[/]"
        )
    if impact.modified:
        lines.append(f"[b yellow]Warning:[/] [yellow]{escape(impact.modified_note)}[/]")
    if impact.blocked:
        lines.append("[b red]Cannot run as it is:[/]")
        lines += [
            f"  • {escape(d.description)} uses {escape(d.depends_on)}: drop or change it first" for d in impact.blocked
        ]
    return "\n".join(lines)


class RollbackScreen(FlowScreen):
    STEP = None
    BINDINGS = [Binding("escape", "cancel", "Cancel / back")]

    def compose(self) -> ComposeResult:
        yield StepIndicator(self.STEP)
        with VerticalScroll(id="body"):
            yield Static(undo_title(self.state))
            yield LoadingIndicator(id="spinner")
            yield Static("", id="impact")
            yield Static("", id="confirm-hint", classes="hint")
            yield Input(id="confirm", placeholder="type here to confirm")
            yield EventLog(id="log")
            yield Static("", id="outcome")
            yield ProblemBox(id="problem")
        with Horizontal(classes="buttons"):
            yield Button("Roll back", id="run", variant="error", disabled=True)
            yield Button("Cancel", id="cancel")
            yield Button("Verify", id="verify", variant="primary", disabled=True)
            yield Button("Restore backup", id="restore")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.expected = "practice" if self.state.practice else (self.state.target.database if self.state.target else "")
        self.impact: RollbackImpact | None = None
        self.running = False
        self.query_one("#confirm").display = False
        self.query_one("#log").display = False
        self._measure()

    @work(thread=True, exclusive=True, exit_on_error=False, group="rollback", description="Reading what would be lost")
    def _measure(self) -> None:
        try:
            found = operations.rollback_preview(workers.context(self.state))
        except Exception as error:
            self.post_message(WorkFailed(self.problem(error)))
            return
        self.post_message(ImpactReady(found if found and not found.nothing_to_do else None))

    def on_impact_ready(self, message: ImpactReady) -> None:
        self.query_one("#spinner").display = False
        self.impact = message.impact
        if message.impact is None:
            self.query_one("#impact", Static).update("Nothing to roll back: the migration is not applied here.")
            self.query_one("#verify", Button).disabled = False
            return
        self.query_one("#impact", Static).update(describe_impact(message.impact))
        if message.impact.blocked:
            return
        self.query_one("#confirm-hint", Static).update(
            f"To go ahead, type [b]{escape(self.expected)}[/b] below, then press Enter (or Roll back)."
            " This cannot be undone except from a backup."
        )
        confirm = self.query_one("#confirm", Input)
        confirm.display = True
        confirm.focus()

    @on(Input.Changed, "#confirm")
    def typed(self) -> None:
        self.query_one("#run", Button).disabled = not self._confirmed()

    @on(Input.Submitted, "#confirm")
    def submitted(self) -> None:
        self.action_run()  # Enter presses Roll back once the name matches, and does nothing before

    def _confirmed(self) -> bool:
        typed = self.query_one("#confirm", Input).value.strip()
        return self.impact is not None and not self.impact.blocked and not self.running and typed == self.expected

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            self.action_run()
        elif event.button.id == "cancel":
            self.action_cancel()
        elif event.button.id == "restore":
            self.action_restore()
        else:
            self.wizard.go("verify")

    def action_run(self) -> None:
        if self.impact is None or not self._confirmed():
            return
        self.running = True
        self.wizard.busy = True
        self.state.cancel.clear()
        self.query_one("#run", Button).disabled = True
        self.query_one("#confirm").display = False
        self.query_one("#log").display = True
        self.wizard.operation_started(self._rollback(self.impact), "rollback")

    @work(thread=True, exclusive=True, exit_on_error=False, group="rollback", description="Rolling back")
    def _rollback(self, impact: RollbackImpact) -> None:
        """The core's rollback operation, with the flow's lock timeout, wait budget and clock."""
        state = self.state

        def emit(event: Event) -> None:
            self.post_message(EngineEvent(event))

        try:
            backup = "practice database: none needed" if state.practice else ""
            result = operations.rollback(
                workers.context(state), impact, workers.run_options(state), emit, backup=backup
            )
            state.verify = result.verify
            self.post_message(RollbackDone(True, f"Rolled back {result.migration}. Report: {result.report}"))
        except Cancelled:
            self.post_message(RollbackDone(False, "Cancelled: the transaction was rolled back, nothing was changed."))
        except Exception as error:  # shown inline, never a crash
            changed = (
                not isinstance(error, WizardError)
                or isinstance(error, FailedAfterCommit)
                or not getattr(error, "nothing_changed", True)
            )
            text = (
                "The rollback failed; the database may have changed: Verify shows what it holds now."
                if changed
                else "The rollback failed and was rolled back: nothing was changed."
            )
            self.post_message(RollbackDone(False, text, self.problem(error)))

    @work(thread=True, exit_on_error=False, group="interrupt", description="Stopping the running statement")
    def _interrupt(self) -> None:
        workers.interrupt(self.state)

    def on_engine_event(self, message: EngineEvent) -> None:
        self.query_one("#log", EventLog).show(message.event, self.redact)

    def on_rollback_done(self, message: RollbackDone) -> None:
        self.running = False
        self.wizard.busy = False
        style = "b green" if message.ok else "b red"
        self.query_one("#outcome", Static).update(f"[{style}]{escape(message.text)}[/]")
        self.query_one(ProblemBox).show(message.problem)
        verify = self.query_one("#verify", Button)
        verify.disabled = False
        verify.focus()

    def on_work_failed(self, message: WorkFailed) -> None:
        self.query_one("#spinner").display = False
        self.query_one("#impact", Static).update("[b red]Could not read what a rollback would remove.[/]")
        self.query_one(ProblemBox).show(message.problem)

    def action_restore(self) -> None:
        """Put the database back from a backup file instead (a whole-database backup undoes more)."""
        if not self.running:
            self.wizard.go("restore")

    def action_cancel(self) -> None:
        if self.running:
            self.state.cancel.set()
            self._interrupt()
        else:
            self.wizard.go("welcome")
