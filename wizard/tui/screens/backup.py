"""Step 3: make sure there is a way back before anything changes (a placeholder until real backups)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Footer, Static

from wizard.tui.screens.base import FlowScreen
from wizard.tui.widgets.steps import StepIndicator

WHY = (
    "Before the migration changes anything, make sure you have a backup you can restore. If something"
    " goes wrong you can put the database back exactly as it was.\n\n"
    "A Neon branch or point-in-time restore counts: in the Neon console, create a branch of this database"
    " (Branches > Create branch) or check that point-in-time restore covers the last hours. So does a file"
    " made with `migration-wizard backup` (run it in another terminal), or any pg_dump you can restore."
)
REAL_HINT = "Tick the box (Space) once you have one, then Continue (Enter)."
PRACTICE_TEXT = (
    "You are on the practice database: no backup is needed. If anything goes wrong it can be"
    " recreated from scratch with:\n\n    migration-wizard practice --reset"
)
TICK = "I have a backup I can restore"


class BackupScreen(FlowScreen):
    STEP = "Backup"
    BINDINGS = [
        Binding("enter", "next", "Continue"),
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    BackupScreen #why { height: auto; margin: 1 0; }
    BackupScreen #have-backup { margin: 1 0 0 2; }
    """

    @property
    def practice(self) -> bool:
        target = self.state.target
        return self.state.practice or bool(target and target.practice)

    def compose(self) -> ComposeResult:
        yield StepIndicator(self.STEP)
        with VerticalScroll(id="body"):
            if self.practice:
                yield Static(PRACTICE_TEXT, id="why")
            else:
                yield Static(WHY, id="why")
                yield Static(REAL_HINT, classes="hint")
                yield Checkbox(TICK, self.state.backup_acknowledged, id="have-backup")
        with Horizontal(classes="buttons"):
            enabled = self.practice or self.state.backup_acknowledged
            yield Button("Continue (Enter)", id="continue", variant="success", disabled=not enabled)
            yield Button("Back (Esc)", id="back")
        yield Footer()

    def on_mount(self) -> None:
        if self.practice:
            self.state.backup_acknowledged = True
            self.query_one("#continue", Button).focus()
        else:
            self.query_one("#have-backup", Checkbox).focus()

    @on(Checkbox.Changed, "#have-backup")
    def ticked(self, event: Checkbox.Changed) -> None:
        self.state.backup_acknowledged = event.value
        button = self.query_one("#continue", Button)
        button.disabled = not event.value
        if event.value:
            button.focus()  # the next Enter goes on
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.practice or self.state.backup_acknowledged else None
        return True

    def action_next(self) -> None:
        if self.practice or self.state.backup_acknowledged:
            self.wizard.go("review")

    def action_back(self) -> None:
        self.wizard.go("preflight")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "continue":
            self.action_next()
        else:
            self.action_back()
