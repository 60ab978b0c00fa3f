"""Step 0: what will happen, how long it takes, and that nothing changes until you confirm."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from wizard.core.errors import InputError
from wizard.core.expectations import Expectations, read_folder
from wizard.tui.screens.base import FlowScreen
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.steps import StepIndicator

# The text is written in markup for a Static: a Markdown widget (one child widget per block,
# each with its styles) costs ~100 ms on the way to this first screen.
STEPS = """\
This wizard changes your database's schema, step by step, and tells you what it is about to do \
[b]before[/b] it does it:

  1. [b]Connect[/b] to your database (paste the [b]DATABASE_URL[/b] from the Neon console).
  2. [b]Check[/b] that the migration can run: privileges, server version, busy tables.
  3. [b]Backup[/b] so that you can always go back.
  4. [b]Review[/b] every SQL statement, explained in plain words, with its impact on your users.
  5. [b]Migrate[/b]: one transaction, all of it or none of it; big index builds follow online.
  6. [b]Verify[/b] the result with the checklist from the migration guide.

It takes about 5 minutes. [b]Nothing changes until you confirm on the Review step.[/b]
"""

PRACTICE = """\
You are on the [b]practice database[/b]: an embedded PostgreSQL on this computer with the \
application's tables and sample rows. Nothing real can break; try everything.
"""


def intro(expectations: list[Expectations]) -> str:
    """The heading names the newest migration in the folder (its TOML's wording.headline): the
    one a database is most likely waiting for; earlier ones are said to come along if missing."""
    migrations = [e for e in expectations if not e.baseline]
    if not migrations:
        return "[b $accent]Schema migration[/]\n\n" + STEPS
    newest = migrations[-1]
    text = f"[b $accent]{escape(newest.wording.headline)}[/]\n\n"
    if len(migrations) > 1:
        text += (
            f"It brings your database up to migration {escape(newest.version)}, with any earlier one it does"
            " not have yet (the Review step lists them).\n\n"
        )
    return text + STEPS


REAL = """\
Not ready to touch a real database? Choose [b]Practice[/b] to try the whole flow on an \
embedded PostgreSQL first.
"""


class WelcomeScreen(FlowScreen):
    # Each key is in its button's label: the footer keeps room for F1 and quit at 80 columns.
    BINDINGS = [
        Binding("enter", "start", "Start", priority=True, show=False),
        Binding("p", "practice", "Practice", show=False),
        Binding("v", "verify", "Verify only", show=False),
        Binding("r", "rollback", "Roll back", show=False),
        Binding("b", "restore", "Restore a backup", show=False),
        Binding("e", "explain", "Explain an error", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield StepIndicator(None)
        with VerticalScroll(id="body"):
            text = intro(self._expectations()) + "\n" + (PRACTICE if self.state.practice else REAL)
            yield Static(text, id="intro")
        with Horizontal(classes="buttons"):
            yield Button("Start (Enter)", id="start", variant="primary")
            if not self.state.practice:
                yield Button("Practice (P)", id="practice")
            yield Button("Verify only (V)", id="verify")
        with Horizontal(classes="buttons", id="more"):
            yield Button("Roll back (R)", id="rollback")
            yield Button("Restore a backup (B)", id="restore")
            yield Button("Explain an error (E)", id="explain")
        yield KeysFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # On the practice database already: P would only start the same flow again.
        return not (action == "practice" and self.state.practice)

    def _expectations(self) -> list[Expectations]:
        try:
            return read_folder(self.state.migrations_dir)
        except InputError:
            return []  # the steps that load the migrations say what is wrong with the folder

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "start": self.action_start,
            "practice": self.action_practice,
            "verify": self.action_verify,
            "rollback": self.action_rollback,
            "restore": self.action_restore,
            "explain": self.action_explain,
        }
        actions[event.button.id or "start"]()

    def _connect_then(self, *, verify: bool = False, rollback: bool = False, restore: bool = False) -> None:
        """Connect, then the whole flow, or only Verify, Roll back or Restore."""
        state = self.state
        state.verify_only, state.rollback_only, state.restore_only = verify, rollback, restore
        self.wizard.go("connect")

    def action_start(self) -> None:
        self._connect_then()

    def action_practice(self) -> None:
        self.state.practice = True
        self._connect_then()

    def action_verify(self) -> None:
        self._connect_then(verify=True)

    def action_rollback(self) -> None:
        self._connect_then(rollback=True)

    def action_restore(self) -> None:
        """Put the database back from a backup file: Connect first, then the Restore screen."""
        self._connect_then(restore=True)

    def action_explain(self) -> None:
        """The troubleshooting panel, on its tab for pasting an error message."""
        self.wizard.action_help("explain")
