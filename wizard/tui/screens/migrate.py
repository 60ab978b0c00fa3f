"""Step 5: apply the pending migrations, streaming each statement; Cancel (Esc) safely rolls back."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import Button, ProgressBar, Static

from wizard.core import events as ev
from wizard.core import operations
from wizard.core.errors import Cancelled, FailedAfterCommit, WizardError
from wizard.core.errors import MigrationFailed as StatementFailed
from wizard.core.event_lines import one_line
from wizard.core.run_options import RunOptions
from wizard.tui import workers
from wizard.tui.messages import EngineEvent, MigrationFailed, MigrationFinished
from wizard.tui.screens.base import FlowScreen
from wizard.tui.screens.done import backup_note
from wizard.tui.widgets.event_log import EventLog
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.path_text import PathText
from wizard.tui.widgets.problem_box import ProblemBox
from wizard.tui.widgets.steps import StepIndicator

RUNNING, DONE, FAILED = "running", "done", "failed"
INTRO = (
    "One transaction: all of it is applied, or none of it. Cancel (Esc) is safe: it rolls back. Index builds on"
    " big tables follow online, while reads and writes go on; cancelling one keeps what is committed."
)
CANCELLED = "Cancelled: the transaction was rolled back, nothing was changed."


class MigrateScreen(FlowScreen):
    STEP = "Migrate"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel (rolls back)"),
        Binding("escape", "back", "Back to review"),
        Binding("enter", "verify", "Verify"),
    ]
    DEFAULT_CSS = """
    MigrateScreen #body { scrollbar-gutter: stable; }
    MigrateScreen #progress-row { height: 1; margin: 1 0 0 0; }
    MigrateScreen #progress { width: auto; }
    MigrateScreen #elapsed { width: 1fr; margin-left: 2; }
    MigrateScreen #current { height: auto; color: $text-muted; }
    MigrateScreen #log { height: 1fr; min-height: 6; }
    MigrateScreen #outcome { height: auto; }
    MigrateScreen #report { height: auto; }
    MigrateScreen #blocked { height: auto; display: none; }
    MigrateScreen #blocked.shown { display: block; }
    MigrateScreen #blocked Static { height: auto; color: $warning; }
    MigrateScreen #blocked Horizontal { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.phase, self.started, self.total, self.finished = RUNNING, 0.0, 0, 0
        self.applied_now: list[str] = []
        self.report_path: Path | None = None
        self.timer: Timer | None = None
        self.options: RunOptions | None = None  # the running operation's, for the blocker buttons
        self.building = ""  # the index being built online now

    def compose(self) -> ComposeResult:
        yield StepIndicator(self.STEP)
        with VerticalScroll(id="body"):
            yield Static(INTRO, classes="hint")
            with Horizontal(id="progress-row"):
                yield ProgressBar(id="progress", show_eta=False)
                yield Static("", id="elapsed")
            yield Static("Preparing: reading what is pending ...", id="current")
            with VerticalScroll(id="blocked"):
                yield Static("", id="blocked-by")
                with Horizontal():
                    yield Button("Cancel its query", id="cancel-blocker", variant="warning")
                    yield Button("Disconnect that session", id="terminate-blocker", variant="error")
            yield EventLog(id="log")
            yield Static("", id="outcome")
            yield Static("", id="report")
            yield ProblemBox(id="problem")
        with Horizontal(classes="buttons"):
            yield Button("Cancel (Esc)", id="cancel", variant="error")
            yield Button("Verify (Enter)", id="verify", variant="primary", disabled=True)
            yield Button("Back to review (Esc)", id="back")
            yield Button("Restore from backup", id="restore")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.wizard.busy = True
        self.state.cancel.clear()
        self.state.cancelled, self.state.migration_error = False, ""
        self.query_one("#back").display = False
        self.query_one("#restore").display = False
        self.query_one("#log").focus()  # not a button: Enter and Esc reach the screen's bindings
        self.started = self.state.clock()
        self.timer = self.set_interval(0.5, self._tick)
        self._tick()
        self.wizard.operation_started(self._migrate(), "migration")

    @work(thread=True, exclusive=True, exit_on_error=False, group="migrate", description="Migrating")
    def _migrate(self) -> None:
        state, started = self.state, self.state.clock()
        try:
            applied = self._apply()
        except Exception as error:  # every failure is shown inline: none crashes the screen
            failed = self._failure(error)
            state.cancelled = failed.cancelled
            state.migration_error = failed.problem.what if failed.problem else ""
            self.post_message(failed)
            return
        state.applied, state.migration_seconds = applied, state.clock() - started
        self.post_message(MigrationFinished(applied, state.migration_seconds))

    def _failure(self, error: Exception) -> MigrationFailed:
        if isinstance(error, Cancelled):
            return MigrationFailed(None, "", None, True, True)
        problem = self.problem(error)
        if isinstance(error, StatementFailed):
            sql = self.redact(error.sql)
            return MigrationFailed(problem, sql, error.line, error.nothing_changed, False)
        if isinstance(error, FailedAfterCommit):  # a migration committed, then a later step failed
            return MigrationFailed(problem, "", None, False, False)
        if isinstance(error, WizardError):  # refused before anything was written
            return MigrationFailed(problem, "", None, True, False)
        return MigrationFailed(problem, "", None, False, False)  # a bug, a lost connection

    def _apply(self) -> list[str]:
        """The core's migrate operation, as `migrate` runs it; the Backup step took the backup."""
        state = self.state

        def emit(event: ev.Event) -> None:
            if isinstance(event, ev.ReportWritten):
                self.report_path = state.report_path = Path(event.path)
            state.events.append(event)
            self.post_message(EngineEvent(event))

        choice = operations.BackupChoice(take=False, note=backup_note(state))
        self.options = workers.run_options(state)
        result = operations.migrate(workers.context(state), self.options, choice, emit)
        state.verify = result.verify
        return result.applied

    def on_engine_event(self, message: EngineEvent) -> None:
        event, bar = message.event, self.query_one("#progress", ProgressBar)
        if isinstance(event, ev.MigrationStarted):
            self.total, self.finished = event.total, 0
            bar.update(total=event.total, progress=0)
        self.in_statement = isinstance(event, ev.StatementStarted)
        if isinstance(event, ev.StatementStarted):
            head = f"… [{event.index}/{event.total}] line {event.line}  "
            current = self.query_one("#current", Static)
            current.update(escape(head + one_line(event.sql, (current.size.width or 80) - len(head))))
        elif isinstance(event, ev.StatementFinished):
            self.finished = event.index
            bar.update(progress=event.index)
        elif isinstance(event, ev.MigrationApplied):
            self.applied_now.append(event.version)
        elif isinstance(event, ev.IndexBuildStarted):
            self.building = event.index
            bar.update(total=100, progress=0)
            self.query_one("#current", Static).update(
                escape(f"Building index {event.index} on {event.table} online: reads and writes go on ...")
            )
        elif isinstance(event, ev.IndexBuildProgress) and event.fraction is not None:
            bar.update(total=100, progress=round(event.fraction * 100))
        elif isinstance(event, ev.IndexBuildFinished):
            self.building = ""
            bar.update(total=100, progress=100)
        self._show_blockers(event)
        self.query_one("#log", EventLog).show(event, self.redact)

    def _show_blockers(self, event: ev.Event) -> None:
        """While a statement or a build waits for a session, name it and offer to stop it: only
        ever on the user's press (it may be someone's important work)."""
        holders: tuple[ev.LockHolder, ...] | None = None
        if isinstance(event, ev.LockWait):
            holders = event.holders
        elif isinstance(event, ev.IndexBuildProgress):
            holders = event.waiting_for
        elif isinstance(event, (ev.StatementFinished, ev.IndexBuildFinished, ev.MigrationApplied)):
            holders = ()
        if holders is None:
            return
        box = self.query_one("#blocked")
        box.set_class(bool(holders) and self.phase == RUNNING, "shown")
        if holders:
            first = holders[0]
            more = f" (and {len(holders) - 1} more)" if len(holders) > 1 else ""
            self.query_one("#blocked-by", Static).update(
                escape(
                    f"Waiting for {self.redact(first.describe())}{more}. The wizard keeps waiting and retrying;"
                    " you may stop that session instead:"
                )
            )
            for button in box.query(Button):
                button.disabled = False

    def action_stop_blockers(self, action: str) -> None:
        if self.options is None or self.phase != RUNNING:
            return
        self.options.act_on_blockers_now(action)
        for button in self.query_one("#blocked").query(Button):
            button.disabled = True
        self.query_one("#blocked-by", Static).update("Asked the server to stop it: the wizard tries again now ...")

    def _tick(self) -> None:
        seconds = self.state.clock() - self.started
        step = f"statement {self.finished} of {self.total}" if self.total else "preparing"
        if self.building:
            step = f"building {self.building} online"
        step = step if self.total or self.phase == RUNNING else "finished"
        self.query_one("#elapsed", Static).update(f"{step}  ·  {seconds:.1f} s")

    def _finish(self, phase: str) -> None:
        self.phase, self.wizard.busy = phase, False
        if self.timer is not None:
            self.timer.stop()
        self.query_one("#cancel").display = False
        self.query_one("#blocked").remove_class("shown")
        self.query_one("#current", Static).update("")
        self._tick()
        self.refresh_bindings()

    def on_migration_finished(self, message: MigrationFinished) -> None:
        self._finish(DONE)
        if not self.total:  # nothing was pending: a full bar, not an endless pulse
            self.query_one("#progress", ProgressBar).update(total=1, progress=1)
        what = f"applied {', '.join(message.applied)}." if message.applied else "nothing was pending."
        lines = [f"[b green]Done in {message.seconds:.1f} s[/]: {escape(what)}"]
        if self.state.cancel.is_set():
            lines.append("Cancel came too late: the migration had already been committed.")
        if self.report_path is not None:  # its own line, broken only after a '/', never in the file's name
            self.query_one("#report", Static).update(PathText("Report: ", str(self.report_path)))
        lines.append("Next: Verify (Enter) checks the result against the migration guide's checklist.")
        self._show_outcome("\n".join(lines))
        verify = self.query_one("#verify", Button)
        verify.disabled = False
        verify.focus()

    def on_migration_failed(self, message: MigrationFailed) -> None:
        self._finish(FAILED)
        if message.cancelled or message.problem is None:
            lines = [f"[b yellow]{escape(CANCELLED)}[/]"]
        else:
            lines = ["[b red]Migration failed.[/]"]
            if message.sql:
                where = f" (line {message.line})" if message.line is not None else ""
                lines.append(f"[red]Failing statement{where}:[/]\n[red]  {escape(one_line(message.sql, 400))}[/]")
            self.query_one(ProblemBox).show(message.problem)
            if message.nothing_changed:
                lines.append("[b]Nothing was changed: the transaction was rolled back.[/]")
            else:
                lines.append("[b red]The database may have changed:[/] Verify shows what it holds now.")
                self.query_one("#verify", Button).disabled = False
        if self.applied_now:
            lines.append(f"Committed before this: {escape(', '.join(self.applied_now))}.")
        self._show_outcome("\n".join(lines))
        back = self.query_one("#back", Button)
        back.display = True
        back.focus()
        # The backup taken this session is the way back, offered once something went wrong.
        self.query_one("#restore").display = self.state.backup is not None and not message.cancelled

    def _show_outcome(self, text: str) -> None:
        outcome = self.query_one("#outcome", Static)
        outcome.update(text)
        self.call_after_refresh(outcome.scroll_visible)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        wanted = {"cancel": RUNNING, "back": FAILED, "verify": DONE}.get(action)
        return wanted is None or self.phase == wanted

    def action_cancel(self) -> None:
        if self.phase != RUNNING or self.state.cancel.is_set():
            return
        self.state.cancel.set()
        self.query_one("#cancel", Button).disabled = True
        self.query_one("#current", Static).update("Cancelling: rolling the transaction back ...")
        if getattr(self, "in_statement", False):
            # Only a running statement needs the server's help to stop; otherwise a cancel
            # request arriving late could hit the next, harmless query instead.
            self._interrupt()

    @work(thread=True, exit_on_error=False, group="interrupt", description="Stopping the running statement")
    def _interrupt(self) -> None:
        workers.interrupt(self.state)

    def action_back(self) -> None:
        self.wizard.go("review")

    def action_restore(self) -> None:
        if self.phase == FAILED and self.state.backup is not None:
            self.wizard.go("restore")

    def can_fix(self, action: str) -> bool:
        return self.phase == FAILED and super().can_fix(action)

    def fix_retry_after_lock(self) -> None:
        """Run the migration again (a fresh screen): the lock may be free now."""
        self.wizard.go("migrate")

    def action_verify(self) -> None:
        if self.phase == DONE or not self.query_one("#verify", Button).disabled:
            self.wizard.go("verify")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions: dict[str, Callable[[], None]] = {
            "cancel": self.action_cancel,
            "back": self.action_back,
            "verify": self.action_verify,
            "restore": self.action_restore,
            "cancel-blocker": partial(self.action_stop_blockers, "cancel"),
            "terminate-blocker": partial(self.action_stop_blockers, "terminate"),
        }
        actions[event.button.id or "cancel"]()
