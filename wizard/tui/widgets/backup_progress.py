"""A running pg_dump, as the user follows it: the file, a bar estimated from the tables
dumped so far, bytes written, elapsed time, and pg_dump's own lines."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, RichLog, Static

from wizard.core.events import BackupProgress, BackupStarted
from wizard.core.units import human_size

DUMPING = "dumping contents of table"


def tool_line(reason: str) -> str:
    """Which pg_dump runs, and why that one (markup); the reason names its version."""
    return f"[b]Which pg_dump:[/b] {escape(reason)}."


class BackupProgressView(Vertical):
    """Hidden until a backup starts; the screen feeds it the core's backup events."""

    DEFAULT_CSS = """
    BackupProgressView { height: auto; display: none; }
    BackupProgressView.-shown { display: block; }
    BackupProgressView #backup-file { height: auto; margin: 1 0 0 0; }
    BackupProgressView #backup-bar-row { height: 1; margin: 1 0 0 0; }
    BackupProgressView #backup-bar { width: auto; }
    BackupProgressView #backup-stats { width: 1fr; margin-left: 2; }
    BackupProgressView RichLog { height: 8; margin-top: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tables_done = 0
        self.tables_total = 0
        self.bytes_written = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="backup-file")
        with Horizontal(id="backup-bar-row"):
            yield ProgressBar(id="backup-bar", show_eta=False)
            yield Static("", id="backup-stats")
        yield RichLog(id="backup-log", markup=True, wrap=True, min_width=40)

    def reset(self) -> None:
        self.tables_done, self.tables_total, self.bytes_written = 0, 0, 0
        self.query_one(RichLog).clear()
        self.query_one("#backup-bar", ProgressBar).update(total=None, progress=0)
        self.query_one("#backup-file", Static).update("Starting pg_dump ...")
        self.add_class("-shown")

    def started(self, event: BackupStarted) -> None:
        self.tables_total = event.tables
        self.query_one("#backup-file", Static).update(f"Writing [b]{escape(event.path)}[/b]")
        self.query_one("#backup-bar", ProgressBar).update(total=max(event.tables, 1), progress=0)

    def progress(self, event: BackupProgress, line: str) -> None:
        """`line` is the event's line, passwords removed by the screen."""
        self.tables_done, self.bytes_written = event.tables_done, event.bytes_written
        self.query_one("#backup-bar", ProgressBar).update(progress=event.tables_done)
        text = line.removeprefix("pg_dump: ")
        style = "" if DUMPING in text else "dim"
        self.query_one(RichLog).write(f"[{style}]{escape(text)}[/]" if style else escape(text))

    def tick(self, seconds: float) -> None:
        table = f"table {self.tables_done} of {self.tables_total}" if self.tables_total else "starting"
        self.query_one("#backup-stats", Static).update(
            f"{table}  ·  {human_size(self.bytes_written)} written  ·  {seconds:.1f} s"
        )

    def finished(self, total_bytes: int, seconds: float) -> None:
        self.bytes_written = total_bytes
        self.tables_done = self.tables_total
        bar = self.query_one("#backup-bar", ProgressBar)
        bar.update(total=max(self.tables_total, 1), progress=max(self.tables_total, 1))
        self.tick(seconds)
