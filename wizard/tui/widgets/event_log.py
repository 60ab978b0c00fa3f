"""The log of an operation's events on the Migrate, Rollback, Restore and Rehearse screens:
the same lines the headless commands print (core/event_lines.py), coloured by their tone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rich.markup import escape
from textual.widgets import RichLog

from wizard.core import event_lines
from wizard.core.events import Event, ReportWritten

_STYLE = {
    event_lines.OK: "green",
    event_lines.WARN: "b yellow",
    event_lines.ERROR: "b red",
    event_lines.NOTICE: "cyan",
    event_lines.HEAD: "b",
    event_lines.DIM: "dim",
}


def markup(line: event_lines.Line) -> str:
    """One line as Rich markup: a statement that ran gets a green tick, the rest its tone's style."""
    text = "  " * line.indent + escape(line.text)
    if line.tone == event_lines.OK and line.indent:  # the tick takes the indent's place
        return "  " * (line.indent - 1) + "[green]✓[/] " + escape(line.text)
    style = _STYLE.get(line.tone)
    return f"[{style}]{text}[/]" if style else text


class EventLog(RichLog):
    """A RichLog that shows operation events as they arrive."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=True, wrap=True, min_width=40)

    def show(self, event: Event, redact: Callable[[str], str]) -> None:
        """Add the event's lines; `redact` masks the password in what came from outside (a
        server's NOTICE, another session's query, a tool's output)."""
        if isinstance(event, ReportWritten):
            return  # each screen says where the report is in its outcome, once
        for line in event_lines.lines(event, self.scrollable_content_region.width or 80):
            # expand: wrap at the log's width, not the console's 80
            self.write(markup(replace(line, text=redact(line.text))), expand=True)
