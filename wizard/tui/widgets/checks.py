"""A list of checks (pre-flight or verify) with a pass/warn/fail badge and a reason each, and the
table that shows it: cells wrap to the width the screen has, so nothing is cut at 80 columns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from wizard.core.verify_report import FAIL, PASS, WARN, CheckResult

BADGES = {PASS: ("PASS", "bold green"), WARN: ("WARN", "bold yellow"), FAIL: ("FAIL", "bold red")}

Cell = Text | str


def badge(status: str) -> Text:
    label, style = BADGES.get(status, (status.upper(), "bold"))
    return Text(f" {label} ", style=style)


class WrappingTable(Static):
    """Rows under a header, each cell wrapped within its column (a DataTable cuts a cell at its
    column's edge: "holds a lock on t"). Read-only: the screen scrolls, the table does not.
    `rows` holds the cells as given, for what reads them back (the tests)."""

    COMPONENT_CLASSES = {"wrapping-table--header", "wrapping-table--even-row"}
    DEFAULT_CSS = """
    WrappingTable { height: auto; }
    WrappingTable > .wrapping-table--header { text-style: bold; background: $panel; color: $foreground; }
    WrappingTable > .wrapping-table--even-row { background: $surface-darken-1 40%; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.columns: list[str] = []
        self.rows: list[tuple[Cell, ...]] = []
        self.whole: set[int] = set()  # the columns never wrapped (badges, names)

    def set_rows(self, columns: Sequence[str], rows: Iterable[Sequence[Cell]], *, whole: Iterable[int] = ()) -> None:
        self.columns, self.rows, self.whole = list(columns), [tuple(row) for row in rows], set(whole)
        self.refresh(layout=True)

    def render(self) -> RenderableType:
        table = Table(
            box=None,
            show_edge=False,
            pad_edge=False,
            header_style=self.get_component_rich_style("wrapping-table--header"),
            row_styles=["", self.get_component_rich_style("wrapping-table--even-row")],
        )
        # A column with nothing in it (a "note" where all is well) only takes room from the others.
        shown = [i for i in range(len(self.columns)) if any(str(row[i]).strip() for row in self.rows)]
        for index in shown:
            table.add_column(self.columns[index], no_wrap=index in self.whole, overflow="fold")
        for row in self.rows:
            table.add_row(*(row[i] for i in shown))
        return table


class CheckTable(WrappingTable):
    """One row per check: badge, title, reason."""

    def show(self, checks: Iterable[CheckResult]) -> None:
        self.set_rows(
            ("", "Check", "Result"),
            ((badge(check.status), check.title, check.detail) for check in checks),
            whole=(0,),
        )
