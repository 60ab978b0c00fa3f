"""The footer of every screen: help (F1) and quit first, so that a narrow terminal cuts a
screen's own keys, never the two a lost user needs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Actions by name, in the order shown, ahead of the screen's own keys ("app.quit_safely" is the
# same action bound on a modal screen, whose footer shows only its own bindings).
FIRST = ("help", "dismiss_panel", "quit_safely")


def _rank(widget: object) -> int:
    if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
        action = widget.action.rpartition(".")[2]
        if action in FIRST:
            return FIRST.index(action)
    return len(FIRST)


class KeysFooter(Footer):
    """Textual's Footer with F1 (help) and Ctrl+Q (quit) on the left, then the screen's keys.

    Textual lists the focused widget's bindings, then the screen's, then the app's, so the
    app's F1 and quit came last and were the first to go at 80 or 100 columns."""

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        yield from sorted(keys, key=_rank)  # stable: the screen's keys keep their order
