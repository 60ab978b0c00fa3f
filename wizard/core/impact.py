"""What each pending statement will do to the people using the database: its lock, whether it
reads or rewrites the table, the table's size, the expected impact in plain words ("instant:
metadata only"; "builds online: about 40 s, writes continue"), and who holds or waits for a
lock on those tables right now. The Review screen and `plan` show it; it only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from pglast.enums import AlterTableType, ConstrType

from wizard.core import blockers, catalog, online
from wizard.core.describe import describe
from wizard.core.events import LockHolder
from wizard.core.migrations import Migration, Statement
from wizard.core.units import human_size

Conn = psycopg.Connection[Any]
# What a statement does to existing rows.
METADATA, NEW, SCAN, REWRITE, BUILD, ONLINE, OTHER = "metadata", "new", "scan", "rewrite", "build", "online", "other"
_BYTES_PER_SECOND = 50 * 1024 * 1024  # a rough rewrite rate, for "about N s"
_SIZE_LOCK_TIMEOUT = "200ms"  # pg_table_size locks the table: never wait long for it


@dataclass(frozen=True)
class TableStats:
    rows: int  # estimated
    bytes: int | None  # None when it could not be measured (the table was locked)

    def describe(self) -> str:
        size = f", {human_size(self.bytes)}" if self.bytes is not None else ""
        return f"~{self.rows:,} rows{size}"


@dataclass(frozen=True)
class StatementImpact:
    migration: str  # its label
    index: int  # 1-based, over every pending statement
    line: int
    sql: str
    summary: str  # what it does
    lock: str  # which lock, for how long
    table: str | None  # the existing table it works on
    effect: str  # METADATA, NEW, SCAN, REWRITE, BUILD, ONLINE or OTHER
    impact: str  # in plain words, with a time estimate where it takes time
    stats: TableStats | None
    present: bool  # its object is already there: no change


@dataclass(frozen=True)
class PlanImpact:
    migrations: list[str]
    statements: list[StatementImpact]
    sessions: tuple[LockHolder, ...]  # holding (or waiting for) a lock on those tables now
    tables: tuple[str, ...]
    online: tuple[str, ...]  # indexes built CONCURRENTLY after the commit

    @property
    def all_or_nothing(self) -> bool:
        return not self.online


def plan(conn: Conn, migrations: Sequence[Migration], online_rows: int | None) -> PlanImpact:
    """The impact of applying `migrations` (the pending ones, in order) now."""
    statements: list[StatementImpact] = []
    all_tables: list[str] = []
    built_online: list[str] = []
    for migration in migrations:
        schema = migration.expectations.schema
        present = set(catalog.existing_objects(conn, migration.expectations))
        _, later, _ = online.split(conn, schema, migration.statements, online_rows)
        created = {s.node.relation.relname for s in migration.statements if s.kind == "CreateStmt"}
        tables = sorted({t for s in migration.statements if (t := _table(s)) and t not in created})
        stats = table_stats(conn, schema, tables)
        volatile = _volatile_functions(conn, migration.statements)
        locked: set[str] = set()  # tables an earlier statement holds ACCESS EXCLUSIVE on
        for statement in migration.statements:
            about = describe(statement)
            table = _table(statement)
            goes_online = statement in later
            effect, words = _effect(statement, table, created, volatile, goes_online, stats, locked)
            lock = about.lock
            if goes_online:
                lock = f"SHARE UPDATE EXCLUSIVE on {table}, built CONCURRENTLY after the commit: reads and writes go on"
            if statement.kind == "AlterTableStmt" and table:
                locked.add(table)
            statements.append(
                StatementImpact(
                    migration.label,
                    len(statements) + 1,
                    statement.line,
                    statement.sql,
                    about.summary,
                    lock,
                    table if table not in created else None,
                    effect,
                    words,
                    stats.get(table) if table else None,
                    bool(about.creates) and set(about.creates) <= present,
                )
            )
        all_tables += [t for t in tables if t not in all_tables]
        built_online += [str(s.node.idxname) for s in later]
    schema = migrations[0].expectations.schema if migrations else "public"
    sessions = blockers.on_tables(conn, schema, tuple(all_tables)) if all_tables else ()
    return PlanImpact([m.label for m in migrations], statements, sessions, tuple(all_tables), tuple(built_online))


def table_stats(conn: Conn, schema: str, tables: Sequence[str]) -> dict[str, TableStats]:
    """Estimated rows and on-disk size of each table; the size is left out when measuring it
    would wait for a lock (pg_table_size locks the table)."""
    if not tables:
        return {}
    rows = online.table_rows(conn, schema, tables, count_up_to=online.COUNT_UP_TO)
    sizes: dict[str, int] = {}
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (_SIZE_LOCK_TIMEOUT,))
            found = conn.execute(
                "SELECT t, pg_table_size(to_regclass(format('%%I.%%I', %s::text, t))) FROM unnest(%s::text[]) t",
                (schema, list(tables)),
            ).fetchall()
            sizes = {str(r[0]): int(r[1]) for r in found if r[1] is not None}
    except psycopg.errors.LockNotAvailable:
        sizes = {}
    return {t: TableStats(rows[t], sizes.get(t)) for t in tables if t in rows}


def _table(statement: Statement) -> str | None:
    relation = getattr(statement.node, "relation", None)
    return str(relation.relname) if relation is not None and getattr(relation, "relname", None) else None


def _about(seconds: float) -> str:
    return "a moment" if seconds < 1 else f"about {seconds:.0f} s"


def _build_time(stats: TableStats | None) -> str:
    return _about(stats.rows / online.ROWS_PER_SECOND if stats else 0)


def _effect(
    statement: Statement,
    table: str | None,
    created: set[str],
    volatile: set[str],
    goes_online: bool,
    stats: dict[str, TableStats],
    locked: set[str],
) -> tuple[str, str]:
    table_stats_ = stats.get(table) if table else None
    kind = statement.kind
    if kind == "CreateStmt":
        refs = describe(statement).relation
        tail = f"; a brief lock on {refs} for its foreign key" if refs else ""
        return NEW, f"instant: a new, empty table{tail}"
    if kind == "IndexStmt":
        if table in created:
            return NEW, "instant: the table is new and empty"
        took = _build_time(table_stats_)
        if goes_online:
            return ONLINE, f"builds online after the commit: {took}, reads and writes continue"
        who = "reads and writes" if table in locked else "writes"
        return BUILD, f"builds inside the transaction: {took}, {who} on {table} wait meanwhile"
    if kind == "CommentStmt":
        return METADATA, "instant: metadata only"
    if kind == "DropStmt":
        return METADATA, "instant: removes the object (and its data); a brief exclusive lock"
    if kind == "AlterTableStmt":
        return _alter_effect(statement, table or "", volatile, table_stats_)
    return OTHER, "depends on the statement: read it before applying"


def _alter_effect(statement: Statement, table: str, volatile: set[str], stats: TableStats | None) -> tuple[str, str]:
    effect = METADATA
    for cmd in statement.node.cmds:
        found = _command_effect(cmd, volatile)
        if _RANK[found] > _RANK[effect]:
            effect = found
    size = stats.bytes if stats and stats.bytes is not None else 0
    took = _about(size / _BYTES_PER_SECOND)
    if effect == REWRITE:
        return REWRITE, f"rewrites every row of {table}: {took}, reads and writes wait until it finishes"
    if effect == SCAN:
        return SCAN, f"reads every row of {table} to check it: {took}, reads and writes wait meanwhile"
    if effect == OTHER:
        return OTHER, f"changes {table}: read the statement; reads and writes wait while it runs"
    return METADATA, "instant: metadata only, existing rows are not touched"


_RANK = {METADATA: 0, OTHER: 1, SCAN: 2, REWRITE: 3}


def _command_effect(cmd: Any, volatile: set[str]) -> str:
    subtype = cmd.subtype
    if subtype == AlterTableType.AT_AddColumn:
        column = cmd.def_
        type_name = str(column.typeName.names[-1].sval) if column.typeName else ""
        if type_name in ("serial", "bigserial", "smallserial", "serial4", "serial8", "serial2"):
            return REWRITE
        effect = METADATA
        for constraint in column.constraints or ():
            if constraint.contype in (ConstrType.CONSTR_IDENTITY, ConstrType.CONSTR_GENERATED):
                return REWRITE
            if constraint.contype == ConstrType.CONSTR_DEFAULT and _names(constraint.raw_expr) & volatile:
                return REWRITE
            if constraint.contype in (ConstrType.CONSTR_CHECK, ConstrType.CONSTR_FOREIGN):
                effect = SCAN
        return effect
    if subtype in (AlterTableType.AT_DropColumn, AlterTableType.AT_ColumnDefault, AlterTableType.AT_DropNotNull):
        return METADATA
    if subtype == AlterTableType.AT_AlterColumnType:
        return REWRITE
    if subtype in (AlterTableType.AT_SetNotNull, AlterTableType.AT_ValidateConstraint):
        return SCAN
    if subtype == AlterTableType.AT_AddConstraint:
        return METADATA if getattr(cmd.def_, "skip_validation", False) else SCAN
    return OTHER


def _names(node: Any) -> set[str]:
    """The names of the functions a default expression calls."""
    from pglast.visitors import Visitor

    found: set[str] = set()

    class Calls(Visitor):
        def visit_FuncCall(self, ancestors: Any, call: Any) -> None:
            found.add(str(call.funcname[-1].sval))

    if node is not None:
        Calls()(node)
    return found


def _volatile_functions(conn: Conn, statements: Sequence[Statement]) -> set[str]:
    """Which functions called by the migration's column defaults are volatile on this server
    (a volatile default, e.g. gen_random_uuid(), makes ADD COLUMN rewrite the table)."""
    called: set[str] = set()
    for statement in statements:
        if statement.kind != "AlterTableStmt":
            continue
        for cmd in statement.node.cmds:
            if cmd.subtype == AlterTableType.AT_AddColumn:
                for constraint in cmd.def_.constraints or ():
                    if constraint.contype == ConstrType.CONSTR_DEFAULT:
                        called |= _names(constraint.raw_expr)
    if not called:
        return set()
    rows = conn.execute(
        "SELECT DISTINCT proname FROM pg_proc WHERE proname = ANY(%s) AND provolatile = 'v'", (sorted(called),)
    ).fetchall()
    return {str(r[0]) for r in rows}
