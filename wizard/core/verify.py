"""Verification: does the database hold what each migration's expectations file declares?

Every check returns pass, warn or fail with the rows to show, and each migration is then
applied and verified, failed, or not applied (with when, if the wizard rolled it back).

Over a slow link each statement is a round trip, so verify asks in as few as it can: one
flight (catalog.survey) reads the catalogs, the ledger and the wizard's rollbacks, and
carries the first smoke test's read and writes too; the checks then read that, running no
statement (and so needing no savepoint of their own). Only the smoke test writes: its test
rows go in a transaction that is always rolled back (smoke_test.Trial), so verify leaves
nothing behind. With `then_close` (the CLI's verify, which has nothing else to ask), verify
closes the connection when done, and that transaction ends with it instead of a ROLLBACK:
one round trip in all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from wizard.core import catalog, ledger, smoke_test
from wizard.core.expectations import CheckSpec, Expectations
from wizard.core.flight import Answer
from wizard.core.migrations import Migration
from wizard.core.verify_report import (
    FAIL,
    PASS,
    WARN,
    CheckResult,
    MigrationState,
    VerifyReport,
    judge,
    when,
    worst,
)

Conn = psycopg.Connection[Any]
VERIFY_LOCK_TIMEOUT = smoke_test.LOCK_TIMEOUT


@dataclass
class _Context:
    trial: smoke_test.Trial  # the smoke tests' transaction, on verify's connection
    migration: Migration
    exp: Expectations
    found: catalog.Snapshot
    recorded: ledger.LedgerRow | None
    rolled_back: ledger.RollbackRow | None = None  # the wizard's latest rollback, when not recorded
    present: frozenset[str] = frozenset()  # its own objects found, when not recorded
    smoke_reads: tuple[Answer, ...] = ()  # the smoke test's parent row, if read


Check = Callable[[_Context, CheckSpec], CheckResult]


def run_verify(conn: Conn, migrations: Sequence[Migration], *, then_close: bool = False) -> VerifyReport:
    """`then_close`: close `conn` when done; the server rolls back the smoke tests' rows then."""
    todo = [m for m in migrations if not m.baseline]
    reads = [smoke_test.reads(m.expectations) for m in todo]
    with smoke_test.Trial(conn, then_close=then_close) as trial:
        first = next((m.expectations for m in todo if m.expectations.smoke_test), None)
        # A table locked by another session makes a check fail with the reason, not hang.
        found = catalog.survey(
            conn,
            catalog.Wanted.of(m.expectations for m in todo),
            tries=[statement for pair in reads for statement in pair],
            last=trial.ahead(first) if first else (),
            rollbacks=True,
            lock_timeout=VERIFY_LOCK_TIMEOUT,
        )
        trial.received(found.last)
        answers = iter(found.tries)
        results: list[CheckResult] = []
        states: list[MigrationState] = []
        for migration, pair in zip(todo, reads, strict=True):
            smoke = tuple(next(answers) for _ in pair)
            ctx = _context(trial, migration, found, smoke)
            checks = [_run_check(ctx, spec) for spec in migration.expectations.checks]
            results += checks
            states.append(_state(ctx, checks))
    return VerifyReport(results, states)


def _context(
    trial: smoke_test.Trial, migration: Migration, found: catalog.Survey, smoke: tuple[Answer, ...]
) -> _Context:
    exp = migration.expectations
    recorded = found.ledger.get(migration.version)
    if recorded is not None:
        return _Context(trial, migration, exp, found.catalog, recorded, smoke_reads=smoke)
    rolled_back = found.rollbacks.get(migration.version)
    # What a rollback kept had existed before the migration ran: it says nothing of the migration.
    kept = set(rolled_back.kept) if rolled_back else set()
    present = frozenset(set(found.catalog.existing_objects(exp)) - kept)
    return _Context(trial, migration, exp, found.catalog, None, rolled_back, present, smoke)


def _state(ctx: _Context, checks: Sequence[CheckResult]) -> MigrationState:
    applied_at = ctx.recorded.applied_at if ctx.recorded else None
    rolled_back_at = ctx.rolled_back.rolled_back_at if ctx.rolled_back else None
    modified = ctx.recorded is not None and ctx.recorded.checksum != ctx.migration.checksum
    return judge(
        ctx.migration.version, ctx.migration.name, checks, applied_at, rolled_back_at, bool(ctx.present), modified
    )


def _run_check(ctx: _Context, spec: CheckSpec) -> CheckResult:
    # The catalog checks read the survey and cannot meet a database error; the smoke test's
    # statements can, and then it says that it could not run, and why.
    try:
        result = _CHECKS[spec.kind](ctx, spec)
    except psycopg.Error as exc:
        reason = f"The check could not run: {smoke_test.first_line(exc)}"
        result = CheckResult(spec.id, spec.title, FAIL, reason, fix=smoke_test.known_fix(exc))
    return replace(result, migration=ctx.migration.version)


def _columns(ctx: _Context, spec: CheckSpec) -> CheckResult:
    expected = {c.name: c for c in ctx.exp.columns_of(spec.table)}
    actual = ctx.found.columns(ctx.exp.schema, spec.table)
    if not actual:
        return CheckResult(spec.id, spec.title, FAIL, f"Table {spec.table} does not exist.")
    found = {c.name: c for c in actual}
    rows: list[dict[str, Any]] = []
    statuses: list[str] = []
    problems: list[str] = []
    for column in actual:
        want = expected.get(column.name)
        row: dict[str, Any] = {
            "column": column.name,
            "type": column.data_type,
            "nullable": "YES" if column.nullable else "NO",
            "new": want is not None,
            "status": "",
            "note": "",
        }
        if want is not None:
            row["status"], row["note"] = _judge_column(want.type, want.nullable, column, want.tolerated)
            statuses.append(row["status"])
            if row["status"] != PASS:
                problems.append(f"{column.name}: {row['note']}")
        rows.append(row)
    for name, want in expected.items():
        if name not in found:
            rows.append(
                {
                    "column": name,
                    "type": want.type,
                    "nullable": "YES" if want.nullable else "NO",
                    "new": True,
                    "status": FAIL,
                    "note": "missing",
                }
            )
            statuses.append(FAIL)
            problems.append(f"{name} is missing")
    status = worst(statuses)
    detail = "; ".join(problems) if problems else f"All {len(expected)} expected columns are present."
    return CheckResult(spec.id, spec.title, status, detail, rows)


def _judge_column(
    want_type: str, want_nullable: bool, column: catalog.ColumnInfo, tolerated: Sequence[Any]
) -> tuple[str, str]:
    verdicts: list[tuple[str, str]] = []
    if column.data_type != want_type:
        alt = next((a for a in tolerated if a.type == column.data_type), None)
        if alt is None:
            verdicts.append((FAIL, f"is {column.data_type}, expected {want_type}"))
        else:
            verdicts.append((WARN, f"is {column.data_type}, expected {want_type}; to fix: {alt.fix}"))
    if column.nullable != want_nullable:
        if want_nullable:
            verdicts.append((FAIL, "is NOT NULL, so inserts that leave it out would fail; expected nullable"))
        else:
            verdicts.append((FAIL, "allows NULL; expected NOT NULL"))
    if not verdicts:
        return PASS, "ok"
    return worst([v[0] for v in verdicts]), "; ".join(v[1] for v in verdicts)


def _table_exists(ctx: _Context, spec: CheckSpec) -> CheckResult:
    want = next((t for t in ctx.exp.tables if t.name == spec.table), None)
    found = ctx.found.table_type(ctx.exp.schema, spec.table)
    row = {"table": spec.table, "table_type": found or "(missing)"}
    if found is None:
        return CheckResult(spec.id, spec.title, FAIL, f"Table {spec.table} does not exist.", [row])
    if want and found != want.type:
        return CheckResult(spec.id, spec.title, FAIL, f"{spec.table} is a {found}, not a {want.type}.", [row])
    return CheckResult(spec.id, spec.title, PASS, f"{spec.table} exists ({found}).", [row])


def _foreign_keys(ctx: _Context, spec: CheckSpec) -> CheckResult:
    wanted = [f for f in ctx.exp.foreign_keys if f.table == spec.table]
    actual = ctx.found.foreign_keys(ctx.exp.schema, spec.table)
    rows: list[dict[str, Any]] = []
    statuses: list[str] = []
    problems: list[str] = []
    for want in wanted:
        match = next(
            (
                a
                for a in actual
                if a.columns == want.columns
                and a.references_table == want.references_table
                and a.references_columns == want.references_columns
            ),
            None,
        )
        target = f"{want.references_table}({', '.join(want.references_columns)})"
        row = {"columns": ", ".join(want.columns), "references": target, "on_delete": "", "status": FAIL}
        if match is None:
            problems.append(f"no foreign key from {', '.join(want.columns)} to {target}")
        elif match.on_delete != want.on_delete:
            row.update(on_delete=match.on_delete, status=WARN)
            problems.append(f"ON DELETE is {match.on_delete}, expected {want.on_delete}")
        else:
            row.update(on_delete=match.on_delete, status=PASS)
        rows.append(row)
        statuses.append(row["status"])
    status = worst(statuses)
    detail = "; ".join(problems) if problems else "Foreign key present and enforced."
    return CheckResult(spec.id, spec.title, status, detail, rows)


def _indexes(ctx: _Context, spec: CheckSpec) -> CheckResult:
    wanted = ctx.exp.indexes
    found = ctx.found.indexes(ctx.exp.schema, [i.name for i in wanted])
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for want in wanted:
        got = found.get(want.name)
        row = {
            "index": want.name,
            "table": want.table,
            "columns": ", ".join(want.columns),
            "status": PASS,
            "note": "",
        }
        if got is None:
            row.update(status=FAIL, note="missing")
        elif got.table != want.table or got.columns != want.columns:
            row.update(status=FAIL, note=f"is on {got.table} ({', '.join(got.columns)})")
        elif not got.valid:
            row.update(status=FAIL, note="exists but is INVALID (a failed CREATE INDEX CONCURRENTLY)")
        if row["status"] != PASS:
            problems.append(f"{want.name} {row['note']}")
        rows.append(row)
    status = worst([r["status"] for r in rows])
    detail = "; ".join(problems) if problems else f"All {len(wanted)} indexes exist."
    return CheckResult(spec.id, spec.title, status, detail, rows)


def _invalid_indexes(ctx: _Context, spec: CheckSpec) -> CheckResult:
    bad = ctx.found.invalid_indexes(ctx.exp.schema, ctx.exp.tables_touched())
    rows = [{"index": i.name, "table": i.table, "fix": f"REINDEX INDEX {i.name};"} for i in bad]
    if bad:
        names = ", ".join(i.name for i in bad)
        return CheckResult(spec.id, spec.title, FAIL, f"Invalid indexes (not used by queries): {names}.", rows)
    return CheckResult(spec.id, spec.title, PASS, "No invalid index on the migration's tables.", rows)


def _ledger(ctx: _Context, spec: CheckSpec) -> CheckResult:
    row = ctx.recorded
    label = ctx.migration.label
    if row is None:
        return _not_recorded(ctx, spec)
    table = {
        "version": row.version,
        "recorded": "yes",
        "applied_at": row.applied_at.isoformat(timespec="seconds"),
        "applied_by": row.applied_by,
        "checksum_matches": row.checksum == ctx.migration.checksum,
    }
    if row.checksum != ctx.migration.checksum:
        return CheckResult(
            spec.id,
            spec.title,
            FAIL,
            f"{label} changed after it was applied (checksum drift): the database may not match the file.",
            [table],
        )
    if not row.complete:
        table["phase"] = row.phase
        detail = (
            f"{label} is recorded as partly applied: its statements are committed, but the indexes it builds"
            " online are not all built (an interrupted run). Run migrate: it finishes exactly what is left."
        )
        return CheckResult(spec.id, spec.title, FAIL, detail, [table])
    return CheckResult(spec.id, spec.title, PASS, f"{label} is recorded and unchanged.", [table])


def _not_recorded(ctx: _Context, spec: CheckSpec) -> CheckResult:
    label, version, rolled_back = ctx.migration.label, ctx.migration.version, ctx.rolled_back
    if ctx.present:
        since = f" (migration-wizard rolled it back at {when(rolled_back.rolled_back_at)})" if rolled_back else ""
        detail = (
            f"{label} is not recorded in the ledger{since}, but some of it is here (was it run by hand?):"
            " run migrate to complete and record it."
        )
        return CheckResult(spec.id, spec.title, WARN, detail, [{"version": version, "recorded": "no"}])
    if rolled_back is not None:
        detail = (
            f"{label} is not applied: migration-wizard rolled it back at {when(rolled_back.rolled_back_at)}"
            f", run by {rolled_back.rolled_back_by}. Run migrate to apply it again."
        )
        row = {"version": version, "recorded": "no", "rolled_back_at": when(rolled_back.rolled_back_at)}
        return CheckResult(spec.id, spec.title, WARN, detail, [row])
    detail = f"{label} is not applied yet: run migrate to apply and record it."
    return CheckResult(spec.id, spec.title, WARN, detail, [{"version": version, "recorded": "no"}])


def _smoke_test(ctx: _Context, spec: CheckSpec) -> CheckResult:
    return smoke_test.run(ctx.trial, ctx.exp, ctx.found, ctx.smoke_reads, spec)


_CHECKS: dict[str, Check] = {
    "columns": _columns,
    "table_exists": _table_exists,
    "foreign_keys": _foreign_keys,
    "indexes": _indexes,
    "invalid_indexes": _invalid_indexes,
    "smoke_test": _smoke_test,
    "ledger": _ledger,
}
