"""Read-only questions about a database's schema, asked of its catalogs.

Over a slow link each statement costs a round trip, so what verify, status and the
pre-flight checks read is asked at once: `survey` sends one query for the catalogs
(`Snapshot`), the ledger and the wizard's rollbacks together in psycopg's pipeline mode
(`flight`), and the checks then read the Snapshot instead of the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from wizard.core import ledger
from wizard.core.expectations import Expectations
from wizard.core.flight import Answer, Statement, flight, raise_failed
from wizard.core.ledger import LedgerRow, RollbackRow

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


def existing_objects(conn: Conn, expectations: Expectations) -> tuple[str, ...]:
    """Which of the migration's objects are already in the database (as ledger keys)."""
    return snapshot(conn, Wanted.of([expectations])).existing_objects(expectations)


def advisory_lock_holders(conn: Conn, key: int) -> tuple[int, ...]:
    rows = conn.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
        " AND ((classid::bigint << 32) | objid::bigint) = %s",
        (key,),
    ).fetchall()
    return tuple(int(r[0]) for r in rows)


# --- Everything at once: a Snapshot of the catalogs, and the ledger, in one round trip ---


@dataclass(frozen=True)
class Wanted:
    """The tables (and indexes, by name) a Snapshot is asked about, as (schema, name) pairs."""

    tables: frozenset[tuple[str, str]] = frozenset()
    indexes: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def of(cls, expectations: Iterable[Expectations]) -> Wanted:
        """Every table and index the migrations' checks, precondition and smoke test look at."""
        tables: set[tuple[str, str]] = set()
        indexes: set[tuple[str, str]] = set()
        for exp in expectations:
            names = [*exp.tables_touched(), *(f.table for f in exp.foreign_keys), *(c.table for c in exp.checks)]
            if exp.precondition is not None:
                names.append(exp.precondition.table)
            if exp.smoke_test is not None:
                names += [exp.smoke_test.table, exp.smoke_test.parent_table]
            tables.update((exp.schema, name) for name in names if name)
            indexes.update((exp.schema, i.name) for i in exp.indexes)
        return cls(frozenset(tables), frozenset(indexes))

    def __or__(self, other: Wanted) -> Wanted:
        return Wanted(self.tables | other.tables, self.indexes | other.indexes)


# What each check asks of the catalogs (columns, table type, existence, foreign keys, indexes by name,
# invalid indexes), for every wanted table at once, each answer a JSON array.
_SNAPSHOT = """
SELECT
  (SELECT coalesce(json_agg(json_build_array(w.s, w.t)), '[]')
     FROM unnest(%(schemas)s::text[], %(tables)s::text[]) w(s, t)
    WHERE to_regclass(format('%%I.%%I', w.s, w.t)) IS NOT NULL),
  (SELECT coalesce(json_agg(json_build_array(table_schema, table_name, table_type)), '[]')
     FROM information_schema.tables
    WHERE table_schema = ANY(%(schemas)s::text[]) AND table_name = ANY(%(tables)s::text[])),
  (SELECT coalesce(json_agg(json_build_array(table_schema, table_name, column_name, data_type, is_nullable = 'YES')
                            ORDER BY table_schema, table_name, ordinal_position), '[]')
     FROM information_schema.columns
    WHERE table_schema = ANY(%(schemas)s::text[]) AND table_name = ANY(%(tables)s::text[])),
  (SELECT coalesce(json_agg(json_build_array(
            n.nspname, t.relname, c.conname,
            ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n)::text[],
            r.relname,
            ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n)
                  JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.n)::text[],
            c.confdeltype::text) ORDER BY c.conname), '[]')
     FROM pg_constraint c
     JOIN pg_class t ON t.oid = c.conrelid
     JOIN pg_namespace n ON n.oid = t.relnamespace
     JOIN pg_class r ON r.oid = c.confrelid
    WHERE c.contype = 'f' AND n.nspname = ANY(%(schemas)s::text[]) AND t.relname = ANY(%(tables)s::text[])),
  (SELECT coalesce(json_agg(json_build_array(
            n.nspname, i.relname, t.relname,
            ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
                  JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                  ORDER BY k.n)::text[],
            x.indisvalid, pg_get_indexdef(i.oid))), '[]')
     FROM pg_index x
     JOIN pg_class i ON i.oid = x.indexrelid
     JOIN pg_class t ON t.oid = x.indrelid
     JOIN pg_namespace n ON n.oid = i.relnamespace
    WHERE n.nspname = ANY(%(index_schemas)s::text[]) AND i.relname = ANY(%(indexes)s::text[])),
  (SELECT coalesce(json_agg(json_build_array(n.nspname, i.relname, t.relname, x.indisvalid, pg_get_indexdef(i.oid))
                            ORDER BY i.relname), '[]')
     FROM pg_index x
     JOIN pg_class i ON i.oid = x.indexrelid
     JOIN pg_class t ON t.oid = x.indrelid
     JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = ANY(%(schemas)s::text[]) AND t.relname = ANY(%(tables)s::text[])
      AND NOT (x.indisvalid AND x.indisready))
"""


@dataclass(frozen=True)
class Snapshot:
    """What the catalogs said of the wanted tables and indexes, read in one query; the checks
    ask it their questions instead of the database, without a statement each."""

    wanted: Wanted
    relations: frozenset[tuple[str, str]]  # the wanted tables that to_regclass finds
    table_types: Mapping[tuple[str, str], str]
    column_lists: Mapping[tuple[str, str], tuple[ColumnInfo, ...]]
    foreign_key_lists: Mapping[tuple[str, str], tuple[ForeignKeyInfo, ...]]
    index_infos: Mapping[tuple[str, str], IndexInfo]
    invalid: tuple[tuple[str, IndexInfo], ...]  # (schema, index) of the wanted tables, by index name

    def _asked(self, schema: str, table: str) -> tuple[str, str]:
        key = (schema, table)
        if key not in self.wanted.tables:
            raise KeyError(f"{schema}.{table} was not in the snapshot's wanted tables")
        return key

    def table_exists(self, schema: str, table: str) -> bool:
        return self._asked(schema, table) in self.relations

    def table_type(self, schema: str, table: str) -> str | None:
        return self.table_types.get(self._asked(schema, table))

    def columns(self, schema: str, table: str) -> list[ColumnInfo]:
        return list(self.column_lists.get(self._asked(schema, table), ()))

    def foreign_keys(self, schema: str, table: str) -> list[ForeignKeyInfo]:
        return list(self.foreign_key_lists.get(self._asked(schema, table), ()))

    def indexes(self, schema: str, names: Iterable[str]) -> dict[str, IndexInfo]:
        found: dict[str, IndexInfo] = {}
        for name in names:
            if (schema, name) not in self.wanted.indexes:
                raise KeyError(f"index {schema}.{name} was not in the snapshot's wanted indexes")
            if (schema, name) in self.index_infos:
                found[name] = self.index_infos[(schema, name)]
        return found

    def invalid_indexes(self, schema: str, tables: Iterable[str]) -> list[IndexInfo]:
        names = {self._asked(schema, t)[1] for t in tables}
        return [info for where, info in self.invalid if where == schema and info.table in names]

    def existing_objects(self, expectations: Expectations) -> tuple[str, ...]:
        """Which of the migration's objects are already in the database (as ledger keys)."""
        schema = expectations.schema
        present = [t.key for t in expectations.tables if self.table_exists(schema, t.name)]
        created = {t.name for t in expectations.tables}
        for spec in expectations.columns:
            if spec.table not in created and any(c.name == spec.name for c in self.columns(schema, spec.table)):
                present.append(spec.key)
        found = self.indexes(schema, [i.name for i in expectations.indexes])
        present.extend(i.key for i in expectations.indexes if i.name in found)
        return tuple(present)


def _snapshot_statement(wanted: Wanted) -> Statement:
    tables = sorted(wanted.tables)
    indexes = sorted(wanted.indexes)
    return _SNAPSHOT, {
        "schemas": [s for s, _ in tables],
        "tables": [t for _, t in tables],
        "index_schemas": [s for s, _ in indexes],
        "indexes": [i for _, i in indexes],
    }


def _snapshot_from(wanted: Wanted, row: Sequence[Any]) -> Snapshot:
    relations, types, columns, keys, indexes, invalid = row
    column_lists: dict[tuple[str, str], list[ColumnInfo]] = {}
    for schema, table, name, data_type, nullable in columns:
        if (schema, table) in wanted.tables:
            column_lists.setdefault((schema, table), []).append(ColumnInfo(name, data_type, nullable))
    key_lists: dict[tuple[str, str], list[ForeignKeyInfo]] = {}
    for schema, table, name, cols, ref_table, ref_cols, on_delete in keys:
        if (schema, table) in wanted.tables:
            info = ForeignKeyInfo(name, tuple(cols), ref_table, tuple(ref_cols), _ON_DELETE.get(on_delete, on_delete))
            key_lists.setdefault((schema, table), []).append(info)
    return Snapshot(
        wanted=wanted,
        relations=frozenset((s, t) for s, t in relations),
        table_types={(s, t): kind for s, t, kind in types if (s, t) in wanted.tables},
        column_lists={k: tuple(v) for k, v in column_lists.items()},
        foreign_key_lists={k: tuple(v) for k, v in key_lists.items()},
        index_infos={
            (s, name): IndexInfo(name, table, tuple(cols), valid, definition)
            for s, name, table, cols, valid, definition in indexes
            if (s, name) in wanted.indexes
        },
        invalid=tuple(
            (s, IndexInfo(name, table, (), valid, definition))
            for s, name, table, valid, definition in invalid
            if (s, table) in wanted.tables
        ),
    )


def snapshot(conn: Conn, wanted: Wanted) -> Snapshot:
    """The catalogs' answers about the wanted tables and indexes, in one query."""
    query, params = _snapshot_statement(wanted)
    row = conn.execute(query, params).fetchone()
    if row is None:  # one row, always
        raise RuntimeError("the catalog snapshot returned no row")
    return _snapshot_from(wanted, row)


@dataclass(frozen=True)
class Survey:
    """The catalogs, the ledger and the wizard's latest rollback of each migration, with the
    caller's own statements of the same flight (`before`, `tries` and `last`, in order)."""

    catalog: Snapshot
    ledger: dict[str, LedgerRow]
    rollbacks: dict[str, RollbackRow]
    before: list[Answer] = field(default_factory=list)
    tries: list[Answer] = field(default_factory=list)
    last: list[Answer] = field(default_factory=list)


def _pair(qualified: str) -> tuple[str, str]:
    schema, _, table = qualified.partition(".")
    return schema, table


_LEDGER_TABLES = (_pair(ledger.TABLE), _pair(ledger.ROLLBACKS))


def _lock_setting(lock_timeout: str | None) -> list[Statement]:
    return [("SELECT set_config('lock_timeout', %s, true)", (lock_timeout,))] if lock_timeout else []


def survey(
    conn: Conn,
    wanted: Wanted,
    *,
    before: Sequence[Statement] = (),
    tries: Sequence[Statement] = (),
    last: Sequence[Statement] = (),
    rollbacks: bool = False,
    lock_timeout: str | None = None,
) -> Survey:
    """The Snapshot, the ledger (and, with `rollbacks`, the latest rollback of each version) in
    one round trip, with the caller's statements: `before` ones must work (their error is
    raised), `tries` may fail (their Answers say how). The ledger may not exist yet: it is
    read after them, and the Snapshot says whether its error means "no ledger yet". `last`
    ones go after everything the survey reads, so that one failing skips nothing of it: they
    are not run when anything before them failed. A lock_timeout holds for the whole flight
    (a table another session locks fails, not hangs)."""
    want = wanted | Wanted(frozenset(_LEDGER_TABLES))
    setting = _lock_setting(lock_timeout)
    reads = [(ledger.ROWS, None)] + ([(ledger.LATEST_ROLLBACKS, None)] if rollbacks else [])
    answers = flight(conn, [*setting, *before, _snapshot_statement(want), *tries, *reads, *last])
    head = len(setting) + len(before)
    raise_failed(answers[: head + 1])
    rows = answers[head].rows
    if not rows:
        raise RuntimeError("the catalog snapshot was not run")  # its own error was raised above
    found = _snapshot_from(want, rows[0])
    got = answers[head + 1 + len(tries) : head + 1 + len(tries) + len(reads)]
    again = [i for i in range(len(reads)) if found.table_exists(*_LEDGER_TABLES[i]) and not got[i].ok]
    raise_failed(got[i] for i in again)  # there, yet unreadable (no privilege, a lock): say why
    if again:  # there, but skipped after a try failed: read once more
        redo = flight(conn, [*setting, *(reads[i] for i in again)])
        raise_failed(redo)
        got = list(got)
        for i, answer in zip(again, redo[len(setting) :], strict=True):
            got[i] = answer
    ledger_rows = ledger.rows_from(got[0].rows or [])
    rollback_rows = ledger.rollbacks_from(got[1].rows or []) if rollbacks else {}
    tail = head + 1 + len(tries) + len(reads)
    return Survey(
        found,
        ledger_rows,
        rollback_rows,
        answers[len(setting) : head],
        answers[head + 1 : head + 1 + len(tries)],
        answers[tail : tail + len(last)],
    )
