"""Step 3: a verified backup before anything changes, or, said in so many words, the user's own."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from wizard.core import operations, paths, pgtools
from wizard.core.backup import BackupResult
from wizard.core.errors import Cancelled
from wizard.core.events import BackupProgress, BackupStarted, Event
from wizard.core.units import human_size
from wizard.tui import workers
from wizard.tui.messages import BackupStopped, BackupVerified, EngineEvent
from wizard.tui.screens.base import FlowScreen
from wizard.tui.screens.done import PHRASE, one_table, one_table_choice
from wizard.tui.widgets.backup_progress import BackupProgressView, tool_line
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.problem_box import ProblemBox
from wizard.tui.widgets.steps import StepIndicator

READY, RUNNING, VERIFIED, FAILED = "ready", "running", "verified", "failed"

WHY = (
    "Before the migration changes anything, the wizard copies the database into a file with pg_dump,"
    " PostgreSQL's own backup tool, then checks the file: complete, and every table in it. A backup only"
    " reads: nothing in the database changes. If the migration goes wrong, Restore puts the database back"
    " exactly as it is in the file."
)
PRACTICE_WHY = (
    "This is the practice database: nothing real can break, and `migration-wizard practice --reset`"
    " recreates it, so a backup is optional here. Taking one rehearses the real step (it takes a few"
    " seconds) and gives Restore something to practise with. Continue goes on without one."
)
SKIP = (
    "[b]Already have a backup?[/b] Skip this one only if you can restore another: a Neon branch of this"
    " database made just now (Neon console > Branches > Create branch), Neon's point-in-time restore"
    f" covering the last hours, or a pg_dump file of your own. To skip, type [b]{PHRASE}[/b] below,"
    " then press Enter: the session report records that you said so."
)


@dataclass
class PgDumpChosen(Message):
    """Which pg_dump a backup would use, and why (markup), found before it starts."""

    text: str


def verified_text(result: BackupResult) -> str:
    """What a verified backup is, where, how big, and what it holds (markup)."""
    count = len(result.tables)
    kind = "custom format, compressed" if result.format == "custom" else "plain SQL"
    return "\n".join(
        [
            f"[b green]✓ Verified[/]: pg_dump finished, the file is complete, and all {count}"
            f" table{'s' if count != 1 else ''} {'are' if count != 1 else 'is'} in it.",
            f"[b]File:[/b] {escape(str(result.path))} (only you can read it)",
            f"[b]Size:[/b] {human_size(result.bytes)}, {kind}. The database takes"
            f" {human_size(result.database_bytes)} on the server: a dump is usually much smaller.",
            f"[b]Tables:[/b] {escape(', '.join(result.tables))}",
            "To put it back later: Restore from a backup, on the start screen.",
        ]
    )


def acknowledged(typed: str) -> bool:
    """The phrase, give or take case, spaces and a full stop."""
    return " ".join(typed.split()).rstrip(".").lower() == PHRASE.lower()


class BackupScreen(FlowScreen):
    STEP = "Backup"
    BINDINGS = [
        Binding("enter", "next", "Continue"),
        Binding("b", "start", "Back up"),
        Binding("escape", "cancel", "Cancel the backup"),
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    BackupScreen #why, BackupScreen #where, BackupScreen #tool, BackupScreen #result { height: auto; }
    BackupScreen #why { margin: 1 0 0 0; }
    BackupScreen .label { margin: 1 0 0 0; text-style: bold; }
    BackupScreen RadioSet { width: auto; height: auto; }
    BackupScreen #where { margin: 1 0 0 0; }
    BackupScreen #result { margin: 1 0 0 0; }
    BackupScreen #skip-why { margin: 1 0 0 0; height: auto; }
    BackupScreen #ack { max-width: 60; }
    BackupScreen #ack-state { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.phase = READY
        self.cancel = threading.Event()
        self.started = 0.0
        self.timer: Timer | None = None
        self.folder: Path = paths.backups_dir()

    @property
    def practice(self) -> bool:
        target = self.state.target
        return self.state.practice or bool(target and target.practice)

    @property
    def can_continue(self) -> bool:
        if self.phase == RUNNING:
            return False
        return self.practice or self.state.backup is not None or self.state.backup_acknowledged

    def compose(self) -> ComposeResult:
        yield StepIndicator(self.STEP)
        with VerticalScroll(id="body"):
            yield Static(PRACTICE_WHY if self.practice else WHY, id="why")
            yield Static("What to back up", classes="label")
            with RadioSet(id="what"):
                yield RadioButton("The whole database (recommended: everything can be put back)", True, id="whole")
                yield RadioButton(one_table_choice(self.state), id="attachments")
            yield Static("Format", classes="label")
            with RadioSet(id="format"):
                yield RadioButton("Custom (.dump): compressed, restores all or single tables", True, id="custom")
                yield RadioButton("Plain SQL (.sql): a readable script, restored with psql", id="plain")
            yield Static(self._where(), id="where")
            yield Static("[b]Which pg_dump:[/b] looking ...", id="tool")
            yield BackupProgressView(id="progress")
            yield Static("", id="result")
            yield ProblemBox(id="problem")
            yield Static(SKIP, id="skip-why")
            yield Input(placeholder=PHRASE, id="ack")
            yield Static("", id="ack-state", classes="hint")
        with Horizontal(classes="buttons"):
            yield Button("Back up now (B)", id="start", variant="primary")
            yield Button("Cancel (Esc)", id="cancel", variant="error")
            yield Button("Continue (Enter)", id="continue", variant="success")
            yield Button("Back (Esc)", id="back")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#cancel").display = False
        if self.practice:
            for hidden in ("#skip-why", "#ack", "#ack-state"):
                self.query_one(hidden).display = False
        elif self.state.backup_acknowledged:
            self.query_one("#ack", Input).value = PHRASE
        if self.state.backup is not None:  # back from Review: the backup is taken already
            self._show_verified(self.state.backup)
        self._update_continue()
        self.query_one("#continue" if self.state.backup is not None else "#start", Button).focus()
        self._find_pg_dump()

    def _where(self, fmt: str = "custom") -> str:
        target = self.state.target
        name = paths.safe_name(target.database) if target else "database"
        extension = "dump" if fmt == "custom" else "sql"
        return (
            f"[b]Where:[/b] a new file, {escape(name)}-<date and time>.{extension}, in {escape(str(self.folder))}"
            " (a private folder: only you can read the file)."
        )

    @work(thread=True, exit_on_error=False, group="pg_dump", description="Finding pg_dump")
    def _find_pg_dump(self) -> None:
        try:
            major = self.state.connection().info.server_version // 10000
            choice = pgtools.choose("pg_dump", major)
        except Exception as error:  # said now; the backup explains it fully if started
            self.post_message(PgDumpChosen(f"[yellow]{escape(self.problem(error).what)}[/]"))
            return
        self.post_message(PgDumpChosen(tool_line(choice.reason)))

    def on_pg_dump_chosen(self, message: PgDumpChosen) -> None:
        self.query_one("#tool", Static).update(message.text)

    @on(RadioSet.Changed, "#format")
    def format_chosen(self) -> None:
        self.query_one("#where", Static).update(self._where(self._choices()[0]))

    def _choices(self) -> tuple[str, str | None]:
        fmt = "plain" if self.query_one("#plain", RadioButton).value else "custom"
        table = one_table(self.state) if self.query_one("#attachments", RadioButton).value else None
        return fmt, table

    # Taking the backup ------------------------------------------------------------------

    def action_start(self) -> None:
        self._start(prefer_bundled=False)

    def fix_use_bundled_pg_dump(self) -> None:
        """The knowledge base's way out of a broken pg_dump: the wizard's own."""
        self._start(prefer_bundled=True)

    def can_fix(self, action: str) -> bool:
        return self.phase != RUNNING and super().can_fix(action)

    def _start(self, *, prefer_bundled: bool) -> None:
        if self.phase == RUNNING:
            return
        self.phase = RUNNING
        self.cancel.clear()
        fmt, table = self._choices()
        self.query_one(ProblemBox).show(None)
        self.query_one("#result", Static).update("")
        self.query_one(BackupProgressView).reset()
        for widget in ("#what", "#format", "#ack"):
            self.query_one(widget).disabled = True
        self.query_one("#start").display = False
        self.query_one("#back").display = False
        cancel = self.query_one("#cancel", Button)
        cancel.display, cancel.disabled = True, False
        cancel.focus()
        self._update_continue()
        self.started = self.state.clock()
        self.timer = self.set_interval(0.5, self._tick)
        self._tick()
        self._backup(fmt, table, prefer_bundled)

    @work(thread=True, exclusive=True, exit_on_error=False, group="backup", description="Backing up")
    def _backup(self, fmt: str, table: str | None, prefer_bundled: bool) -> None:
        state = self.state

        def emit(event: Event) -> None:
            self.post_message(EngineEvent(event))

        try:
            choice = operations.BackupChoice(fmt=fmt, table=table, output=self.folder, prefer_bundled=prefer_bundled)
            # The migrate operation's backup step: its report (written by Migrate) names this file.
            result = operations.take_backup(workers.context(state), choice, emit, self.cancel)
        except Cancelled:
            self.post_message(BackupStopped(None))
            return
        except Exception as error:  # every failure is explained on screen, none crashes it
            self.post_message(BackupStopped(self.problem(error)))
            return
        state.backup = result
        self.post_message(BackupVerified(result))

    def on_engine_event(self, message: EngineEvent) -> None:
        view = self.query_one(BackupProgressView)
        event = message.event
        if isinstance(event, BackupStarted):
            view.started(event)
            self.query_one("#tool", Static).update(tool_line(event.reason))
        elif isinstance(event, BackupProgress):
            view.progress(event, self.redact(event.line))
        self._tick()

    def _tick(self) -> None:
        self.query_one(BackupProgressView).tick(self.state.clock() - self.started)

    def _stopped(self, phase: str) -> None:
        self.phase = phase
        if self.timer is not None:
            self.timer.stop()
        for widget in ("#what", "#format", "#ack"):
            self.query_one(widget).disabled = False
        self.query_one("#cancel").display = False
        self.query_one("#start").display = True
        self.query_one("#back").display = True
        self._update_continue()

    def on_backup_verified(self, message: BackupVerified) -> None:
        self._stopped(VERIFIED)
        self.query_one(BackupProgressView).finished(message.result.bytes, self.state.clock() - self.started)
        self._show_verified(message.result)
        self.query_one("#continue", Button).focus()

    def _show_verified(self, result: BackupResult) -> None:
        self.phase = VERIFIED
        self.query_one("#start", Button).label = "Back up again (B)"
        result_text = self.query_one("#result", Static)
        result_text.update(verified_text(result))
        self._reveal(result_text)

    def on_backup_stopped(self, message: BackupStopped) -> None:
        self._stopped(FAILED if message.problem else READY)
        start = self.query_one("#start", Button)
        if message.problem is None:
            start.label = "Back up now (B)"
            text = "[b yellow]Backup cancelled[/]: pg_dump was stopped and the partial file deleted."
        else:
            start.label = "Retry (B)"
            text = "[b red]The backup failed[/]: no file was left behind. Retry once the cause below is fixed."
            self.query_one(ProblemBox).show(message.problem)
        if self.state.backup is not None:
            text += f"\nThe backup verified before is still there: {escape(str(self.state.backup.path))}"
        result = self.query_one("#result", Static)
        result.update(text)
        start.focus()
        self.call_after_refresh(lambda: result.scroll_visible(animate=False))

    def _reveal(self, widget: Static) -> None:
        """Scroll the whole of `widget` into view once its new text is laid out: right after the
        next refresh it may still have its old height (one line), so look again a moment later."""
        self.call_after_refresh(lambda: widget.scroll_visible(animate=False))
        self.set_timer(0.1, lambda: widget.scroll_visible(animate=False))

    def action_cancel(self) -> None:
        if self.phase != RUNNING or self.cancel.is_set():
            return
        self.cancel.set()  # run_backup stops pg_dump and deletes the partial file
        self.query_one("#cancel", Button).disabled = True
        self.query_one("#result", Static).update("Cancelling: stopping pg_dump and deleting the partial file ...")

    def on_unmount(self) -> None:
        self.cancel.set()  # leaving (or quitting) during a backup stops pg_dump; no partial file stays

    # Skipping it, in so many words ------------------------------------------------------

    @on(Input.Changed, "#ack")
    def ack_typed(self, event: Input.Changed) -> None:
        said = acknowledged(event.value)
        self.state.backup_acknowledged = said
        note = self.query_one("#ack-state", Static)
        if said:
            note.update("[green]Noted[/]: the session report will say you have your own backup. Enter continues.")
        elif event.value.strip():
            note.update(f"To skip, type exactly: {PHRASE}")
        else:
            note.update("")
        self._update_continue()

    @on(Input.Submitted, "#ack")
    def ack_submitted(self) -> None:
        self.action_next()

    def _update_continue(self) -> None:
        self.query_one("#continue", Button).disabled = not self.can_continue
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.can_continue else None
        if action == "cancel":
            return self.phase == RUNNING
        if action in ("start", "back"):
            return self.phase != RUNNING
        return True

    def action_next(self) -> None:
        if self.can_continue:
            self.wizard.go("review")

    def action_back(self) -> None:
        if self.phase != RUNNING:
            self.wizard.go("preflight")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "start": self.action_start,
            "cancel": self.action_cancel,
            "continue": self.action_next,
            "back": self.action_back,
        }
        action = actions.get(event.button.id or "")
        if action is not None:
            action()
