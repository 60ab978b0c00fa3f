"""The troubleshooting panel (F1 or ? on any screen), built on the knowledge base (doctor).

Three tabs: the latest error with its cause, fix steps and the fixes the wizard can carry
out on the current screen (as buttons); a box to paste any error text, answered as
`migration-wizard doctor` answers it (at once on a paste, or on Enter); and every known
problem, searchable by words or SQLSTATE. With no error yet, it opens on the paste box.
The panel returns the action the user chose (or None), and the app asks the screen
underneath to carry it out.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static, TabbedContent, TabPane, TextArea
from textual.widgets.option_list import Option

from wizard.core.diagnosis_lines import capital, summary
from wizard.core.doctor import Diagnosis, Rule, diagnose, find_rules, redact_message, rule_by_id
from wizard.tui.problems import Problem
from wizard.tui.widgets.footer import KeysFooter
from wizard.tui.widgets.problem_box import action_button_label, diagnosis_markup

LATEST, EXPLAIN, KNOWN = "latest", "explain", "known"
NO_ERROR = (
    "No error so far in this session. When a step fails, its error is shown here with its cause"
    " and what to do. To understand a message from elsewhere (your app's log, psql, pg_dump),"
    " paste it in the next tab."
)


def rule_markup(rule: Rule) -> str:
    lines = [f"[b]{escape(rule.title[0].upper() + rule.title[1:])}[/]", escape(rule.cause), "[b]What to do:[/]"]
    lines += [f"  {number}. {escape(step)}" for number, step in enumerate(rule.fix, 1)]
    codes = f"SQLSTATE {', '.join(rule.sqlstates)}  ·  " if rule.sqlstates else ""
    lines.append(f"[dim]{codes}rule {escape(rule.id)}[/]")
    if rule.doc:
        lines.append(f"[dim]More: {escape(rule.doc)}[/]")
    return "\n".join(lines)


class PasteBox(TextArea):
    """The box for an error message. Enter explains it: a pasted message keeps its own line
    breaks (a paste is not typed key by key), so Enter is free to mean "explain"."""

    BINDINGS = [Binding("enter", "screen.explain", "Explain", priority=True)]


def _title(found: Diagnosis) -> str:
    """The heading: the title, or "Probably: X. If not: Y." for an answer that is not sure."""
    return summary(found) if found.confidence == "medium" else capital(found.title)


class TroubleshootScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape,f1", "dismiss_panel", "Close", key_display="Esc/F1"),
        # The app's Ctrl+Q works here too; a modal's footer shows only the modal's own keys.
        Binding("ctrl+q", "app.quit_safely", "Quit", priority=True),
    ]
    DEFAULT_CSS = """
    TroubleshootScreen { align: center middle; }
    TroubleshootScreen #troubleshoot-panel {
        width: 94%; max-width: 110; height: 92%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    TroubleshootScreen TabbedContent { height: 1fr; }
    TroubleshootScreen TabPane { padding: 0 1; }
    TroubleshootScreen .pane-body { height: 1fr; }
    TroubleshootScreen #latest-actions, TroubleshootScreen #explain-buttons { height: auto; }
    TroubleshootScreen #latest-actions Button, TroubleshootScreen #explain-buttons Button { margin: 1 2 0 0; }
    TroubleshootScreen #paste { height: 5; }
    TroubleshootScreen #rules { height: 1fr; min-height: 4; }
    TroubleshootScreen #rule-detail { height: auto; max-height: 50%; }
    TroubleshootScreen #close-row { height: auto; align-horizontal: right; }
    """

    def __init__(
        self,
        problem: Problem | None,
        *,
        can_fix: Callable[[str], bool] = lambda _action: False,
        initial: str | None = None,
    ) -> None:
        super().__init__()
        self.problem = problem
        self.actions = [problem.action] if problem and problem.action and can_fix(problem.action) else []
        # With no error to show, what a user most likely came for: explaining a message of their own.
        self.initial = initial or (LATEST if problem else EXPLAIN)

    def compose(self) -> ComposeResult:
        with Vertical(id="troubleshoot-panel"):
            with TabbedContent(initial=self.initial):
                with TabPane("Latest error", id=LATEST), VerticalScroll(classes="pane-body"):
                    yield Static(self._latest(), id="latest-text")
                    with Horizontal(id="latest-actions"):
                        for action in self.actions:
                            yield Button(action_button_label(action), id=f"do-{action}", variant="warning")
                with TabPane("Explain a message", id=EXPLAIN):
                    yield Static("Paste an error message (passwords are hidden in the answer):", classes="hint")
                    yield PasteBox(id="paste", soft_wrap=True, show_line_numbers=False)
                    with Horizontal(id="explain-buttons"):
                        yield Button("Explain", id="explain-now", variant="primary")
                    with VerticalScroll(classes="pane-body"):
                        yield Static("", id="answer")
                with TabPane("All known problems", id=KNOWN):
                    yield Input(placeholder="Search by words or SQLSTATE (e.g. password, lock, 28P01)", id="search")
                    yield OptionList(id="rules")
                    with VerticalScroll(id="rule-detail"):
                        yield Static("", id="rule-text")
            with Horizontal(id="close-row"):
                yield Button("Close (Esc)", id="close")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._search("")
        focus = {LATEST: "#close", EXPLAIN: "#paste", KNOWN: "#search"}[self.initial]
        if self.initial == LATEST and self.actions:
            focus = f"#do-{self.actions[0]}"
        self.query_one(focus).focus()

    def _latest(self) -> str:
        problem = self.problem
        if problem is None:
            return escape(NO_ERROR)
        where = f"[dim]On the {escape(problem.step)} step.[/]\n" if problem.step else ""
        heading = f"[b]{escape(_title(problem.diagnosis))}[/]\n" if problem.diagnosis.id else ""
        note = ""
        if problem.action and not self.actions:
            label = escape(problem.diagnosis.action_label or "")
            note = f"\n[dim]The wizard can {label} for you on the step where it happened.[/]"
        return where + heading + diagnosis_markup(problem.diagnosis, problem.what) + note

    # --- explain a pasted message ------------------------------------------------------

    def key_ctrl_enter(self) -> None:
        if self.query_one("#paste", TextArea).has_focus:
            self._explain()

    def action_explain(self) -> None:
        self._explain()

    @on(events.Paste)
    def pasted(self, event: events.Paste) -> None:
        """A paste on the Explain tab is answered at once. It bubbles up here from the paste box,
        which has inserted it already; from anywhere else on the tab, it is meant for the box."""
        if self.query_one(TabbedContent).active != EXPLAIN:
            return
        event.stop()
        box = self.query_one(PasteBox)
        if not box.has_focus:
            box.text = event.text
            box.focus()
        self.call_after_refresh(self._explain)

    def _explain(self) -> None:
        text = self.query_one("#paste", TextArea).text
        answer = self.query_one("#answer", Static)
        if not text.strip():
            answer.update("Paste the error text above first.")
            return
        found = diagnose(text)
        rule = f"  [dim](rule {escape(found.id)})[/]" if found.matched and found.id else ""
        lines = [f"[b]{escape(_title(found))}[/]" + rule, diagnosis_markup(found)]
        answer.update("\n".join(lines))

    # --- every known problem -----------------------------------------------------------

    @on(Input.Changed, "#search")
    def searched(self, event: Input.Changed) -> None:
        self._search(event.value)

    def _search(self, query: str) -> None:
        rules = find_rules(query)
        options = self.query_one("#rules", OptionList)
        options.clear_options()
        options.add_options(
            Option(
                f"{escape(r.title[0].upper() + r.title[1:])}"
                + (f"  [dim]{escape(' '.join(r.sqlstates))}[/]" if r.sqlstates else ""),
                id=r.id,
            )
            for r in rules
        )
        if rules:
            options.highlighted = 0
            self.query_one("#rule-text", Static).update(rule_markup(rules[0]))
        else:
            shown = escape(redact_message(query.strip()))
            self.query_one("#rule-text", Static).update(
                f"No known problem matches [b]{shown}[/]. Try fewer words, or paste the whole message"
                " in the Explain tab."
            )

    @on(OptionList.OptionHighlighted, "#rules")
    def highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.query_one("#rule-text", Static).update(rule_markup(rule_by_id(event.option.id)))

    @on(Input.Submitted, "#search")
    def to_list(self) -> None:
        self.query_one("#rules", OptionList).focus()

    # --- buttons -----------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id or ""
        if button == "explain-now":
            self._explain()
        elif button.startswith("do-"):
            self.dismiss(button[3:])
        else:
            self.dismiss(None)

    def action_dismiss_panel(self) -> None:
        self.dismiss(None)
