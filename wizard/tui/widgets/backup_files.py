"""Choosing a backup file: the wizard's own backups, newest first, or any path typed in."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from wizard.core.dumpfile import SUFFIXES
from wizard.core.units import human_size


def backup_files(folder: Path) -> list[Path]:
    """The backups in the backups folder, newest first: only names a finished backup has (never
    an unfinished one, `.NAME.dump.partial`, which is hidden and named otherwise)."""
    try:
        found = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix in SUFFIXES]
    except OSError:
        return []
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def _label(path: Path, current: Path | None) -> Text:
    text = Text(path.name)
    with contextlib.suppress(OSError):  # gone since the list was read
        text.append(f"  {human_size(path.stat().st_size)}", style="dim")
    if current is not None and path == current:
        text.append("  taken in this session", style="bold green")
    return text


class BackupFiles(Vertical):
    """Posts Chosen when the user picks a file from the list (Enter) or types a path (Enter)."""

    DEFAULT_CSS = """
    BackupFiles { height: auto; }
    BackupFiles #files-title, BackupFiles #files-other { height: auto; }
    BackupFiles OptionList { height: auto; max-height: 8; }
    BackupFiles #files-other { margin: 1 0 0 0; }
    BackupFiles Input { max-width: 100; }
    """

    @dataclass
    class Chosen(Message):
        path: Path

    def __init__(self, folder: Path, current: Path | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.folder = folder
        self.current = current

    def compose(self) -> ComposeResult:
        files = backup_files(self.folder)
        if self.current is not None and self.current not in files:
            files.insert(0, self.current)
        where = escape(str(self.folder))
        title = f"Backups in {where}, newest first (Enter chooses one):" if files else f"No backups in {where} yet."
        yield Static(title, id="files-title")
        yield OptionList(*(Option(_label(p, self.current), id=str(p)) for p in files), id="files-list")
        yield Static(
            "Or type the path of any backup file (.dump or .sql, made by pg_dump), then Enter:", id="files-other"
        )
        yield Input(placeholder=str(self.folder / "name.dump"), id="files-path")

    def on_mount(self) -> None:
        listing = self.query_one(OptionList)
        listing.display = listing.option_count > 0
        if self.current is not None and listing.option_count:
            listing.highlighted = listing.get_option_index(str(self.current))

    @on(OptionList.OptionSelected, "#files-list")
    def picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Chosen(Path(event.option.id)))

    @on(Input.Submitted, "#files-path")
    def typed(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.post_message(self.Chosen(Path(event.value.strip()).expanduser()))
