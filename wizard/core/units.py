"""Sizes and durations in the words a user reads them in (the backup file, a migration's time)."""

from __future__ import annotations


def human_size(count: int) -> str:
    """1536 -> '1.5 KB'."""
    amount = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    """0.042 -> '42 ms', 3.21 -> '3.2 s'."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
