"""Migration status and apply: what is pending, and bringing a database up to date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from wizard.core import catalog, ledger
from wizard.core.errors import RefusedError
from wizard.core.events import AlreadyApplied, BaselineRecorded, Emit, MigrationApplied
from wizard.core.expectations import Expectations
from wizard.core.ledger import LedgerRow
from wizard.core.migrations import Migration, Statement

if TYPE_CHECKING:
    from wizard.core.runner import RunOptions

Conn = psycopg.Connection[Any]
APPLIED, PENDING, MODIFIED = "applied", "pending", "modified"


@dataclass(frozen=True)
class MigrationStatus:
    migration: Migration
    state: str
    recorded: LedgerRow | None
    note: str = ""


def precondition_holds(conn: Conn, expectations: Expectations) -> bool:
    pre = expectations.precondition
    if pre is None:
        return True
    found = {c.name: c.data_type for c in catalog.columns(conn, expectations.schema, pre.table)}
    return found.get(pre.column) == pre.type


def _first_applicable(migrations: Sequence[Migration]) -> Migration | None:
    return next((m for m in migrations if not m.baseline), None)


def status(conn: Conn, migrations: Sequence[Migration]) -> list[MigrationStatus]:
    """Each migration's state; reads only (the ledger may not exist yet)."""
    rows = ledger.read(conn)
    first = _first_applicable(migrations)
    adoptable = first is None or precondition_holds(conn, first.expectations)
    result: list[MigrationStatus] = []
    for migration in migrations:
        row = rows.get(migration.version)
        if row is not None:
            if row.checksum == migration.checksum:
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
    return [s.migration for s in statuses if s.state == PENDING and not s.migration.baseline]


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
    from wizard.core import runner

    exp = migration.expectations
    preexisting: tuple[str, ...] = ()
    # Baselines recorded in the migration's transaction: announced only once it has committed
    # (a failed or cancelled run rolls them back with everything else, so it must not claim them).
    baselines: list[Migration] = []

    def prepare(c: Conn) -> Sequence[Statement] | None:
        nonlocal preexisting
        baselines.clear()  # a retry after a lock timeout starts a new transaction
        rows = ledger.read(c)
        row = rows.get(migration.version)
        if row is not None:
            if row.checksum != migration.checksum:
                refuse_if_modified([MigrationStatus(migration, MODIFIED, row)])
            emit(AlreadyApplied(migration.version, migration.name))
            return None
        refuse_unless_precondition(c, migration)
        preexisting = catalog.existing_objects(c, exp)
        ledger.ensure(c)
        for base in migrations:
            if base.baseline and base.version < migration.version and base.version not in rows:
                ledger.record(c, version=base.version, name=base.name, kind="baseline", checksum=base.checksum)
                baselines.append(base)
        return migration.statements

    def finish(c: Conn, duration: float) -> None:
        ledger.record(
            c,
            version=migration.version,
            name=migration.name,
            kind="applied",
            checksum=migration.checksum,
            duration_ms=round(duration * 1000),
            preexisting=preexisting,
        )

    plan = runner.Plan(migration.version, migration.name, "up", exp.schema, exp.tables_touched(), prepare, finish)
    duration = runner.run(conn, plan, options, emit)
    if duration is None:
        return False
    for base in baselines:
        emit(BaselineRecorded(base.version, base.name))
    emit(MigrationApplied(migration.version, migration.name, duration, preexisting))
    return True
