"""Where a headless operation's events go: lines for a person, or, with --json, one JSON
object per line on stdout (each event, then `{"event": "result", ...}`) with the human
text on stderr, so that a script reads stdout line by line and a person still sees stderr."""

from __future__ import annotations

import json
from typing import Any

from wizard.cli.output import Printer
from wizard.core import event_lines
from wizard.core.events import Event, ReportWritten, to_json

# The commands whose --json is JSON lines (the others print one JSON document).
JSON_LINES_COMMANDS = frozenset({"migrate", "rollback", "backup", "restore", "rehearse"})


class Stream:
    """An Emit for the operations, and the one place a command's output shape is decided."""

    def __init__(self, printer: Printer, json_lines: bool) -> None:
        self.printer = printer
        self.json_lines = json_lines
        self.report: str | None = None
        self.result_written = False
        printer.stream = self

    def __call__(self, event: Event) -> None:
        if isinstance(event, ReportWritten):
            self.report = event.path
        if self.json_lines:
            self.printer.out(json.dumps(to_json(event), default=str))
            return
        for line in event_lines.lines(event):
            mark = f"{self.printer.ok_mark} " if line.tone == event_lines.OK and line.indent else ""
            self.printer.out("  " * line.indent + mark + line.text)

    def say(self, text: str = "") -> None:
        """Human text: stdout, or stderr when stdout carries JSON lines."""
        if self.json_lines:
            self.printer.err(text)
        else:
            self.printer.out(text)

    def result(self, ok: bool, exit_code: int, **fields: Any) -> int:
        """The last JSON line (with --json); returns the exit status."""
        if self.json_lines and not self.result_written:
            line = {"event": "result", "ok": ok, "exit": exit_code, "report": self.report, **fields}
            self.printer.out(json.dumps(line, default=str))
            self.result_written = True
        return exit_code
