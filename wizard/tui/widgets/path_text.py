"""A sentence with a file path in it that wraps like a person would break it: between words, and
inside the path only after a '/', so that a file name is never split ("...-migrate-pract" / "ice.md")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

WORD = re.compile(r"\S+\s*")  # a word and the spaces after it
SEGMENT = re.compile(r"[^/]*/|[^/]+$")  # a folder with its '/', or the file name


@dataclass(frozen=True)
class PathText:
    before: str
    path: str
    after: str = ""
    style: str = ""

    def __str__(self) -> str:
        return self.before + self.path + self.after

    def pieces(self) -> list[str]:
        """Where a line may end: after each word (with its spaces) of the text, and after each
        folder of the path."""
        found = [m.group() for m in WORD.finditer(self.before)]
        found += [m.group() for m in SEGMENT.finditer(self.path) if m.group()]
        after = self.after
        if found and after[:1].isspace():  # "path (note)": the space stays with the path
            found[-1] += after[: len(after) - len(after.lstrip())]
        found += [m.group() for m in WORD.finditer(after)]
        return found

    def lines(self, width: int) -> list[str]:
        lines: list[str] = []
        line = ""
        for piece in self.pieces():
            if line and cell_len((line + piece).rstrip()) > width:
                lines.append(line.rstrip())
                line = ""
            while cell_len(piece.rstrip()) > width:  # longer than a line by itself: cut, as before
                lines.append(piece[:width])
                piece = piece[width:]
            line += piece
        return [*lines, line.rstrip()] if line.strip() else lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("\n".join(self.lines(options.max_width)), style=self.style, no_wrap=True, overflow="crop")
