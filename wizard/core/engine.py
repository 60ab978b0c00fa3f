"""Migration status and apply: what is pending, and bringing a database up to date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from wizard.core import catalog, ledger
from wizard.core.errors import RefusedError
from wizard.core.events import AlreadyApplied, BaselineRecorded, Emit, MigrationApplied, TransactionalPartCommitted
from wizard.core.expectations import Expectations
from wizard.core.ledger import LedgerRow
from wizard.core.migrations import Migration, Statement

if TYPE_CHECKING:
    from wizard.core.run_options import RunOptions

Conn = psycopg.Connection[Any]
# PARTIAL: committed, but indexes it builds online (CONCURRENTLY) are not all built yet (online.py).
APPLIED, PENDING, MODIFIED, PARTIAL = "applied", "pending", "modified", "partial"


@dataclass(frozen=True)
class MigrationStatus:
    migration: Migration
    state: str
    recorded: LedgerRow | None
    note: str = ""


def precondition_holds(conn: Conn, expectations: Expectations, snapshot: catalog.Snapshot | None = None) -> bool:
    """The migration's precondition (a table with a column of a type) holds; read from the
    snapshot when one was taken (no statement), else asked of the database."""
    pre = expectations.precondition
    if pre is None:
        return True
    if snapshot is not None:
        columns = snapshot.columns(expectations.schema, pre.table)
    else:
        columns = catalog.columns(conn, expectations.schema, pre.table)
    found = {c.name: c.data_type for c in columns}
    return found.get(pre.column) == pre.type


def _first_applicable(migrations: Sequence[Migration]) -> Migration | None:
    return next((m for m in migrations if not m.baseline), None)


def status(conn: Conn, migrations: Sequence[Migration], found: catalog.Survey | None = None) -> list[MigrationStatus]:
    """Each migration's state; reads only (the ledger may not exist yet), in one round trip,
    or none when given what a caller's survey (one that wanted the first migration's tables) read."""
    first = _first_applicable(migrations)
    if found is None:
        found = catalog.survey(conn, catalog.Wanted.of([first.expectations] if first else []))
    rows = found.ledger
    adoptable = first is None or precondition_holds(conn, first.expectations, found.catalog)
    result: list[MigrationStatus] = []
    for migration in migrations:
        row = rows.get(migration.version)
        if row is not None:
            if row.checksum == migration.checksum and not row.complete:
                note = "committed, but its online index builds are not all done: migrate finishes them"
                result.append(MigrationStatus(migration, PARTIAL, row, note))
            elif row.checksum == migration.checksum:
                note = "recorded as the baseline" if row.kind == "baseline" else ""
                result.append(MigrationStatus(migration, APPLIED, row, note))
            else:
                result.append(MigrationStatus(migration, MODIFIED, row, "the file changed after it was applied"))
        elif migration.baseline:
            if adoptable:
                note = "the application's tables are present; recorded as the baseline on the first migrate"
                result.append(MigrationStatus(migration, APPLIED, None, note))
            else:
                result.append(MigrationStatus(migration, PENDING, None, _missing_table_note(first)))
        else:
            result.append(MigrationStatus(migration, PENDING, None))
    return result


def _missing_table_note(first: Migration | None) -> str:
    if first is None or first.expectations.precondition is None:
        return ""
    pre = first.expectations.precondition
    return f"table {first.expectations.schema}.{pre.table} is missing: is this the application's database?"


def pending(statuses: Sequence[MigrationStatus]) -> list[Migration]:
    return [s.migration for s in statuses if s.state in (PENDING, PARTIAL) and not s.migration.baseline]


def refuse_if_modified(statuses: Sequence[MigrationStatus]) -> None:
    changed = [s.migration.label for s in statuses if s.state == MODIFIED]
    if changed:
        raise RefusedError(
            f"{', '.join(changed)} changed after it was applied, so the database may not match the file.",
            fix=(
                "Restore the original file (git checkout) and run verify;"
                " a change to the schema belongs in a new migration file.",
            ),
        )


def apply_pending(conn: Conn, migrations: Sequence[Migration], options: RunOptions, emit: Emit) -> list[str]:
    """Apply every pending migration, each in its own transaction; returns the versions applied."""
    statuses = status(conn, migrations)
    refuse_if_modified(statuses)
    applied: list[str] = []
    for migration in pending(statuses):
        if apply_one(conn, migrations, migration, options, emit):
            applied.append(migration.version)
    return applied


def refuse_unless_precondition(conn: Conn, migration: Migration) -> None:
    exp = migration.expectations
    if exp.precondition is None or precondition_holds(conn, exp):
        return
    pre = exp.precondition
    raise RefusedError(
        f"This database has no table {exp.schema}.{pre.table} with a {pre.type} column {pre.column},"
        f" so {migration.label} cannot run here; nothing was written.",
        fix=(pre.explanation, "Check that the URL points at the application's database."),
    )


def apply_one(
    conn: Conn, migrations: Sequence[Migration], migration: Migration, options: RunOptions, emit: Emit
) -> bool:
    # Imported here: the runner describes statements with pglast, which `status` (the other
    # half of this module) does without; importing both costs ~55 ms.
    from wizard.core import online, runner

    exp = migration.expectations
    preexisting: tuple[str, ...] = ()
    # Baselines recorded in the migration's transaction: announced only once it has committed
    # (a failed or cancelled run rolls them back with everything else, so it must not claim them).
    baselines: list[Migration] = []
    # Index builds left for after the commit (online.py), and the ledger row of a migration
    # whose transactional part an earlier run committed.
    later: list[Statement] = []
    sizes: dict[str, int] = {}  # the tables' rows, as the split read them
    resumed: list[LedgerRow] = []

    def prepare(c: Conn) -> Sequence[Statement] | None:
        nonlocal preexisting
        baselines.clear()  # a retry after a lock timeout starts a new transaction
        later.clear()
        sizes.clear()
        rows = ledger.read(c)
        row = rows.get(migration.version)
        if row is not None:
            if row.checksum != migration.checksum:
                refuse_if_modified([MigrationStatus(migration, MODIFIED, row)])
            if not row.complete:
                resumed.append(row)
                return None
            emit(AlreadyApplied(migration.version, migration.name))
            return None
        refuse_unless_precondition(c, migration)
        preexisting = catalog.existing_objects(c, exp)
        ledger.ensure(c)
        for base in migrations:
            if base.baseline and base.version < migration.version and base.version not in rows:
                ledger.record(c, version=base.version, name=base.name, kind="baseline", checksum=base.checksum)
                baselines.append(base)
        now, online_part, counted = online.split(c, exp.schema, migration.statements, options.online_rows)
        later.extend(online_part)
        sizes.update(counted)
        return now

    def finish(c: Conn, duration: float) -> None:
        ledger.record(
            c,
            version=migration.version,
            name=migration.name,
            kind="applied",
            checksum=migration.checksum,
            duration_ms=round(duration * 1000),
            preexisting=preexisting,
            phase=ledger.TRANSACTIONAL if later else ledger.COMPLETE,
        )

    plan = runner.Plan(
        migration.version, migration.name, "up", exp.schema, exp.tables_touched(), prepare, finish,
        total=len(migration.statements),
    )  # fmt: skip
    duration = runner.run(conn, plan, options, emit)
    if duration is None and not resumed:
        return False
    for base in baselines:
        emit(BaselineRecorded(base.version, base.name))
    if duration is not None and not later:
        emit(MigrationApplied(migration.version, migration.name, duration, preexisting))
        return True
    if duration is not None:
        names = tuple(str(s.node.idxname) for s in later)
        emit(TransactionalPartCommitted(migration.version, migration.name, duration, names))
    else:
        preexisting = resumed[0].preexisting
        later.extend(online.left_to_build(conn, exp.schema, migration.statements))
    built = online.build(conn, migration, later, options, emit, sizes or None)
    if built is None:  # another run finished the builds (or rolled the migration back) meanwhile
        emit(AlreadyApplied(migration.version, migration.name))
        return False
    emit(MigrationApplied(migration.version, migration.name, (duration or 0.0) + built, preexisting))
    return True
