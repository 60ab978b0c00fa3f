"""Undoing a migration: first what would be lost, then the down file in a transaction.

Only what the migration created is removed: objects its ledger row lists as already
present before it ran (an index someone made by hand, say) are kept, and the rollback
history remembers them so that a later rollback keeps them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from wizard.core import catalog, ledger, runner
from wizard.core.describe import describe
from wizard.core.engine import APPLIED, MODIFIED, PARTIAL, status
from wizard.core.errors import RefusedError
from wizard.core.events import Emit, MigrationRolledBack, StatementSkipped
from wizard.core.migrations import Migration, Statement
from wizard.core.run_options import RunOptions

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
    modified: bool = False  # the migration's file changed after it was applied

    @property
    def modified_note(self) -> str:
        """Said before a rollback is confirmed, on every screen and command; '' when unchanged."""
        if not self.modified:
            return ""
        return (
            f"{self.migration.path.name} changed after it was applied (it is not the file the ledger"
            " recorded), so the database may not match it: what is listed above is read from the database,"
            f" and the rollback runs {self.migration.down_path.name if self.migration.down_path else 'its down file'}"
            " as it is now."
        )

    @property
    def nothing_to_do(self) -> bool:
        return not self.recorded and not self.present

    @property
    def blocked(self) -> tuple[Dependent, ...]:
        return tuple(d for d in self.dependents if d.outcome == "blocks")


def _keep(conn: Conn, migration: Migration, row: ledger.LedgerRow | None = None) -> set[str]:
    """What a rollback must leave: what the ledger says predates the migration (`row`, its
    ledger row, when the caller has read it) or, once rolled back, what the last rollback kept
    for that reason."""
    row = row or ledger.read(conn).get(migration.version)
    if row is not None:
        return set(row.preexisting)
    return set(ledger.kept_by_last_rollback(conn, migration.version))


def _removable(conn: Conn, migration: Migration) -> set[str]:
    return set(catalog.existing_objects(conn, migration.expectations)) - _keep(conn, migration)


def latest_applied(conn: Conn, migrations: Sequence[Migration]) -> Migration | None:
    """The newest non-baseline migration that is recorded, or whose own objects are present."""
    for state in reversed(status(conn, migrations)):
        migration = state.migration
        if migration.baseline:
            continue
        if state.state in (APPLIED, MODIFIED, PARTIAL) or _removable(conn, migration):
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
        raise RefusedError(
            f"{migration.label} has no down file, so the wizard cannot undo it.",
            fix=("Restore the backup taken before the migration instead (migration-wizard restore FILE).",),
        )
    exp = migration.expectations
    row = ledger.read(conn).get(migration.version)
    recorded = row is not None
    kept = _keep(conn, migration, row)
    present = set(catalog.existing_objects(conn, exp))
    statements, skipped = _split(migration, kept)
    rows_lost: list[tuple[str, int]] = []
    values_lost: list[tuple[str, int]] = []
    dependents: list[Dependent] = []
    own_indexes = {i.name for i in exp.indexes}
    # In statement order: a view that an earlier DROP ... CASCADE removes cannot block a later statement.
    for statement in statements:
        what = describe(statement)
        for key in (d for d in what.drops if d in present):
            kind, _, name = key.partition(":")
            if kind == "table":
                table = sql.Identifier(exp.schema, name)
                rows_lost.append((name, _scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(table))))
                found = _dependents(conn, _oid(conn, exp.schema, name), None, own_indexes)
                dependents += _judge(found, name, what.cascade, dependents)
            elif kind == "column":
                table_name, _, column = name.partition(".")
                table = sql.Identifier(exp.schema, table_name)
                query = sql.SQL("SELECT count({}) FROM {}").format(sql.Identifier(column), table)
                values_lost.append((name, _scalar(conn, query)))
                found = _dependents(conn, _oid(conn, exp.schema, table_name), column, own_indexes)
                dependents += _judge(found, name, what.cascade, dependents)
    return RollbackImpact(
        migration=migration,
        recorded=recorded,
        present=tuple(sorted(present - kept)),
        rows_lost=tuple(rows_lost),
        values_lost=tuple(values_lost),
        dependents=tuple(dict.fromkeys(dependents)),
        kept=tuple(sorted(kept & present)),
        statements=statements,
        skipped=skipped,
        modified=row is not None and row.checksum != migration.checksum,
    )


def _judge(found: list[tuple[str, str]], target: str, cascade: bool, earlier: list[Dependent]) -> list[Dependent]:
    gone = {d.description for d in earlier if d.outcome == "dropped"}
    judged: list[Dependent] = []
    for description, deptype in found:
        if description in gone:
            continue
        outcome = "dropped" if deptype == "a" or cascade else "blocks"
        judged.append(Dependent(description, target, outcome))
    return judged


def _scalar(conn: Conn, query: sql.Composed) -> int:
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def _oid(conn: Conn, schema: str, table: str) -> int:
    row = conn.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))::oid", (schema, table)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


# Objects depending on a table (or one of its columns): their description, how they
# depend ('a' automatic: dropped with it; 'n' normal: needs CASCADE), whether they
# belong to the table itself, their own name, and for views the view's oid.
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
  END = %(rel)s::oid,
  CASE WHEN d.classid = 'pg_class'::regclass THEN (SELECT relname FROM pg_class WHERE oid = d.objid)::text END,
  CASE WHEN d.classid = 'pg_rewrite'::regclass
       THEN (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = d.objid)::oid END
FROM pg_depend d
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = %(rel)s::oid
  AND (%(column)s::text IS NULL OR d.refobjsubid =
       (SELECT attnum FROM pg_attribute WHERE attrelid = %(rel)s::oid AND attname = %(column)s::text))
  AND d.deptype IN ('n', 'a')
"""


def _dependents(conn: Conn, rel: int, column: str | None, own_indexes: set[str]) -> list[tuple[str, str]]:
    """(description, deptype) of every object outside `rel` that depends on it, following
    views of views: a CASCADE takes those too."""
    found: list[tuple[str, str]] = []
    seen_views: set[int] = set()
    pending: list[tuple[int, str | None, str | None]] = [(rel, column, None)]
    while pending:
        current, col, inherited = pending.pop()
        rows = conn.execute(_DEPENDENTS, {"rel": current, "column": col}).fetchall()
        for description, deptype, belongs, relname, view in rows:
            if description is None or relname in own_indexes:
                continue
            if belongs and (col is None or not description.startswith(("index", "constraint"))):
                continue  # the table's own indexes, constraints and defaults go with it
            found.append((description, inherited or deptype))
            if view is not None and view not in seen_views:
                seen_views.add(view)
                # Whatever depends on this view goes the same way as the view itself.
                pending.append((int(view), None, inherited or deptype))
    return list(dict.fromkeys(found))


def rollback(conn: Conn, migration: Migration, options: RunOptions, emit: Emit) -> bool:
    """Run the down file (less what existed before) and record the rollback, in one transaction."""
    exp = migration.expectations
    kept: tuple[str, ...] = ()

    def prepare(c: Conn) -> Sequence[Statement] | None:
        nonlocal kept
        keep = _keep(c, migration)
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
        ledger.ensure(c)
        ledger.record_rollback(c, version=migration.version, name=migration.name, kept=kept)

    plan = runner.Plan(
        migration.version, migration.name, "down", exp.schema, exp.tables_touched(), prepare, finish,
        total=len(migration.down_statements),
    )  # fmt: skip
    duration = runner.run(conn, plan, options, emit)
    if duration is None:
        return False
    emit(MigrationRolledBack(migration.version, migration.name, duration, kept))
    return True
