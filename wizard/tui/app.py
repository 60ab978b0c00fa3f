"""The guided wizard: routing between the screens, and nothing else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from importlib import import_module
from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.messages import ExitApp
from textual.screen import Screen
from textual.widgets import Input, TextArea
from textual.worker import Worker

from wizard.tui.screens.confirm import ConfirmScreen
from wizard.tui.state import FlowState

# name -> (module, class): screens are imported when first shown, to keep start-up fast.
SCREENS_BY_NAME = {
    "welcome": ("wizard.tui.screens.welcome", "WelcomeScreen"),
    "connect": ("wizard.tui.screens.connect", "ConnectScreen"),
    "preflight": ("wizard.tui.screens.preflight", "PreflightScreen"),
    "backup": ("wizard.tui.screens.backup", "BackupScreen"),
    "review": ("wizard.tui.screens.review", "ReviewScreen"),
    "migrate": ("wizard.tui.screens.migrate", "MigrateScreen"),
    "verify": ("wizard.tui.screens.verify", "VerifyScreen"),
    "done": ("wizard.tui.screens.done", "DoneScreen"),
    "rollback": ("wizard.tui.screens.rollback", "RollbackScreen"),
    "rehearse": ("wizard.tui.screens.rehearse", "RehearseScreen"),
    "restore": ("wizard.tui.screens.restore", "RestoreScreen"),
}

# A cancelled statement stops and rolls back in well under a second; a server that does not
# answer the cancel in this long is unlikely to, and closing the connection rolls back too.
QUIT_WAIT = 8.0
# What quitting waits for, by operation: a rehearsal changed nothing on the server to roll back.
WAITING_FOR = {"rehearsal": "the local copy to be stopped and removed"}
QUIT_UNDOES = {"rehearsal": "its local copy removed: your database is not changed."}


class WizardApp(App[None]):
    TITLE = "migration-wizard"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    BINDINGS = [
        Binding("ctrl+q", "quit_safely", "Quit", priority=True),
        Binding("q", "quit_safely", "Quit", show=False),
        Binding("f1", "help", "Help", key_display="F1"),
        Binding("question_mark", "help", "Help", show=False),
    ]

    def __init__(self, state: FlowState, start: str = "welcome") -> None:
        super().__init__()
        self.state = state
        self.start = start
        self.busy = False  # a migration, rollback or restore is running: quitting asks first
        self.operation: Worker[None] | None = None  # its worker: a quit waits for it to finish
        self.operation_name = "migration"
        self.quitting = False

    def on_mount(self) -> None:
        self.push_screen(self.make(self.start))

    def make(self, name: str) -> Screen[None]:
        module, cls = SCREENS_BY_NAME[name]
        screen: Screen[None] = getattr(import_module(module), cls)()
        return screen

    def go(self, name: str) -> None:
        """Show step `name` in place of the current one."""
        self.switch_screen(self.make(name))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # q types a letter while a text field has focus; Ctrl+Q always quits.
        if action == "quit_safely" and isinstance(self.focused, Input | TextArea):
            return None if parameters == ("q",) else True
        return True

    def operation_started(self, worker: Worker[None], name: str) -> None:
        """A migration, rollback or restore (`name`) runs in `worker`: quitting asks first, then
        cancels it and waits for the server to roll it back. The screen clears `busy` when it ends."""
        self.busy, self.operation, self.operation_name = True, worker, name

    def action_quit_safely(self) -> None:
        if self.quitting:
            return
        if not self.busy:
            self.exit()
            return
        if isinstance(self.screen, ConfirmScreen):
            return  # the question is on screen already

        def answered(quit_now: bool | None) -> None:
            if quit_now:
                self.quit_after_rollback()

        self.push_screen(
            ConfirmScreen(
                f"A {self.operation_name} is running. Quit now? It will be cancelled and "
                + QUIT_UNDOES.get(self.operation_name, "rolled back: nothing will be changed."),
                yes="Cancel and quit",
                no="Keep running",
            ),
            answered,
        )

    @on(ExitApp)
    def exit_requested(self, message: ExitApp) -> None:
        """An exit the wizard did not ask for (a browser tab closed or reloaded under --web, whose
        driver posts ExitApp itself) leaves as a signal does: a running operation is cancelled
        and rolled back first. `exit()` sets `_exit` before it posts the same message; then, or
        with nothing running, Textual's own handler (called after this one) exits."""
        if not self._exit and self.busy:
            message.prevent_default()
            self.quit_on_signal()

    def quit_on_signal(self) -> None:
        """SIGTERM, or SIGHUP (the terminal closed): no one to ask; leave as a confirmed quit does."""
        if self.busy:
            self.quit_after_rollback()
        else:
            self.exit()

    def quit_after_rollback(self) -> None:
        """Cancel the running operation, stop its statement on the server, and exit once the
        transaction is rolled back and the operation has written its report."""
        if self.quitting:
            return
        self.quitting = True
        self.state.cancel.set()
        waiting = WAITING_FOR.get(self.operation_name, "the server to roll back")
        self.notify(
            f"Cancelling the {self.operation_name}: waiting for {waiting} ...",
            title="Quitting",
            timeout=QUIT_WAIT + 2,
        )
        self._quit_when_stopped()

    @work(exclusive=True, group="quit", description="Waiting for the rollback before quitting")
    async def _quit_when_stopped(self) -> None:
        from wizard.tui import workers  # with the core behind it: imported when first needed

        state = self.state
        # cancel_safe waits for the server's answer: in a thread, so that the screen keeps drawing.
        self.run_worker(lambda: workers.interrupt(state), thread=True, group="interrupt", exit_on_error=False)
        operation, deadline = self.operation, time.monotonic() + QUIT_WAIT
        while operation is not None and not operation.is_finished and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if operation is None or operation.is_finished:
            self.exit()
        else:
            self.exit(
                message=f"Quit before the server confirmed that the {self.operation_name} had stopped: the server"
                " rolls back its open transaction when the connection closes."
            )

    def action_help(self, initial: str | None = None) -> None:
        """The troubleshooting panel; an action chosen there is carried out by the screen below."""
        from wizard.tui.screens.troubleshoot import TroubleshootScreen  # imported when first opened

        if isinstance(self.screen, TroubleshootScreen):
            return
        below = self.screen
        can_fix = getattr(below, "can_fix", None)
        run_fix = getattr(below, "run_fix", None)

        def chosen(action: str | None) -> None:
            if action and callable(run_fix):
                run_fix(action)

        panel = TroubleshootScreen(
            self.state.last_problem, can_fix=can_fix if callable(can_fix) else lambda _a: False, initial=initial
        )
        self.push_screen(panel, chosen)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Troubleshooting", "The latest error, explain a message, known problems (F1)", self.action_help
        )
        for binding in screen.BINDINGS:
            # An action the screen turns off (check_action False) is not on offer here either.
            if (
                isinstance(binding, Binding)
                and binding.description
                and screen.check_action(binding.action.partition("(")[0], ()) is not False
            ):
                action = binding.action
                yield SystemCommand(
                    binding.description,
                    f"{binding.description} on this screen ({binding.key})",
                    lambda a=action: self.run_action(a, screen),
                )

    def on_unmount(self) -> None:
        self.state.close()
