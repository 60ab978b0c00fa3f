"""Sizes in the words a user compares them in (the backup file, the database)."""

from __future__ import annotations


def human_size(count: int) -> str:
    """1536 -> '1.5 KB'."""
    amount = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")
