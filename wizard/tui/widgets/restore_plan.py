"""The Restore screen's words and tables: what a backup holds, what a restore overwrites and
removes first, and each table's rows compared afterwards."""

from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from wizard.core.restore import RestorePlan


def summary(plan: RestorePlan, database: str) -> str:
    """What the file is, what will be overwritten, and what is removed first (markup)."""
    backup = plan.backup
    count = len(backup.tables)
    where = escape(database)
    if plan.whole:
        kind = f"the whole database: {count} table{'s' if count != 1 else ''}, listed below"
        overwritten = (
            f"[b red]Everything in {where} is replaced by the backup[/]: each table gets exactly the"
            " backup's rows, and whatever was added or changed since the backup is lost."
        )
    else:
        tables = escape(", ".join(backup.tables))
        kind = f"only {', '.join(backup.tables)} (a single-table backup)"
        overwritten = (
            f"[b red]The rows of {tables} are replaced by the backup's[/]: whatever was added or changed in"
            " them since the backup is lost. Other tables are not touched."
        )
    lines = [f"[b]{escape(str(backup.path))}[/b] holds {escape(kind)}.", overwritten]
    if plan.drops:
        # One paragraph, not a list: a whole-database restore removes every table first.
        lines.append(
            "[b]Removed first[/b] (what the backup holds is then created again from it): "
            + escape("; ".join(plan.drops))
            + "."
        )
    if plan.whole and plan.gone:
        lines.append(f"[b red]Not in the backup, so gone after the restore:[/] {escape('; '.join(plan.gone))}.")
    lines.append("It runs in one transaction: if anything fails, nothing changes. " + escape(plan.how))
    return "\n".join(lines)


def contents(plan: RestorePlan) -> Table:
    """Each table in the file (its rows are counted as they are loaded: the file is not read twice)."""
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 2, 0, 0), show_edge=False)
    table.add_column("tables in the backup")
    for name in plan.backup.tables:
        table.add_row(name)
    return table


def comparison(counts: dict[str, tuple[int, int]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 2, 0, 0), show_edge=False)
    table.add_column("table")
    table.add_column("rows in the backup", justify="right")
    table.add_column("rows now", justify="right")
    table.add_column("")
    for name, (wanted, now) in sorted(counts.items()):
        same = wanted == now
        table.add_row(name, str(wanted), str(now), Text("same" if same else "DIFFERS", "green" if same else "bold red"))
    return table
