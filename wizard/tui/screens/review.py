"""Step 4: every pending statement, highlighted and explained in plain words, before anything runs."""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, LoadingIndicator, Static

from wizard.core import engine, impact
from wizard.tui.messages import WorkFailed
from wizard.tui.screens.base import FlowScreen
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.problem_box import ProblemBox
from wizard.tui.widgets.steps import StepIndicator

PRESENT = "already present: no change"


@dataclass(frozen=True)
class PlannedStatement:
    """One statement to run, with what it does, the lock it takes, and whether its object is already there."""

    migration: str
    index: int
    line: int
    sql: str
    summary: str
    lock: str
    present: bool
    impact: str = ""  # in plain words, with a time estimate where it takes time
    table: str = ""  # "attachments: ~200,000 rows, 35.0 MB" for a statement on an existing table


@dataclass
class ReviewReady(Message):
    """The pending migrations were read: these statements would run, in this order."""

    migrations: list[str]
    statements: list[PlannedStatement]
    online: tuple[str, ...] = ()  # indexes built CONCURRENTLY after the commit
    sessions: tuple[str, ...] = ()  # who holds or waits for a lock on those tables now
    tables: tuple[str, ...] = ()


def sessions_text(message: ReviewReady) -> str:
    tables = ", ".join(message.tables)
    if not message.sessions:
        return f"No other session holds or waits for a lock on {tables} now."
    listed = "\n".join(f"  - {s}" for s in message.sessions)
    return f"Sessions using {tables} now (the migration waits for those holding a lock):\n{listed}"


def header(migrations: list[str], statements: list[PlannedStatement], online: tuple[str, ...] = ()) -> str:
    count = len(statements)
    noun = "statement" if count == 1 else "statements"
    later = f" {count - len(online)} of these {count} statements" if online else f" These {count} {noun}"
    if len(migrations) == 1:
        text = f"Nothing has been changed yet.{later} run in one transaction: either all of them are applied or none."
    else:
        text = (
            f"Nothing has been changed yet.{later} of {len(migrations)} migrations run in one transaction per"
            " migration: each migration is applied completely or not at all."
        )
    if online:
        text += (
            f" The other {len(online)}, index builds on big tables ({', '.join(online)}), follow online after"
            " the commit, while reads and writes go on."
        )
    present = sum(s.present for s in statements)
    if present:
        text += f" {present} of them find their object already there and change nothing."
    return text


class StatementBlock(Vertical):
    """One statement: its number, the SQL highlighted, then what it does and which lock it takes."""

    DEFAULT_CSS = """
    StatementBlock { height: auto; margin-bottom: 1; }
    StatementBlock .sql { padding: 0 0 0 2; }
    StatementBlock .what { padding: 0 0 0 2; }
    """

    def __init__(self, planned: PlannedStatement, total: int) -> None:
        super().__init__(id=f"statement-{planned.index}", classes="statement")
        self.planned = planned
        self.total = total

    def compose(self) -> ComposeResult:
        p = self.planned
        title = Text.assemble((f"[{p.index}/{self.total}]", "bold"), f" {p.migration}, line {p.line}")
        if p.present:
            title.append(f"  {PRESENT}", style="bold cyan")
        yield Static(title, classes="title")
        sql = p.sql.strip().rstrip(";") + ";"
        yield Static(Syntax(sql, "sql", theme="ansi_dark", word_wrap=True, background_color="default"), classes="sql")
        what = Text.assemble(("What it does: ", "bold"), p.summary, "\n", ("Lock: ", "bold"), p.lock)
        if p.table:
            what.append_text(Text.assemble("\n", ("Table: ", "bold"), p.table))
        if p.impact:
            what.append_text(Text.assemble("\n", ("Impact: ", "bold"), p.impact))
        yield Static(what, classes="what")


class ReviewScreen(FlowScreen):
    STEP = "Review"
    BINDINGS = [
        Binding("enter", "apply", "Apply"),
        Binding("enter", "verify", "Verify"),
        Binding("pagedown", "page(1)", "Scroll", show=False),
        Binding("pageup", "page(-1)", "Scroll", show=False),
        Binding("escape", "back", "Back"),
        Binding("ctrl+r", "rehearse", "Rehearse on a copy", priority=True),
    ]
    DEFAULT_CSS = """
    ReviewScreen #header { height: auto; padding: 0 2; margin: 1 0 0 0; }
    ReviewScreen #confirm { height: auto; padding: 0 2; }
    ReviewScreen #confirm-name { width: 1fr; max-width: 60; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.statements: list[PlannedStatement] = []
        self.loaded = False

    @property
    def practice(self) -> bool:
        target = self.state.target
        return self.state.practice or bool(target and target.practice)

    @property
    def database(self) -> str:
        target = self.state.target
        return target.database if target else ""

    def compose(self) -> ComposeResult:
        yield StepIndicator(self.STEP)
        yield Static("Reading what is pending ...", id="header")
        yield ProblemBox(id="problem")
        yield LoadingIndicator(id="spinner")
        yield VerticalScroll(id="body")
        with Vertical(id="confirm"):
            yield Static(
                f"Type the database name, [b]{escape(self.database)}[/], then press Enter (or Apply): it makes"
                " sure this is the database you mean.",
                id="confirm-prompt",
            )
            yield Input(placeholder=self.database, id="confirm-name")
        with Horizontal(classes="buttons"):
            yield Button("Apply (Enter)", id="apply", variant="warning", disabled=True)
            yield Button("Verify (Enter)", id="verify", variant="primary")
            yield Button("Rehearse on a local copy (Ctrl+R)", id="rehearse")
            yield Button("Back (Esc)", id="back")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#confirm").display = False
        self.query_one("#verify").display = False
        self.query_one("#rehearse").display = False
        self._read()

    @work(thread=True, exclusive=True, exit_on_error=False, group="review", description="Reading pending")
    def _read(self) -> None:
        try:
            conn = self.state.connection()
            todo = engine.pending(engine.status(conn, self.state.migrations))
            found = impact.plan(conn, todo, self.state.online_rows)
        except Exception as error:  # a dropped connection must not crash the screen
            self.post_message(WorkFailed(self.problem(error)))
            return
        planned = [
            PlannedStatement(
                s.migration,
                s.index,
                s.line,
                s.sql,
                s.summary,
                s.lock,
                s.present,
                s.impact,
                f"{s.table}: {s.stats.describe()}" if s.table and s.stats else "",
            )
            for s in found.statements
        ]
        sessions = tuple(self.redact(h.describe()) for h in found.sessions)
        self.post_message(ReviewReady(found.migrations, planned, found.online, sessions, found.tables))

    async def on_review_ready(self, message: ReviewReady) -> None:
        self.query_one("#spinner").display = False
        self.statements, self.loaded = message.statements, True
        if not message.statements:
            self.query_one("#header", Static).update(
                "Nothing is pending: every migration is already applied. Nothing will be changed; you can verify."
            )
            self.query_one("#apply").display = False
            verify = self.query_one("#verify", Button)
            verify.display = True
            verify.focus()
            self.refresh_bindings()
            return
        self.query_one("#header", Static).update(
            escape(header(message.migrations, message.statements, message.online) + "\n" + sessions_text(message))
        )
        total = len(message.statements)
        await self.query_one("#body", VerticalScroll).mount_all(
            [StatementBlock(planned, total) for planned in message.statements]
        )
        self.query_one("#rehearse").display = True
        apply = self.query_one("#apply", Button)
        if self.practice:
            apply.disabled = False
            apply.focus()
        else:
            self.query_one("#confirm").display = True
            self.query_one("#confirm-name", Input).focus()
        self.refresh_bindings()

    def on_work_failed(self, message: WorkFailed) -> None:
        self.query_one("#spinner").display = False
        self.query_one("#header", Static).update(
            "Could not read what is pending. Press Esc to go back and run the checks again."
        )
        self.query_one(ProblemBox).show(message.problem)
        self.query_one("#back", Button).focus()

    @on(Input.Changed, "#confirm-name")
    def name_typed(self, event: Input.Changed) -> None:
        self.query_one("#apply", Button).disabled = not self._confirmed()
        self.refresh_bindings()

    @on(Input.Submitted, "#confirm-name")
    def name_submitted(self) -> None:
        self.action_apply()

    def _confirmed(self) -> bool:
        if not self.loaded or not self.statements:
            return False
        if self.practice:
            return True
        return self.query_one("#confirm-name", Input).value == self.database

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply":
            return None if self.loaded and self.statements and not self._confirmed() else bool(self.statements)
        if action == "verify":
            return self.loaded and not self.statements
        if action == "rehearse":
            return self.loaded and bool(self.statements)
        return True

    def action_apply(self) -> None:
        if self._confirmed():
            self.wizard.go("migrate")

    def action_verify(self) -> None:
        if self.loaded and not self.statements:
            self.wizard.go("verify")

    def action_page(self, direction: int) -> None:
        body = self.query_one("#body", VerticalScroll)
        if direction > 0:
            body.scroll_page_down()
        else:
            body.scroll_page_up()

    def action_back(self) -> None:
        self.wizard.go("backup")

    def action_rehearse(self) -> None:
        """Try the pending migrations on a throwaway local copy first (production is not changed)."""
        if self.loaded and self.statements:
            self.wizard.go("rehearse")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "apply": self.action_apply,
            "verify": self.action_verify,
            "rehearse": self.action_rehearse,
            "back": self.action_back,
        }
        actions[event.button.id or "back"]()
