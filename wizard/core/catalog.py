"""Read-only questions about a database's schema, asked of its catalogs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from wizard.core.events import LockHolder
from wizard.core.expectations import Expectations

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    data_type: str
    nullable: bool


@dataclass(frozen=True)
class IndexInfo:
    name: str
    table: str
    columns: tuple[str, ...]
    valid: bool
    definition: str


@dataclass(frozen=True)
class ForeignKeyInfo:
    name: str
    columns: tuple[str, ...]
    references_table: str
    references_columns: tuple[str, ...]
    on_delete: str


_ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def columns(conn: Conn, schema: str, table: str) -> list[ColumnInfo]:
    rows = conn.execute(
        "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    return [ColumnInfo(r[0], r[1], r[2]) for r in rows]


def table_type(conn: Conn, schema: str, table: str) -> str | None:
    row = conn.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    ).fetchone()
    return str(row[0]) if row else None


def table_exists(conn: Conn, schema: str, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))", (schema, table)).fetchone()
    return bool(row and row[0] is not None)


def indexes(conn: Conn, schema: str, names: list[str]) -> dict[str, IndexInfo]:
    rows = conn.execute(
        """
        SELECT i.relname, t.relname,
               ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                     ORDER BY k.n)::text[],
               x.indisvalid, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE n.nspname = %s AND i.relname = ANY(%s)
        """,
        (schema, names),
    ).fetchall()
    return {r[0]: IndexInfo(r[0], r[1], tuple(r[2]), r[3], r[4]) for r in rows}


def invalid_indexes(conn: Conn, schema: str, tables: list[str]) -> list[IndexInfo]:
    rows = conn.execute(
        """
        SELECT i.relname, t.relname, x.indisvalid, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = %s AND t.relname = ANY(%s) AND NOT (x.indisvalid AND x.indisready)
        ORDER BY i.relname
        """,
        (schema, tables),
    ).fetchall()
    return [IndexInfo(r[0], r[1], (), r[2], r[3]) for r in rows]


def foreign_keys(conn: Conn, schema: str, table: str) -> list[ForeignKeyInfo]:
    rows = conn.execute(
        """
        SELECT c.conname,
               ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n)::text[],
               r.relname,
               ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.n)::text[],
               c.confdeltype::text
        FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        JOIN pg_class r ON r.oid = c.confrelid
        WHERE c.contype = 'f' AND n.nspname = %s AND t.relname = %s
        ORDER BY c.conname
        """,
        (schema, table),
    ).fetchall()
    return [ForeignKeyInfo(r[0], tuple(r[1]), r[2], tuple(r[3]), _ON_DELETE.get(r[4], r[4])) for r in rows]


def existing_objects(conn: Conn, expectations: Expectations) -> tuple[str, ...]:
    """Which of the migration's objects are already in the database (as ledger keys)."""
    schema = expectations.schema
    present: list[str] = []
    for table in expectations.tables:
        if table_exists(conn, schema, table.name):
            present.append(table.key)
    created = {t.name for t in expectations.tables}
    by_table: dict[str, set[str]] = {}
    for spec in expectations.columns:
        if spec.table in created:
            continue
        if spec.table not in by_table:
            by_table[spec.table] = {c.name for c in columns(conn, schema, spec.table)}
        if spec.name in by_table[spec.table]:
            present.append(spec.key)
    found = indexes(conn, schema, [i.name for i in expectations.indexes])
    present.extend(i.key for i in expectations.indexes if i.name in found)
    return tuple(present)


def lock_holders(conn: Conn, schema: str, tables: tuple[str, ...]) -> tuple[LockHolder, ...]:
    """Other sessions holding locks on these tables (what a lock wait was waiting for)."""
    rows = conn.execute(
        """
        SELECT l.pid, coalesce(a.usename, ''), coalesce(a.state, ''),
               coalesce(extract(epoch FROM now() - a.state_change), 0)::float8,
               coalesce(a.application_name, ''), string_agg(DISTINCT l.mode, ', '),
               left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 120)
        FROM pg_locks l
        JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.granted AND l.pid <> pg_backend_pid()
          AND l.relation IN (SELECT to_regclass(format('%%I.%%I', %s::text, t)) FROM unnest(%s::text[]) t)
        GROUP BY 1, 2, 3, 4, 5, 7
        ORDER BY 4 DESC
        """,
        (schema, list(tables)),
    ).fetchall()
    return tuple(LockHolder(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows)


def advisory_lock_holders(conn: Conn, key: int) -> tuple[int, ...]:
    rows = conn.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
        " AND ((classid::bigint << 32) | objid::bigint) = %s",
        (key,),
    ).fetchall()
    return tuple(int(r[0]) for r in rows)
