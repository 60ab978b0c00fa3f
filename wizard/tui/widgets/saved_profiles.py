"""Saved connections on the Connect screen: pick one (its URL comes from the OS keyring),
forget one, or remember the connection just tested."""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from wizard.core import profiles
from wizard.core.doctor import explain
from wizard.core.errors import WizardError
from wizard.tui.problems import problem_from
from wizard.tui.screens.confirm import ConfirmScreen
from wizard.tui.state import FlowState


class SavedProfiles(Vertical):
    """The list of saved connections, and the "Remember this connection" row."""

    DEFAULT_CSS = """
    SavedProfiles { height: auto; padding: 0 2; }
    SavedProfiles OptionList { height: auto; max-height: 6; }
    SavedProfiles #remember-row { height: auto; display: none; }
    SavedProfiles #remember-row Input { width: 30; }
    """
    BINDINGS = [Binding("delete", "forget", "Forget")]

    @dataclass
    class Chosen(Message):
        """A saved connection was picked; its URL was read from the keyring."""

        name: str
        url: str

    @dataclass
    class Problem(Message):
        text: str

    @dataclass
    class Saved(Message):
        name: str

    def compose(self) -> ComposeResult:
        yield Static("Saved connections (Enter uses one, Delete forgets it):", classes="hint")
        yield OptionList(id="profiles")
        yield Static("", id="profiles-status", classes="hint")
        with Horizontal(id="remember-row"):
            yield Input(placeholder="name", id="profile-name")
            yield Button("Remember this connection (Ctrl+S)", id="remember")

    def on_mount(self) -> None:
        self.refresh_list()

    def refresh_list(self) -> None:
        options = self.query_one("#profiles", OptionList)
        options.clear_options()
        try:
            found = profiles.list_profiles()
        except WizardError as error:
            self._status(self._explained(error))
            return
        for p in found:
            options.add_option(Option(f"{p.name}  ({p.user}@{p.host}/{p.database})", id=p.name))
        options.display = bool(found)
        self._status("" if found else "None yet: after a successful test you can remember the connection here.")

    def _explained(self, error: WizardError) -> str:
        """The error and the knowledge base's fix, in one status line; kept for F1 too."""
        state = getattr(self.app, "state", None)
        if isinstance(state, FlowState):
            problem = problem_from(state, error, "Connect")
            return " ".join((problem.what, *problem.fix))
        return " ".join((error.message, *explain(error).fix))

    def _status(self, text: str) -> None:
        self.query_one("#profiles-status", Static).update(escape(text))

    def offer_to_remember(self, suggested_name: str) -> None:
        self.query_one("#remember-row").display = True
        self.query_one("#profile-name", Input).value = suggested_name

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self._status(f"Reading {event.option.id!r} from the OS keyring ...")
            self._load(event.option.id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="profiles", description="Reading the keyring")
    def _load(self, name: str) -> None:
        try:
            url = profiles.get_url(name)
        except WizardError as error:
            self.post_message(self.Problem(self._explained(error)))
            return
        self.post_message(self.Chosen(name, url))

    def remember(self, url: str) -> None:
        name = self.query_one("#profile-name", Input).value.strip()
        self._status(f"Saving {name!r} in the OS keyring ...")
        self._save(name, url)

    @work(thread=True, exclusive=True, exit_on_error=False, group="profiles", description="Saving to the keyring")
    def _save(self, name: str, url: str) -> None:
        try:
            profiles.save(name, url)
        except WizardError as error:
            self.post_message(self.Problem(self._explained(error)))
            return
        self.post_message(self.Saved(name))

    def on_saved_profiles_problem(self, message: Problem) -> None:
        self._status(message.text)

    def on_saved_profiles_saved(self, message: Saved) -> None:
        self.refresh_list()
        self._status(f"Remembered as {message.name!r}: next time, pick it here instead of pasting the URL.")

    def action_forget(self) -> None:
        options = self.query_one("#profiles", OptionList)
        if options.highlighted is None:
            return
        name = options.get_option_at_index(options.highlighted).id
        if not name:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._forget(name)

        self.app.push_screen(
            ConfirmScreen(f"Forget the saved connection {name!r}? Its URL is removed from the OS keyring."),
            answered,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="profiles", description="Forgetting")
    def _forget(self, name: str) -> None:
        try:
            profiles.forget(name)
        except WizardError as error:
            self.post_message(self.Problem(self._explained(error)))
            return
        self.app.call_from_thread(self.refresh_list)
