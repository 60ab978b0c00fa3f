"""Step 6: the guide's verification checklist, one table per check, re-runnable with R; what each
migration is (applied and verified, failed, not applied) heads its checks."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, LoadingIndicator, Static

from wizard.core.verify_report import (
    APPLIED_VERIFIED,
    FAIL,
    FAILED,
    MODIFIED,
    NOT_APPLIED,
    PASS,
    WARN,
    CheckResult,
    MigrationState,
    VerifyReport,
)
from wizard.tui import workers
from wizard.tui.messages import VerifyFinished, WorkFailed
from wizard.tui.screens.base import FlowScreen
from wizard.tui.widgets.checks import Cell, WrappingTable, badge
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.problem_box import ProblemBox
from wizard.tui.widgets.steps import StepIndicator

ROW_STYLES = {FAIL: "bold red", WARN: "yellow", PASS: ""}
STATE_BADGES = {
    APPLIED_VERIFIED: ("APPLIED", "bold green"),
    FAILED: ("FAILED", "bold red"),
    NOT_APPLIED: ("NOT APPLIED", "bold yellow"),
    MODIFIED: ("FILE CHANGED", "bold red"),
}


def _cell(key: str, value: Any) -> Cell:
    if key == "new" and isinstance(value, bool):
        return Text("NEW", style="bold cyan") if value else ""
    if key in ("status", "result") and value in ROW_STYLES:
        return badge(str(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def _row_status(row: dict[str, Any]) -> str:
    return str(row.get("status") or row.get("result") or "")


class CheckBlock(Vertical):
    """One check: its badge, title and reason, then its rows (failed rows in red)."""

    DEFAULT_CSS = """
    CheckBlock { height: auto; margin-bottom: 1; }
    """

    def __init__(self, check: CheckResult) -> None:
        super().__init__(id=f"check-{check.id}")
        self.check = check

    def compose(self) -> ComposeResult:
        title = Text.assemble(badge(self.check.status), " ", (self.check.title, "bold"), "  ", self.check.detail)
        yield Static(title, classes="check-title")
        if self.check.fix:
            steps = "\n".join(f"  {number}. {step}" for number, step in enumerate(self.check.fix, 1))
            yield Static(Text("What to do:\n" + steps), classes="hint")
        if self.check.rows:
            yield WrappingTable()

    def on_mount(self) -> None:
        if not self.check.rows:
            return
        keys = list(self.check.rows[0].keys())
        rows: list[list[Cell]] = []
        for row in self.check.rows:
            style = ROW_STYLES.get(_row_status(row), "")
            cells = [_cell(k, row.get(k)) for k in keys]
            if style:
                cells = [Text(c.plain, style=style) if isinstance(c, Text) else Text(c, style=style) for c in cells]
            rows.append(cells)
        whole = [i for i, key in enumerate(keys) if key in ("new", "status", "result")]  # badges
        self.query_one(WrappingTable).set_rows(keys, rows, whole=whole)


class MigrationBlock(Vertical):
    """One migration's checks, headed by what verify found it to be when that is news: with
    one migration that passed, the overall line above says it all."""

    DEFAULT_CSS = """
    MigrationBlock { height: auto; }
    MigrationBlock .migration { margin-bottom: 1; }
    """

    def __init__(self, state: MigrationState, checks: list[CheckResult], *, heading: bool) -> None:
        super().__init__(id=f"migration-{state.version}")
        self.migration = state
        self.checks = checks
        self.heading = heading

    def compose(self) -> ComposeResult:
        if self.heading:
            label, style = STATE_BADGES[self.migration.state]
            yield Static(Text.assemble((f" {label} ", style), " ", self.migration.sentence), classes="migration")
        for check in self.checks:
            yield CheckBlock(check)


def blocks(report: VerifyReport) -> list[Vertical]:
    """The checks, grouped by migration (a report without migrations: the checks alone)."""
    if not report.migrations:
        return [CheckBlock(check) for check in report.checks]
    heading = len(report.migrations) > 1 or any(m.state != APPLIED_VERIFIED for m in report.migrations)
    return [MigrationBlock(m, report.checks_of(m.version), heading=heading) for m in report.migrations]


class VerifyScreen(FlowScreen):
    STEP = "Verify"
    BINDINGS = [
        # R and U are in their buttons' labels: the footer keeps room for F1 and quit.
        Binding("r", "rerun", "Re-run checks", show=False),
        Binding("u", "rollback", "Roll back (undo)", show=False),
        Binding("enter", "next", "Continue", show=False),  # in its button's label, which says Quit for verify only
        Binding("escape", "back", "Back"),
    ]

    def compose(self) -> ComposeResult:
        yield StepIndicator(self.STEP)
        yield Static("Running the checks (a test insert is made and always rolled back) ...", id="overall")
        yield ProblemBox(id="problem")
        yield LoadingIndicator(id="spinner")
        yield VerticalScroll(id="body")
        with Horizontal(classes="buttons"):
            yield Button("Re-run (R)", id="rerun")
            yield Button("Roll back (U)", id="rollback")
            label = "Quit (Enter)" if self.state.verify_only else "Continue (Enter)"
            yield Button(label, id="next", variant="primary", disabled=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.action_rerun()

    def action_rerun(self) -> None:
        self.query_one("#spinner").display = True
        self.query_one("#overall", Static).update("Running the checks (a test insert is made and rolled back) ...")
        self.query_one(ProblemBox).show(None)
        self._verify()

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify", description="Verifying")
    def _verify(self) -> None:
        workers.verify(self.state, self.post_message)

    async def on_verify_finished(self, message: VerifyFinished) -> None:
        self.query_one("#spinner").display = False
        await self._show(message.report)

    def on_work_failed(self, message: WorkFailed) -> None:
        self.query_one("#spinner").display = False
        self.query_one("#overall", Static).update("[b red]Verify could not run.[/] Press R to try again.")
        self.query_one(ProblemBox).show(message.problem)

    def fix_retry_after_lock(self) -> None:
        self.action_rerun()

    async def _show(self, report: VerifyReport) -> None:
        body = self.query_one("#body", VerticalScroll)
        await body.remove_children()
        await body.mount_all(blocks(report))
        failed = sum(c.status == FAIL for c in report.checks)
        warned = sum(c.status == WARN for c in report.checks)
        total = len(report.checks)
        if report.ok:
            text = Text.assemble(badge(PASS), f" All {total} checks passed")
            if warned:
                text.append(f" ({warned} with a warning: read them below)", style="yellow")
        else:
            text = Text.assemble(badge(FAIL), f" {failed} of {total} checks failed: the failed rows are in red below")
        self.query_one("#overall", Static).update(text)
        self.query_one("#next", Button).disabled = False

    def action_next(self) -> None:
        if self.query_one("#next", Button).disabled:
            return
        if self.state.verify_only:
            self.app.exit()
        else:
            self.wizard.go("done")

    def action_back(self) -> None:
        self.wizard.go("welcome")

    def action_rollback(self) -> None:
        self.wizard.go("rollback")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "rollback":
            self.action_rollback()
        elif event.button.id == "rerun":
            self.action_rerun()
        else:
            self.action_next()
