"""Restore: put the database back to exactly what a backup file holds. What the file holds and
what goes first are shown before anything changes; the database name is typed to go ahead;
then one transaction, the rows compared, and verify for information."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Group
from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, LoadingIndicator, OptionList, Static

from wizard.core import event_lines, operations, paths
from wizard.core import events as ev
from wizard.core.errors import Cancelled, FailedAfterCommit
from wizard.core.restore import RestorePlan
from wizard.core.verify_report import FAIL, PASS
from wizard.tui import workers
from wizard.tui.messages import RestoreFailed, RestoreFinished, RestorePlanned, RestoreStatus, WorkFailed
from wizard.tui.screens.base import FlowScreen
from wizard.tui.widgets.backup_files import BackupFiles
from wizard.tui.widgets.checks import CheckTable, badge
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.problem_box import ProblemBox
from wizard.tui.widgets.restore_plan import comparison, contents, summary
from wizard.tui.widgets.steps import StepIndicator

INTRO = (
    "[b]Restore from a backup[/b]: put the database back to exactly what a backup file holds."
    " Nothing changes until you have seen what the file holds, typed the database name, and pressed Restore."
)
BEFORE_PHASE_2 = (
    "A backup from before a migration does not pass that migration's checks, by design: it is the database"
    " as it was before the migration."
)
CANCELLED = "Restore cancelled: the database was not changed (the transaction was rolled back)."


@dataclass
class RestoreCancelled(Message):
    report: Path | None


class RestoreScreen(FlowScreen):
    STEP = None
    BINDINGS = [Binding("escape", "cancel", "Cancel (rolls back)"), Binding("escape", "back", "Back")]
    DEFAULT_CSS = """
    RestoreScreen #intro, RestoreScreen #summary, RestoreScreen #contents, RestoreScreen #status,
    RestoreScreen #outcome, RestoreScreen #verify-summary { height: auto; }
    RestoreScreen #summary, RestoreScreen #contents, RestoreScreen #outcome { margin: 1 0 0 0; }
    RestoreScreen #confirm-area { height: auto; padding: 0 2; }
    RestoreScreen #confirm { max-width: 60; }
    RestoreScreen #verify-checks { margin: 0 0 1 0; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.plan: RestorePlan | None = None
        self.running = False
        self.finished = False

    @property
    def expected(self) -> str:
        target = self.state.target
        if self.state.practice or (target and target.practice):
            return "practice"
        return target.database if target else ""

    def _database(self) -> str:
        target = self.state.target
        if self.expected == "practice" or target is None:
            return "the practice database"
        return f"the database {target.database}"

    def compose(self) -> ComposeResult:
        current = self.state.backup.path if self.state.backup is not None else None
        yield StepIndicator(self.STEP)
        with VerticalScroll(id="body"):
            yield Static(INTRO, id="intro")
            yield BackupFiles(paths.backups_dir(), current, id="files")
            yield LoadingIndicator(id="spinner")
            yield Static("", id="summary")
            yield Static("", id="contents")
            yield Static("", id="status")
            yield Static("", id="outcome")
            yield Static("", id="verify-summary")
            yield CheckTable(id="verify-checks")
            yield ProblemBox(id="problem")
        with Vertical(id="confirm-area"):  # below the scrolling part: always in sight while typing
            yield Static("", id="confirm-hint")
            yield Input(id="confirm", placeholder="type here to confirm")
        with Horizontal(classes="buttons"):
            yield Button("Restore", id="run", variant="error", disabled=True)
            yield Button("Cancel (Esc)", id="cancel", variant="error")
            yield Button("Another file", id="another")
            yield Button("Verify", id="verify", variant="primary")
            yield Button("Back (Esc)", id="back")
        yield KeysFooter()

    def on_mount(self) -> None:
        for hidden in ("#spinner", "#confirm-area", "#verify-checks", "#verify", "#another", "#cancel"):
            self.query_one(hidden).display = False
        self.query_one(CheckTable).can_focus = False
        if self.state.backup is not None:  # the one taken in this session; "Another file" to change it
            self._choose(self.state.backup.path)
        else:
            self._show_files()

    def _show_files(self) -> None:
        self.query_one("#files").display = True
        listed = self.query_one("#files-list", OptionList).option_count
        self.query_one("#files-list" if listed else "#files-path").focus()

    # Choosing a file and reading it -------------------------------------------------------

    def on_backup_files_chosen(self, message: BackupFiles.Chosen) -> None:
        if not self.running and not self.finished:
            self._choose(message.path)

    def _choose(self, path: Path) -> None:
        self.plan = None
        self.query_one(ProblemBox).show(None)
        for cleared in ("#summary", "#contents", "#confirm-hint"):
            self.query_one(cleared, Static).update("")
        self.query_one("#confirm-area").display = False
        self.query_one("#files").display = False  # the file's contents take its place
        self.query_one("#another").display = False
        self.query_one("#run", Button).disabled = True
        self.query_one("#spinner").display = True
        self.query_one("#status", Static).update(f"Reading {escape(str(path))} ...")
        self._read(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="restore", description="Reading the backup")
    def _read(self, path: Path) -> None:
        try:
            found = operations.restore_preview(workers.context(self.state), path.resolve())
        except Exception as error:  # not a backup, unreadable, connection lost: explained on screen
            self.post_message(WorkFailed(self.problem(error)))
            return
        self.post_message(RestorePlanned(found))

    def on_restore_planned(self, message: RestorePlanned) -> None:
        self.plan = message.plan
        self.query_one("#spinner").display = False
        self.query_one("#status", Static).update("")
        self.query_one("#summary", Static).update(summary(message.plan, self._database()))
        self.query_one("#contents", Static).update(contents(message.plan))
        self.query_one("#confirm-hint", Static).update(
            f"To go ahead, type [b]{escape(self.expected)}[/b] below, then press Enter (or Restore): it makes"
            " sure this is the database you mean."
        )
        self.query_one("#confirm-area").display = True
        confirm = self.query_one("#confirm", Input)
        confirm.value = ""
        confirm.focus()
        self.query_one("#another").display = True
        self.query_one("#body", VerticalScroll).scroll_home(animate=False)

    def on_work_failed(self, message: WorkFailed) -> None:
        self.query_one("#spinner").display = False
        self.query_one("#status", Static).update("[b red]This file cannot be restored.[/] Choose another one.")
        self.query_one(ProblemBox).show(message.problem)
        self._show_files()

    def action_another(self) -> None:
        """Back to the list of files (the one read stays unchanged: nothing was restored)."""
        if self.running or self.finished:
            return
        self.plan = None
        for cleared in ("#summary", "#contents", "#confirm-hint"):
            self.query_one(cleared, Static).update("")
        for hidden in ("#confirm-area", "#another"):
            self.query_one(hidden).display = False
        self.query_one("#run", Button).disabled = True
        self._show_files()

    @on(Input.Changed, "#confirm")
    def typed(self, event: Input.Changed) -> None:
        self.query_one("#run", Button).disabled = not self._confirmed()

    @on(Input.Submitted, "#confirm")
    def submitted(self) -> None:
        self.action_run()

    def _confirmed(self) -> bool:
        typed = self.query_one("#confirm", Input).value.strip()
        return self.plan is not None and not self.running and not self.finished and typed == self.expected

    # Restoring ----------------------------------------------------------------------------

    def action_run(self) -> None:
        if not self._confirmed() or self.plan is None:
            return
        self.running = True
        self.state.cancel.clear()
        self.query_one("#run", Button).disabled = True
        self.query_one("#back").display = False
        self.query_one("#confirm-area").display = False
        self.query_one("#another").display = False
        self.query_one("#spinner").display = True
        cancel = self.query_one("#cancel", Button)
        cancel.display, cancel.disabled = True, False
        self.query_one("#body").focus()  # not the button: an Enter too many must not cancel
        self.refresh_bindings()
        self.wizard.operation_started(self._restore(self.plan), "restore")

    @work(thread=True, exclusive=True, exit_on_error=False, group="restore", description="Restoring")
    def _restore(self, plan: RestorePlan) -> None:
        """The core's restore operation, as `restore` runs it (report and verify included)."""
        state = self.state
        report: list[Path] = []

        def emit(event: ev.Event) -> None:
            if isinstance(event, ev.RestoreStarted):
                self.post_message(RestoreStatus(event_lines.lines(event)[0].text))
            elif isinstance(event, ev.TableRestored) and not report:
                self.post_message(RestoreStatus("Restored. Running verify, for information ..."))
            elif isinstance(event, ev.ReportWritten):
                report.append(Path(event.path))

        try:
            outcome = operations.restore(workers.context(state), plan, emit, state.cancel)
        except Cancelled:
            self.post_message(RestoreCancelled(report[0] if report else None))
            return
        except Exception as error:  # explained on screen, never a crash
            committed = isinstance(error, FailedAfterCommit)
            self.post_message(RestoreFailed(self.problem(error), report[0] if report else None, committed))
            return
        state.verify = outcome.verify
        verify_problem = self.problem(outcome.verify_error) if outcome.verify_error else None
        self.post_message(RestoreFinished(outcome.result, outcome.verify, verify_problem, outcome.report))

    def on_restore_status(self, message: RestoreStatus) -> None:
        self.query_one("#status", Static).update(escape(self.redact(message.text)))

    def _stopped(self, *, restored: bool) -> None:
        self.running, self.finished = False, restored
        self.wizard.busy = False
        self.query_one("#spinner").display = False
        self.query_one("#status", Static).update("")
        self.query_one("#back").display = True
        self.query_one("#cancel").display = False
        self.query_one("#another").display = not restored
        self.refresh_bindings()
        verify = self.query_one("#verify", Button)
        verify.display = True
        verify.focus()

    def on_restore_finished(self, message: RestoreFinished) -> None:
        self._stopped(restored=True)
        self.query_one("#run").display = False
        for before in ("#summary", "#contents"):  # they spoke of what was about to happen
            self.query_one(before).display = False
        differ = message.result.mismatched
        if differ:
            head = f"[b red]The database does not match the backup for: {escape(', '.join(differ))}.[/]"
        else:
            head = "[b green]Restored: the database now matches the backup[/] (every table has the backup's rows)."
        if self.plan is not None:
            head += f"\nBackup file: {escape(str(self.plan.backup.path))}"
        if message.result.left_out:
            head += f"\n{escape(message.result.left_out_note)}"
        report = f"\nReport: {escape(str(message.report))}" if message.report else ""
        outcome = Group(Text.from_markup(head + report), comparison(message.result.counts))
        self.query_one("#outcome", Static).update(outcome)
        said = self.query_one("#verify-summary", Static)
        if message.verify is not None:
            checks = message.verify.checks
            failed = sum(c.status == FAIL for c in checks)
            if message.verify.ok:
                said.update(Text.assemble("For information, verify now says: ", badge(PASS), " all checks passed."))
            else:
                said.update(
                    Text.assemble(
                        "For information, verify now says: ",
                        badge(FAIL),
                        f" {failed} of {len(checks)} checks failed. {BEFORE_PHASE_2}",
                    )
                )
            table = self.query_one(CheckTable)
            table.show(checks)
            table.display = True
        elif message.verify_problem is not None:
            said.update("Verify could not run afterwards (the restore itself succeeded):")
            self.query_one(ProblemBox).show(message.verify_problem)
        self.query_one("#body", VerticalScroll).scroll_home(animate=False)  # the outcome is at the top now

    def on_restore_failed(self, message: RestoreFailed) -> None:
        self._stopped(restored=False)
        report = f"\nReport: {escape(str(message.report))}" if message.report else ""
        head = (
            "[b yellow]The database was restored (committed), but a later step failed[/]: see below."
            if message.committed
            else "[b red]The restore failed[/]; type the name again to retry once the cause is fixed."
        )
        self.query_one("#outcome", Static).update(head + report)
        self.query_one(ProblemBox).show(message.problem)
        self.query_one("#confirm-area").display = True
        confirm = self.query_one("#confirm", Input)
        confirm.value = ""
        outcome = self.query_one("#outcome")
        self.call_after_refresh(lambda: outcome.scroll_visible(animate=False))

    def on_restore_cancelled(self, message: RestoreCancelled) -> None:
        self._stopped(restored=False)
        report = f"\nReport: {escape(str(message.report))}" if message.report else ""
        self.query_one("#outcome", Static).update(f"[b yellow]{escape(CANCELLED)}[/]{report}")
        self.query_one("#confirm-area").display = True  # type the name again to restore after all
        self.query_one("#confirm", Input).value = ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Esc cancels while the restore runs, and goes back otherwise.
        if action in ("cancel", "back"):
            return self.running == (action == "cancel")
        return True

    def action_cancel(self) -> None:
        """Stop the restore: the server stops the running statement, the transaction rolls back."""
        if not self.running or self.state.cancel.is_set():
            return
        self.state.cancel.set()
        self.query_one("#cancel", Button).disabled = True
        self.query_one("#status", Static).update("Cancelling: rolling the transaction back ...")
        self._interrupt()

    @work(thread=True, exit_on_error=False, group="interrupt", description="Stopping the running statement")
    def _interrupt(self) -> None:
        workers.interrupt(self.state)

    def fix_retry_after_lock(self) -> None:
        """A busy table stopped it (nothing changed): read the file again, then confirm again."""
        if self.plan is not None and not self.running and not self.finished:
            self.query_one("#outcome", Static).update("")
            self._choose(self.plan.backup.path)

    def action_back(self) -> None:
        if not self.running:
            self.wizard.go("welcome")

    def action_verify(self) -> None:
        self.wizard.go("verify")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "run": self.action_run,
            "another": self.action_another,
            "verify": self.action_verify,
            "back": self.action_back,
            "cancel": self.action_cancel,
        }
        action = actions.get(event.button.id or "")
        if action is not None:
            action()
