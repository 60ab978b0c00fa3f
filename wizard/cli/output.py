"""Printing for the headless commands: every line passes through the password redactor."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from wizard.core.connection import redact
from wizard.core.event_lines import object_label, one_line

__all__ = ["Printer", "object_label", "one_line", "table"]


def _supports_unicode(stream: TextIO) -> bool:
    return (getattr(stream, "encoding", "") or "").lower().replace("-", "") in ("utf8", "utf16")


class Printer:
    """Writes to stdout/stderr, redacting every known secret and any URL password."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.secrets: tuple[str, ...] = ()
        self.ok_mark = "✓" if _supports_unicode(self.stdout) else "ok"
        self.fail_mark = "✗" if _supports_unicode(self.stdout) else "FAILED"
        self.stream: Any = None  # the changing commands' Stream (stream.py), once there is one
        # A command whose --json prints one JSON document (status, verify, doctor, profile list):
        # on failure it prints {"ok": false, "exit": N, "error": {...}} instead.
        self.json_document = False

    def out(self, text: str = "", *, end: str = "\n") -> None:
        self.stdout.write(redact(text, self.secrets) + end)
        self.stdout.flush()

    def err(self, text: str = "") -> None:
        self.stderr.write(redact(text, self.secrets) + "\n")
        self.stderr.flush()


def table(rows: Sequence[dict[str, Any]], indent: str = "      ") -> list[str]:
    if not rows:
        return []
    headers = list(rows[0].keys())
    cells = [[_cell(r.get(h)) for h in headers] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = [indent + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append(indent + "  ".join("-" * w for w in widths))
    lines += [indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return lines


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)
