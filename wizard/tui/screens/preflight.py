"""Step 2: read-only pre-flight checks: can the migration run here, now, as this user?"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, LoadingIndicator, Static

from wizard.core.engine import APPLIED
from wizard.core.preflight import run_preflight
from wizard.core.verify_report import FAIL, PASS, WARN, CheckResult
from wizard.tui.messages import PreflightFinished, WorkFailed
from wizard.tui.screens.base import FlowScreen
from wizard.tui.widgets.checks import CheckTable, badge
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.problem_box import ProblemBox
from wizard.tui.widgets.steps import StepIndicator

EXPLAIN = "Read-only checks: can the migration run here, now, as this user? Nothing is changed on this step."
RUNNING = "Running the checks ..."


def summary(checks: list[CheckResult]) -> Text:
    """The one line under the table: all passed, warnings to read, or a failure to fix."""
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    if failed == 1:
        return Text.assemble(badge(FAIL), " A check failed: fix it before migrating")
    if failed:
        return Text.assemble(badge(FAIL), f" {failed} checks failed: fix them before migrating")
    if warned == 1:
        return Text.assemble(badge(WARN), " 1 warning: read it before you go on")
    if warned:
        return Text.assemble(badge(WARN), f" {warned} warnings: read them before you go on")
    return Text.assemble(badge(PASS), " All checks passed")


def nothing_pending(checks: list[CheckResult]) -> bool:
    """The ledger check found every migration applied (and none modified)."""
    ledger = next((c for c in checks if c.id == "ledger"), None)
    if ledger is None or ledger.status != PASS or not ledger.rows:
        return False
    return all(row.get("state") == APPLIED for row in ledger.rows)


def notes(checks: list[CheckResult]) -> str:
    """The full reason of every check that did not pass (the table may cut long ones), as markup."""
    lines: list[str] = []
    for check in checks:
        if check.status == PASS:
            continue
        colour = "red" if check.status == FAIL else "yellow"
        lines.append(f"[b {colour}]{escape(check.title)}[/]: {escape(check.detail)}")
        if check.id == "locks":
            for row in check.rows:
                query = f": {row.get('query')}" if row.get("query") else ""
                who = f"  pid {row.get('pid')} ({row.get('user')}, {row.get('state')} for {row.get('for')}){query}"
                lines.append(escape(who))
    return "\n".join(lines)


class PreflightScreen(FlowScreen):
    STEP = "Check"
    BINDINGS = [
        Binding("enter", "next", "Continue"),
        Binding("enter", "verify", "Verify"),
        Binding("r", "rerun", "Re-run checks"),
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    PreflightScreen #summary { height: auto; margin: 1 0 0 0; }
    PreflightScreen #notes { padding: 0; }
    PreflightScreen #problem { padding: 0; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.checks: list[CheckResult] = []
        self.running = False

    def compose(self) -> ComposeResult:
        yield StepIndicator(self.STEP)
        with VerticalScroll(id="body"):
            yield Static(EXPLAIN, classes="hint")
            yield LoadingIndicator(id="spinner")
            yield CheckTable(id="checks")
            yield Static(RUNNING, id="summary")
            yield Static("", id="notes", classes="hint")
            yield ProblemBox(id="problem")
            yield Static("", id="retry-hint", classes="hint")
        with Horizontal(classes="buttons"):
            yield Button("Continue (Enter)", id="continue", variant="success", disabled=True)
            yield Button("Verify (Enter)", id="verify", variant="primary")
            yield Button("Re-run (R)", id="rerun")
            yield Button("Back (Esc)", id="back")
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one(CheckTable)
        table.can_focus = False  # Enter and R reach the screen; the body scrolls
        self.query_one("#verify").display = False
        self.action_rerun()

    def action_rerun(self) -> None:
        if self.running:
            return
        self.running = True
        self.query_one("#spinner").display = True
        self.query_one("#checks").display = False
        self.query_one("#summary", Static).update(RUNNING)
        self.query_one("#notes", Static).update("")
        self.query_one(ProblemBox).show(None)
        self.query_one("#retry-hint", Static).update("")
        self.query_one("#continue", Button).disabled = True
        self.query_one("#verify", Button).disabled = True
        self.query_one("#rerun", Button).disabled = True
        self._check()

    @work(thread=True, exclusive=True, exit_on_error=False, group="preflight", description="Pre-flight checks")
    def _check(self) -> None:
        try:
            target = self.state.target
            if target is None:
                raise RuntimeError("not connected")
            checks = run_preflight(self.state.connection(), target, self.state.migrations)
        except Exception as error:  # a dropped connection must not crash the screen
            self.post_message(WorkFailed(self.problem(error)))
            return
        self.post_message(PreflightFinished(checks))

    def on_preflight_finished(self, message: PreflightFinished) -> None:
        self.checks = message.checks
        self.state.preflight = message.checks
        self._done_waiting()
        table = self.query_one(CheckTable)
        table.show(message.checks)
        table.display = True
        self.query_one("#summary", Static).update(summary(message.checks))
        self.query_one("#notes", Static).update(notes(message.checks))
        done = nothing_pending(message.checks)
        carry_on = self.query_one("#continue", Button)
        verify = self.query_one("#verify", Button)
        carry_on.display, verify.display = not done, done
        carry_on.disabled = any(c.status == FAIL for c in message.checks)
        verify.disabled = False
        if done:
            self.query_one("#summary", Static).update(
                Text.assemble(summary(message.checks), "\nEverything is already applied: nothing to migrate.")
            )
            verify.focus()
        elif not carry_on.disabled:
            carry_on.focus()
        else:
            self.query_one("#rerun", Button).focus()
        self.refresh_bindings()

    def on_work_failed(self, message: WorkFailed) -> None:
        self._done_waiting()
        self.query_one("#summary", Static).update("")
        self.query_one(ProblemBox).show(message.problem)
        self.query_one("#retry-hint", Static).update(
            "The checks could not run. Press R to try again, or Esc to go back and reconnect."
        )
        self.query_one("#rerun", Button).focus()

    def fix_retry_after_lock(self) -> None:
        self.action_rerun()

    def _done_waiting(self) -> None:
        self.running = False
        self.query_one("#spinner").display = False
        self.query_one("#rerun", Button).disabled = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return not nothing_pending(self.checks)
        if action == "verify":
            return nothing_pending(self.checks)
        return True

    def action_next(self) -> None:
        if not self.query_one("#continue", Button).disabled:
            self.wizard.go("backup")

    def action_verify(self) -> None:
        if nothing_pending(self.checks):
            self.wizard.go("verify")

    def action_back(self) -> None:
        self.wizard.go("connect")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "continue": self.action_next,
            "verify": self.action_verify,
            "rerun": self.action_rerun,
            "back": self.action_back,
        }
        actions[event.button.id or "back"]()
