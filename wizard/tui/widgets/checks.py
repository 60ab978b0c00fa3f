"""A list of checks (pre-flight or verify) with a pass/warn/fail badge and a reason each."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable

from wizard.core.verify_report import FAIL, PASS, WARN, CheckResult

BADGES = {PASS: ("PASS", "bold green"), WARN: ("WARN", "bold yellow"), FAIL: ("FAIL", "bold red")}


def badge(status: str) -> Text:
    label, style = BADGES.get(status, (status.upper(), "bold"))
    return Text(f" {label} ", style=style)


class CheckTable(DataTable[Text | str]):
    """One row per check: badge, title, reason."""

    DEFAULT_CSS = """
    CheckTable { height: auto; max-height: 100%; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns("", "Check", "Result")

    def show(self, checks: Iterable[CheckResult]) -> None:
        self.clear()
        for check in checks:
            self.add_row(badge(check.status), check.title, check.detail, key=check.id)
