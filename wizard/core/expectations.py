"""The expectations file of a migration (TOML): what it must leave behind, as data."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizard.core.errors import FILE_FIX, InputError

CHECK_KINDS = (
    "columns",
    "table_exists",
    "foreign_keys",
    "indexes",
    "invalid_indexes",
    "smoke_test",
    "ledger",
)


@dataclass(frozen=True)
class Tolerated:
    type: str
    fix: str


@dataclass(frozen=True)
class ColumnSpec:
    table: str
    name: str
    type: str
    nullable: bool
    tolerated: tuple[Tolerated, ...] = ()

    @property
    def key(self) -> str:
        return f"column:{self.table}.{self.name}"


@dataclass(frozen=True)
class TableSpec:
    name: str
    type: str = "BASE TABLE"

    @property
    def key(self) -> str:
        return f"table:{self.name}"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    table: str
    columns: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"index:{self.name}"


@dataclass(frozen=True)
class ForeignKeySpec:
    table: str
    columns: tuple[str, ...]
    references_table: str
    references_columns: tuple[str, ...]
    on_delete: str = "NO ACTION"


@dataclass(frozen=True)
class CheckSpec:
    id: str
    kind: str
    title: str
    table: str = ""
    checklist: str = ""  # the guide's line on the Done screen that this check ticks ("" for none)


@dataclass(frozen=True)
class Precondition:
    table: str
    column: str
    type: str
    explanation: str


@dataclass(frozen=True)
class SmokeTestSpec:
    table: str
    foreign_key_column: str
    parent_table: str
    parent_key: str
    values: dict[str, Any] = field(default_factory=dict)
    parent_values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Wording:
    """What the screens say about a migration (its TOML's [wording]): a new one needs no code."""

    name: str  # what people call it: "Undo the <name> migration"
    headline: str  # the Welcome screen's heading
    deploy: str  # Done's first next step: "Deploy <deploy>."
    backup_table: str  # the one table worth backing up on its own: an existing table it changes


@dataclass(frozen=True)
class Expectations:
    version: str
    title: str
    wording: Wording
    baseline: bool = False
    schema: str = "public"
    precondition: Precondition | None = None
    checks: tuple[CheckSpec, ...] = ()
    tables: tuple[TableSpec, ...] = ()
    columns: tuple[ColumnSpec, ...] = ()
    indexes: tuple[IndexSpec, ...] = ()
    foreign_keys: tuple[ForeignKeySpec, ...] = ()
    smoke_test: SmokeTestSpec | None = None

    def object_keys(self) -> tuple[str, ...]:
        """Every object the migration creates, as 'kind:name' keys (the ledger's vocabulary)."""
        created_tables = {t.name for t in self.tables}
        return (
            *(t.key for t in self.tables),
            *(c.key for c in self.columns if c.table not in created_tables),
            *(i.key for i in self.indexes),
        )

    def columns_of(self, table: str) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in self.columns if c.table == table)

    def tables_touched(self) -> tuple[str, ...]:
        names = [c.table for c in self.columns] + [i.table for i in self.indexes] + [t.name for t in self.tables]
        return tuple(dict.fromkeys(names))


def load_expectations(path: Path) -> Expectations:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        return _build(data)
    except FileNotFoundError:
        raise InputError(f"The expectations file {path} is missing.", fix=FILE_FIX) from None
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"The expectations file {path} is not valid: {exc}.", fix=FILE_FIX) from None


def _build(data: dict[str, Any]) -> Expectations:
    pre = data.get("precondition")
    smoke = data.get("smoke_test")
    checks = tuple(
        CheckSpec(c["id"], c["kind"], c["title"], c.get("table", ""), c.get("checklist", ""))
        for c in data.get("check", ())
    )
    for check in checks:
        if check.kind not in CHECK_KINDS:
            raise ValueError(f"check {check.id} has unknown kind {check.kind!r}")
    tables = tuple(TableSpec(t["name"], t.get("type", "BASE TABLE")) for t in data.get("tables", ()))
    columns = tuple(
        ColumnSpec(
            c["table"],
            c["name"],
            c["type"],
            bool(c["nullable"]),
            tuple(Tolerated(t["type"], t["fix"]) for t in c.get("tolerated", ())),
        )
        for c in data.get("columns", ())
    )
    return Expectations(
        version=str(data["version"]),
        title=data["title"],
        wording=_wording(data, tables, columns),
        baseline=bool(data.get("baseline", False)),
        schema=data.get("schema", "public"),
        precondition=Precondition(pre["table"], pre["column"], pre["type"], pre.get("explanation", ""))
        if pre
        else None,
        checks=checks,
        tables=tables,
        columns=columns,
        indexes=tuple(IndexSpec(i["name"], i["table"], tuple(i["columns"])) for i in data.get("indexes", ())),
        foreign_keys=tuple(
            ForeignKeySpec(
                f["table"],
                tuple(f["columns"]),
                f["references_table"],
                tuple(f["references_columns"]),
                f.get("on_delete", "NO ACTION").upper(),
            )
            for f in data.get("foreign_keys", ())
        ),
        smoke_test=SmokeTestSpec(
            smoke["table"],
            smoke["foreign_key_column"],
            smoke["parent_table"],
            smoke["parent_key"],
            dict(smoke.get("values", {})),
            dict(smoke.get("parent_values", {})),
        )
        if smoke
        else None,
    )


def _wording(data: dict[str, Any], tables: tuple[TableSpec, ...], columns: tuple[ColumnSpec, ...]) -> Wording:
    """The [wording] table; what it leaves out is said from the title and the tables."""
    words = data.get("wording", {})
    title = str(data["title"])
    name = str(words.get("name", title))
    created = {t.name for t in tables}
    changed = [c.table for c in columns if c.table not in created] + [t.name for t in tables]
    return Wording(
        name=name,
        headline=str(words.get("headline", f"{title} migration")),
        deploy=str(words.get("deploy", f"the version of the application that uses what {name} adds")),
        backup_table=str(words.get("backup_table", changed[0] if changed else "")),
    )


def read_folder(directory: Path | None = None) -> list[Expectations]:
    """The expectations of every migration in `directory` (NNN_name.toml beside NNN_name.sql),
    in version order. Only TOML is read: the first screen must not wait for the SQL parser
    (importing wizard.core.migrations, which loads pglast, costs about 70 ms)."""
    if directory is None:
        # As migrations.default_migrations_dir, which cannot be imported here without pglast.
        package_dir = Path(__file__).resolve().parent.parent
        bundled = package_dir / "migrations"
        directory = bundled if bundled.is_dir() else package_dir.parent / "migrations"
    found = sorted(p for p in directory.glob("*.toml") if p.name[:1].isdigit() and p.with_suffix(".sql").exists())
    return [load_expectations(path) for path in found]
