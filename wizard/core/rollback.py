"""Undoing a migration: first what would be lost, then the down file in a transaction.

Only what the migration created is removed: objects its ledger row lists as already
present before it ran (an index someone made by hand, say) are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from wizard.core import catalog, ledger, runner
from wizard.core.describe import describe
from wizard.core.engine import APPLIED, MODIFIED, status
from wizard.core.errors import RefusedError
from wizard.core.events import Emit, MigrationRolledBack, StatementSkipped
from wizard.core.migrations import Migration, Statement
from wizard.core.runner import RunOptions

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Dependent:
    """An object outside the migration that depends on something the rollback removes."""

    description: str
    depends_on: str
    outcome: str  # "dropped" (taken along by CASCADE or automatically) or "blocks"


@dataclass(frozen=True)
class RollbackImpact:
    migration: Migration
    recorded: bool
    present: tuple[str, ...]
    rows_lost: tuple[tuple[str, int], ...]
    values_lost: tuple[tuple[str, int], ...]
    dependents: tuple[Dependent, ...]
    kept: tuple[str, ...]
    statements: tuple[Statement, ...]
    skipped: tuple[Statement, ...]

    @property
    def nothing_to_do(self) -> bool:
        return not self.recorded and not self.present

    @property
    def blocked(self) -> tuple[Dependent, ...]:
        return tuple(d for d in self.dependents if d.outcome == "blocks")


def latest_applied(conn: Conn, migrations: Sequence[Migration]) -> Migration | None:
    """The newest non-baseline migration that is recorded, or whose objects are present."""
    for state in reversed(status(conn, migrations)):
        migration = state.migration
        if migration.baseline:
            continue
        if state.state in (APPLIED, MODIFIED):
            return migration
        if catalog.existing_objects(conn, migration.expectations):
            return migration
    return None


def _split(migration: Migration, kept: set[str]) -> tuple[tuple[Statement, ...], tuple[Statement, ...]]:
    run: list[Statement] = []
    skipped: list[Statement] = []
    for statement in migration.down_statements:
        drops = describe(statement).drops
        (skipped if drops and all(d in kept for d in drops) else run).append(statement)
    return tuple(run), tuple(skipped)


def impact(conn: Conn, migration: Migration) -> RollbackImpact:
    """What a rollback of this migration would remove, read without changing anything."""
    if migration.down_path is None:
        raise RefusedError(f"{migration.label} has no down file, so the wizard cannot undo it.")
    exp = migration.expectations
    row = ledger.read(conn).get(migration.version)
    kept = set(row.preexisting) if row else set()
    present = set(catalog.existing_objects(conn, exp))
    statements, skipped = _split(migration, kept)
    drops = [d for s in statements for d in describe(s).drops if d in present]
    rows_lost: list[tuple[str, int]] = []
    values_lost: list[tuple[str, int]] = []
    dependents: list[Dependent] = []
    own_indexes = {i.name for i in exp.indexes}
    for key in drops:
        kind, _, name = key.partition(":")
        if kind == "table":
            count = _scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(exp.schema, name)))
            rows_lost.append((name, count))
            cascade = any(describe(s).cascade for s in statements if key in describe(s).drops)
            dependents += _dependents(conn, exp.schema, name, None, own_indexes, cascade)
        elif kind == "column":
            table, _, column = name.partition(".")
            count = _scalar(
                conn,
                sql.SQL("SELECT count({}) FROM {}").format(sql.Identifier(column), sql.Identifier(exp.schema, table)),
            )
            values_lost.append((name, count))
            dependents += _dependents(conn, exp.schema, table, column, own_indexes, False)
    return RollbackImpact(
        migration=migration,
        recorded=row is not None,
        present=tuple(sorted(present)),
        rows_lost=tuple(rows_lost),
        values_lost=tuple(values_lost),
        dependents=tuple(dict.fromkeys(dependents)),
        kept=tuple(sorted(kept & present)),
        statements=statements,
        skipped=skipped,
    )


def _scalar(conn: Conn, query: sql.Composed) -> int:
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


_DEPENDENTS = """
SELECT DISTINCT
  CASE WHEN d.classid = 'pg_rewrite'::regclass
       THEN (SELECT 'view ' || r.ev_class::regclass::text FROM pg_rewrite r WHERE r.oid = d.objid)
       ELSE pg_describe_object(d.classid, d.objid, d.objsubid) END,
  d.deptype,
  CASE WHEN d.classid = 'pg_constraint'::regclass
            THEN (SELECT c.conrelid FROM pg_constraint c WHERE c.oid = d.objid)
       WHEN d.classid = 'pg_class'::regclass
            THEN coalesce((SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = d.objid), d.objid)
       WHEN d.classid = 'pg_attrdef'::regclass
            THEN (SELECT a.adrelid FROM pg_attrdef a WHERE a.oid = d.objid)
       WHEN d.classid = 'pg_rewrite'::regclass
            THEN (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = d.objid)
  END = t.oid,
  CASE WHEN d.classid = 'pg_class'::regclass THEN (SELECT relname FROM pg_class WHERE oid = d.objid) END
FROM pg_depend d
CROSS JOIN (SELECT to_regclass(format('%%I.%%I', %(schema)s::text, %(table)s::text)) AS oid) t
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid
  AND (%(column)s::text IS NULL OR d.refobjsubid =
       (SELECT attnum FROM pg_attribute WHERE attrelid = t.oid AND attname = %(column)s::text))
  AND d.deptype IN ('n', 'a')
"""


def _dependents(
    conn: Conn, schema: str, table: str, column: str | None, own_indexes: set[str], cascade: bool
) -> list[Dependent]:
    rows = conn.execute(_DEPENDENTS, {"schema": schema, "table": table, "column": column}).fetchall()
    target = f"{table}.{column}" if column else table
    found: list[Dependent] = []
    for description, deptype, belongs_to_table, relname in rows:
        if relname in own_indexes or description is None:
            continue
        if column is None and belongs_to_table:
            continue  # the table's own indexes, constraints and defaults go with it
        if column is not None and belongs_to_table and not description.startswith(("index", "constraint")):
            continue
        outcome = "dropped" if deptype == "a" or cascade else "blocks"
        found.append(Dependent(description, target, outcome))
    return found


def rollback(conn: Conn, migration: Migration, options: RunOptions, emit: Emit) -> bool:
    """Run the down file (less what existed before) and remove the ledger row, in one transaction."""
    exp = migration.expectations
    kept: tuple[str, ...] = ()

    def prepare(c: Conn) -> Sequence[Statement] | None:
        nonlocal kept
        row = ledger.read(c).get(migration.version)
        keep = set(row.preexisting) if row else set()
        statements, skipped = _split(migration, keep)
        kept = tuple(sorted(keep))
        for statement in skipped:
            emit(
                StatementSkipped(
                    migration.version,
                    statement.index,
                    len(migration.down_statements),
                    statement.sql,
                    "it existed before the migration ran, so it stays",
                )
            )
        return statements

    def finish(c: Conn, _duration: float) -> None:
        if ledger.exists(c):
            ledger.remove(c, migration.version)

    plan = runner.Plan(migration.version, migration.name, "down", exp.schema, exp.tables_touched(), prepare, finish)
    duration = runner.run(conn, plan, options, emit)
    if duration is None:
        return False
    emit(MigrationRolledBack(migration.version, migration.name, duration, kept))
    return True
