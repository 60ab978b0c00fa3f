"""Step 1: paste a DATABASE_URL (or start the practice database) and test the connection."""

from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, LoadingIndicator, Static

from wizard.core.connection import Target, parse_url
from wizard.core.doctor import explain
from wizard.core.errors import InputError
from wizard.core.paste import WHITESPACE, Cleaned, EncodedPassword, clean_paste, encode_password, sslmode_require_url
from wizard.core.redaction import redact, secrets_in
from wizard.tui import workers
from wizard.tui.messages import Connected, ConnectFailed, ConnectSlow
from wizard.tui.problems import Problem
from wizard.tui.screens.base import FlowScreen
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.problem_box import ProblemBox
from wizard.tui.widgets.saved_profiles import SavedProfiles
from wizard.tui.widgets.steps import StepIndicator

EXPLAIN = (
    "Paste your database URL (Neon console: Dashboard > Connect). It may include quotes,"
    " DATABASE_URL= or the psql '...' wrapper: they are removed. Nothing is changed on this step."
)
PRACTICE = (
    "The practice database is an embedded PostgreSQL on this computer, with the application's"
    " tables and a few hundred sample rows. Nothing real can break."
)


class ConnectScreen(FlowScreen):
    STEP = "Connect"
    BINDINGS = [
        Binding("ctrl+t", "test", "Test connection", priority=True),
        Binding("ctrl+e", "encode", "Encode password", show=False, priority=True),
        Binding("ctrl+d", "direct", "Use direct host", show=False, priority=True),
        # Its button, "Remember this connection (Ctrl+S)", appears once connected.
        Binding("ctrl+s", "remember", "Remember connection", show=False, priority=True),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.parsed: Target | None = None
        self.encoded: EncodedPassword | None = None
        self.cleaned: Cleaned | None = None  # the last paste that was cleaned, to say what was removed
        self.tested = ""  # the URL the last test (and the error on screen, if any) was about

    def compose(self) -> ComposeResult:
        yield StepIndicator(self.STEP)
        with VerticalScroll(id="body"):
            if self.state.practice:
                yield Static(PRACTICE, classes="hint")
            else:
                yield Static(EXPLAIN, classes="hint")
                yield Input(
                    placeholder="postgresql://user:password@host/database?sslmode=require", password=True, id="url"
                )
                yield Static("", id="shown-back")
                yield Static("", id="problem", classes="error")
                yield ProblemBox(id="failure")
                with Horizontal(classes="buttons", id="fixes"):
                    yield Button("Use the encoded password (Ctrl+E)", id="encode")
                    yield Button("Use the direct host (Ctrl+D)", id="direct")
                yield Static("", id="notes", classes="hint")
            if not self.state.practice:
                yield SavedProfiles(id="saved")
            if self.state.practice:
                yield ProblemBox(id="failure")
            yield LoadingIndicator(id="spinner")
            yield Static("", id="result")
        with Horizontal(classes="buttons"):
            label = "Start the practice database" if self.state.practice else "Test connection"
            yield Button(label, id="test", variant="primary")
            yield Button("Continue", id="continue", variant="success", disabled=True)
            yield Button("Back", id="back")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#spinner").display = False
        if self.state.practice:
            self.query_one("#test", Button).focus()
        else:
            self.query_one("#encode").display = False
            self.query_one("#direct").display = False
            url = self.query_one("#url", Input)
            self.cleaned = clean_paste(self.state.initial_url)
            url.value = self.cleaned.url
            url.focus()
            self._validate(url.value)
        only = self.state.verify_only or self.state.rollback_only or self.state.restore_only
        if only and (self.state.practice or self.parsed):
            self.action_test()

    @on(Input.Changed, "#url")
    def url_changed(self, event: Input.Changed) -> None:
        cleaned = clean_paste(event.value)
        # Whitespace alone is left while typing (a key=value string needs its spaces); parse_url drops it.
        if cleaned.removed and cleaned.removed != (WHITESPACE,):
            self.cleaned = cleaned
            event.input.value = cleaned.url  # a paste with quotes or a wrapper: keep the URL only
            return
        self._validate(event.value)

    @on(Input.Submitted, "#url")
    def url_submitted(self) -> None:
        self.action_test()

    @on(Input.Submitted, "#profile-name")
    def name_submitted(self) -> None:
        self.action_remember()

    def _validate(self, text: str) -> None:
        problem = self.query_one("#problem", Static)
        shown = self.query_one("#shown-back", Static)
        self.encoded = encode_password(text)
        self.query_one("#encode").display = self.encoded is not None
        self.parsed = None
        if text != self.tested:
            self._forget_failure()
        if not text.strip():
            shown.update("")
            problem.update("")
            self._show_notes(None)
            return
        try:
            self.parsed = parse_url(text)
        except InputError as error:
            shown.update("")
            found = explain(error)
            # parse_url hides the password already; its error about this very text, masked once more.
            problem.update(escape(redact(f"{error.message} {' '.join(found.fix)}".strip(), secrets_in(text))))
            self._show_notes(None)
            return
        problem.update("")
        shown.update(f"Will connect to: {self.parsed.describe()}")
        self._show_notes(self.parsed)

    def _forget_failure(self) -> None:
        """The URL changed (typed, Use the direct host, a saved connection): an error about the
        one tested before no longer applies, and would read as if it were about the new one."""
        box = self.query_one(ProblemBox)
        if box.problem is not None:
            box.show(None)
            self.query_one("#result", Static).update("")

    def _show_notes(self, target: Target | None) -> None:
        notes = list(target.notes) if target else []
        # Before connecting, as headless says it on stderr: an unencrypted connection to another computer.
        notes += [f"[b yellow]Warning:[/] {escape(warning)}" for warning in (target.warnings if target else ())]
        cleaned = self.cleaned
        if cleaned and cleaned.removed and cleaned.url == self.query_one("#url", Input).value:
            notes.insert(0, cleaned.note[:1].upper() + cleaned.note[1:] + ".")
        direct = self.query_one("#direct")
        direct.display = bool(target and target.is_pooler)
        if target and target.is_pooler:
            notes.append(target.pooler_advice)
        self.query_one("#notes", Static).update("\n".join(notes))

    def action_encode(self) -> None:
        if self.encoded:
            self.query_one("#url", Input).value = self.encoded.url

    def action_direct(self) -> None:
        if self.parsed and self.parsed.direct_url:
            self.query_one("#url", Input).value = self.parsed.direct_url

    def action_back(self) -> None:
        self.wizard.go("welcome")

    def on_saved_profiles_chosen(self, message: SavedProfiles.Chosen) -> None:
        self.query_one("#url", Input).value = message.url
        self._validate(message.url)  # now, not when the Changed message arrives
        self.action_test()

    def action_remember(self) -> None:
        if self.state.conn is not None and self.parsed is not None:
            self.query_one(SavedProfiles).remember(self.query_one("#url", Input).value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "remember": self.action_remember,
            "test": self.action_test,
            "continue": self.action_continue,
            "back": self.action_back,
            "encode": self.action_encode,
            "direct": self.action_direct,
        }
        actions[event.button.id or "test"]()

    def action_test(self) -> None:
        self.tested = self._url()
        if not self.state.practice and self.parsed is None:
            url = self.query_one("#url", Input).value
            if not url:
                self.query_one("#problem", Static).update("Paste the database URL first.")
            else:
                try:
                    parse_url(url)
                except InputError as error:  # the whole explanation, with what the wizard can do
                    self.query_one("#problem", Static).update("")
                    self._show_problem(self.problem(error))
            return
        self.query_one(ProblemBox).show(None)
        self.query_one("#spinner").display = True
        self.query_one("#test", Button).disabled = True
        self.query_one("#continue", Button).disabled = True
        waiting = "Starting the practice database ..." if self.state.practice else "Connecting ..."
        self.query_one("#result", Static).update(waiting)
        url = "" if self.state.practice else self.query_one("#url", Input).value
        self._connect(url)

    @work(thread=True, exclusive=True, exit_on_error=False, group="connect", description="Connecting")
    def _connect(self, url: str) -> None:
        workers.connect(self.state, url, self.post_message)

    def on_connect_slow(self, _message: ConnectSlow) -> None:
        self.query_one("#result", Static).update(
            "No answer yet: a suspended Neon compute takes a few seconds to wake. Still trying ..."
        )

    def on_connect_failed(self, message: ConnectFailed) -> None:
        self._done_waiting()
        self.query_one("#result", Static).update("")
        self._show_problem(message.problem)

    def _show_problem(self, problem: Problem) -> None:
        self.query_one(ProblemBox).show(problem)
        # The box offers its own button for the fix: the same one above would be a second way.
        for action, button in (("percent_encode_password", "#encode"), ("switch_to_direct_host", "#direct")):
            if problem.action == action and self.can_fix(action):
                self.query_one(button).display = False

    # What the troubleshooting rules' actions do here: mend the URL, then test again.
    def _url(self) -> str:
        return "" if self.state.practice else self.query_one("#url", Input).value

    def can_fix(self, action: str) -> bool:
        if self.state.practice:
            return False
        url = self._url()
        if action == "percent_encode_password":
            return encode_password(url) is not None
        if action == "switch_to_direct_host":
            return bool(self.parsed and self.parsed.direct_url)
        if action == "add_sslmode_require":
            return sslmode_require_url(url) is not None
        return False

    def run_fix(self, action: str) -> None:
        url = self._url()
        encoded = encode_password(url)
        mended = {
            "percent_encode_password": encoded.url if encoded else None,
            "add_sslmode_require": sslmode_require_url(url),
            "switch_to_direct_host": self.parsed.direct_url if self.parsed else None,
        }.get(action)
        if not mended or not self.can_fix(action):
            return
        field = self.query_one("#url", Input)
        field.value = mended
        self._validate(mended)  # now, not when the Changed message arrives
        self.action_test()

    def on_connected(self, message: Connected) -> None:
        self._done_waiting()
        target = self.state.target
        assert target is not None
        self.query_one("#result", Static).update(
            f"[b green]Connected[/] in {message.seconds:.1f} s: PostgreSQL {message.server_version},"
            f" {escape(target.describe())}."
        )
        button = self.query_one("#continue", Button)
        button.disabled = False
        button.focus()
        if not self.state.practice:
            self.query_one(SavedProfiles).offer_to_remember(target.database)
        if self.state.verify_only or self.state.rollback_only or self.state.restore_only:
            self.action_continue()

    def _done_waiting(self) -> None:
        self.query_one("#spinner").display = False
        self.query_one("#test", Button).disabled = False

    def action_continue(self) -> None:
        if self.state.conn is None:
            return
        if self.state.rollback_only:
            self.wizard.go("rollback")
        elif self.state.restore_only:
            self.wizard.go("restore")
        else:
            self.wizard.go("verify" if self.state.verify_only else "preflight")
