"""Step 7: the migration guide's post-migration checklist, filled in from what actually happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from wizard.core.verify_report import FAIL, NOT_APPLIED, PASS, WARN, VerifyReport
from wizard.tui.screens.base import FlowScreen
from wizard.tui.state import FlowState
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.path_text import PathText
from wizard.tui.widgets.steps import StepIndicator

if TYPE_CHECKING:
    from wizard.core.migrations import Migration

NOT_VERIFIED = "not verified yet: press V to run the checks"
PHRASE = "I have my own backup"  # typed on the Backup step to go on without the wizard's backup


def known_applied(state: FlowState) -> list[Migration]:
    """The migrations this session knows to be applied, oldest first: those it applied, else
    the newest one verify found applied (none before either has happened)."""
    by_version = {m.version: m for m in state.migrations}
    if state.applied:
        return [by_version[v] for v in state.applied if v in by_version]
    found = [m.version for m in state.verify.migrations if m.state != NOT_APPLIED] if state.verify else []
    return [by_version[found[-1]]] if found and found[-1] in by_version else []


def spoken_of(state: FlowState) -> list[Migration]:
    """The migrations whose words the Done and Backup screens use: the known applied ones,
    else the newest in the folder (the one a database is most likely to be waiting for)."""
    return known_applied(state) or [m for m in state.migrations if not m.baseline][-1:]


def one_table(state: FlowState) -> str | None:
    """The one table worth backing up alone: the one the migration about to run changes."""
    about = spoken_of(state)
    return about[-1].expectations.wording.backup_table if about else None


def one_table_choice(state: FlowState) -> str:
    """The Backup screen's label for backing up that one table."""
    about = spoken_of(state)
    if not about:
        return "Only one table"
    wording = about[-1].expectations.wording
    return f"Only the {wording.backup_table} table, the one {wording.name} changes"


def undo_title(state: FlowState) -> str:
    """The Rollback screen's heading (markup), naming the migration when it is known which."""
    candidates = known_applied(state)[-1:] or [m for m in state.migrations if not m.baseline]
    what = "the latest migration"
    if len(candidates) == 1:
        what = f"the {candidates[0].expectations.wording.name} migration"
    return f"[b]Undo {escape(what)} (rollback)[/b]. Nothing is removed until you confirm."


@dataclass(frozen=True)
class Item:
    """One checklist line: ticked or not, and why (the note)."""

    ticked: bool
    text: str
    note: str = ""
    note_style: str = "dim"
    path: str = ""  # a file the note names, after it: a narrow screen breaks it only after a '/'


def backup_note(state: FlowState) -> str:
    """What the session report says about the backup: the file the Backup step verified, or
    why there is none."""
    if state.backup is not None:
        return str(state.backup.path)
    if state.practice:
        return "practice database: none needed"
    if state.backup_acknowledged:
        return f"not taken by the wizard: the user typed “{PHRASE}”"
    return ""


def _backup(state: FlowState) -> Item:
    title = "Backup created before migration"
    if state.backup is not None:
        return Item(True, title, "verified: ", path=str(state.backup.path))
    if state.practice:
        return Item(False, title, "practice database: not needed")
    if state.backup_acknowledged:
        return Item(False, title, "acknowledged: you confirmed you have your own backup")
    return Item(False, title, "no backup was taken in this session", "yellow")


def _migration(state: FlowState) -> Item:
    title = "Migration script executed successfully"
    if state.migration_error:
        return Item(False, title, state.migration_error, "red")
    if state.migration_seconds is None:
        return Item(False, title, "not run in this session", "yellow")
    if not state.applied:
        return Item(True, title, "nothing was pending: it had already been applied")
    return Item(True, title, f"applied {', '.join(state.applied)} in {state.migration_seconds:.1f} s")


def _verified(report: VerifyReport | None, version: str, check_id: str, title: str) -> Item:
    if report is None:
        return Item(False, title, NOT_VERIFIED, "yellow")
    check = next((c for c in report.checks if c.id == check_id and c.migration == version), None)
    if check is None:
        return Item(False, title, "the verify report has no such check", "yellow")
    if check.status == PASS:
        return Item(True, title)
    if check.status == WARN:
        return Item(True, title, f"warning: {check.detail}", "yellow")
    return Item(False, title, check.detail, "red")


def _no_errors(state: FlowState) -> Item:
    title = "No errors in migration output"
    report = state.verify
    if state.migration_error:
        return Item(False, title, "the migration reported an error (see above)", "red")
    if report is None:
        return Item(False, title, NOT_VERIFIED, "yellow")
    failed = [f"“{c.title}”" for c in report.checks if c.status == FAIL]
    if failed:
        return Item(False, title, f"verify found problems: {', '.join(failed)} failed", "red")
    return Item(True, title, "")


def _guide_lines(state: FlowState) -> list[Item]:
    """The guide's lines that verify answers (each check's `checklist` in the migration's
    TOML), prefixed with the migration's name when the session is about several."""
    about = spoken_of(state)
    return [
        _verified(
            state.verify,
            migration.version,
            spec.id,
            spec.checklist if len(about) == 1 else f"{migration.expectations.wording.name}: {spec.checklist}",
        )
        for migration in about
        for spec in migration.expectations.checks
        if spec.checklist
    ]


def checklist(state: FlowState) -> list[Item]:
    return [_backup(state), _migration(state), *_guide_lines(state), _no_errors(state)]


def _deploy(state: FlowState) -> str:
    about = [m.expectations.wording for m in spoken_of(state)]
    if len(about) == 1:
        return f"1. Deploy {about[0].deploy}."
    return "1. Deploy " + "; and ".join(f"{w.deploy} ({w.name})" for w in about) + "."


def render_checklist(items: list[Item]) -> list[Static]:
    """A line per item, its note indented under it (wrapped lines keep the indent)."""
    lines: list[Static] = []
    for item in items:
        box = Text("[x] " if item.ticked else "[ ] ", style="bold green" if item.ticked else "bold red")
        lines.append(Static(box + Text(item.text), classes="item"))
        if item.path:
            lines.append(Static(PathText(item.note, item.path, style=item.note_style), classes="note"))
        elif item.note:
            lines.append(Static(Text(item.note, style=item.note_style), classes="note"))
    return lines


def next_steps(state: FlowState, items: list[Item]) -> str:
    if state.practice:
        lines = [
            "This was the practice database: nothing real was changed.",
            "When you are ready, run the wizard again and paste your real DATABASE_URL.",
        ]
    else:
        lines = [
            _deploy(state),
            "2. Keep the backup until the application has run normally for a few days: it is your way back.",
            "3. Re-check any time with `migration-wizard verify`: it only reads, and changes nothing.",
        ]
    if not all(item.ticked for item in items[1:]):
        lines.append("Some lines are not ticked: press V to see the checks in detail, or F1 for help.")
    return "\n".join(lines)


class DoneScreen(FlowScreen):
    STEP = "Done"
    # Both keys are in their buttons' labels: the footer keeps room for F1 and quit.
    BINDINGS = [
        Binding("v", "verify", "Verify again", show=False),
        Binding("u", "rollback", "Roll back (undo)", show=False),
    ]
    DEFAULT_CSS = """
    DoneScreen .heading { text-style: bold; margin-top: 1; height: auto; }
    DoneScreen #checklist, DoneScreen #next { height: auto; padding: 0 2; }
    DoneScreen .note { padding-left: 4; }
    """

    def compose(self) -> ComposeResult:
        items = checklist(self.state)
        yield StepIndicator(self.STEP)
        with VerticalScroll(id="body"):
            yield Static("Post-migration checklist", classes="heading")
            with Vertical(id="checklist"):
                yield from render_checklist(items)
            if self.state.report_path is not None:
                yield Static("Session report", classes="heading")
                yield Static(
                    PathText("Written to ", str(self.state.report_path), " (only you can read it)."), id="report"
                )
            yield Static("What to do next", classes="heading")
            yield Static(next_steps(self.state, items), id="next", markup=False)
        with Horizontal(classes="buttons"):
            yield Button("Verify again (V)", id="verify")
            yield Button("Roll back (U)", id="rollback")
            yield Button("Quit (Q)", id="quit", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#quit", Button).focus()

    def action_verify(self) -> None:
        self.wizard.go("verify")

    def action_rollback(self) -> None:
        self.wizard.go("rollback")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "verify":
            self.action_verify()
        elif event.button.id == "rollback":
            self.action_rollback()
        else:
            self.app.exit()
