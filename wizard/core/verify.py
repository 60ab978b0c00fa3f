"""Verification: does the database hold what each migration's expectations file declares?

Every check returns pass, warn or fail with the rows to show, and each migration is then
applied and verified, failed, or not applied (with when, if the wizard rolled it back).

Over a slow link each statement is a round trip, so verify asks in as few as it can: one
flight (catalog.survey) reads the catalogs, the ledger and the wizard's rollbacks, and the
smoke test's parent row; the checks then read that, running no statement (and so needing no
savepoint of their own). Only the smoke test writes: its test rows go in a transaction that
is always rolled back (one flight for its inserts, one for the ROLLBACK), so verify leaves
nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq, sql

from wizard.core import catalog, ledger
from wizard.core.catalog import Answer, Statement
from wizard.core.doctor import diagnose_exception
from wizard.core.expectations import CheckSpec, Expectations, SmokeTestSpec
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
VERIFY_LOCK_TIMEOUT = "5s"


@dataclass
class _Context:
    conn: Conn
    migration: Migration
    exp: Expectations
    found: catalog.Snapshot
    recorded: ledger.LedgerRow | None
    rolled_back: ledger.RollbackRow | None = None  # the wizard's latest rollback, when not recorded
    present: frozenset[str] = frozenset()  # its own objects found, when not recorded
    smoke_reads: tuple[Answer, ...] = ()  # the smoke test's parent row and absent key, if read


Check = Callable[[_Context, CheckSpec], CheckResult]


def run_verify(conn: Conn, migrations: Sequence[Migration]) -> VerifyReport:
    todo = [m for m in migrations if not m.baseline]
    reads = [_smoke_reads(m.expectations) for m in todo]
    # A table locked by another session makes a check fail with the reason, not hang.
    found = catalog.survey(
        conn,
        catalog.Wanted.of(m.expectations for m in todo),
        tries=[statement for pair in reads for statement in pair],
        rollbacks=True,
        lock_timeout=VERIFY_LOCK_TIMEOUT,
    )
    answers = iter(found.tries)
    results: list[CheckResult] = []
    states: list[MigrationState] = []
    for migration, pair in zip(todo, reads, strict=True):
        smoke = tuple(next(answers) for _ in pair)
        ctx = _context(conn, migration, found, smoke)
        checks = [_run_check(ctx, spec) for spec in migration.expectations.checks]
        results += checks
        states.append(_state(ctx, checks))
    return VerifyReport(results, states)


def _context(conn: Conn, migration: Migration, found: catalog.Survey, smoke: tuple[Answer, ...]) -> _Context:
    exp = migration.expectations
    recorded = found.ledger.get(migration.version)
    if recorded is not None:
        return _Context(conn, migration, exp, found.catalog, recorded, smoke_reads=smoke)
    rolled_back = found.rollbacks.get(migration.version)
    # What a rollback kept had existed before the migration ran: it says nothing of the migration.
    kept = set(rolled_back.kept) if rolled_back else set()
    present = frozenset(set(found.catalog.existing_objects(exp)) - kept)
    return _Context(conn, migration, exp, found.catalog, None, rolled_back, present, smoke)


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
        result = CheckResult(spec.id, spec.title, FAIL, f"The check could not run: {_first_line(exc)}", fix=_fix(exc))
    return replace(result, migration=ctx.migration.version)


def _fix(exc: psycopg.Error) -> tuple[str, ...]:
    """What the knowledge base says to do about a database error a check met (none if unknown)."""
    found = diagnose_exception(exc)
    return found.fix if found.recognized else ()


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


def _smoke_reads(exp: Expectations) -> tuple[Statement, ...]:
    """What the smoke test reads before it writes (a parent row to use, a key no parent row
    has), sent with the survey: they fail when a table is missing, which the survey expects."""
    smoke = exp.smoke_test
    if smoke is None:
        return ()
    parent = sql.Identifier(exp.schema, smoke.parent_table)
    key = sql.Identifier(smoke.parent_key)
    return (
        (sql.SQL("SELECT {} FROM {} LIMIT 1").format(key, parent), None),
        (_ABSENT_KEY.format(parent, key), None),
    )


_ABSENT_KEY = sql.SQL(
    "SELECT k FROM (SELECT gen_random_uuid() AS k) g WHERE NOT EXISTS (SELECT 1 FROM {} WHERE {} = g.k)"
)


def _smoke_test(ctx: _Context, spec: CheckSpec) -> CheckResult:
    smoke = ctx.exp.smoke_test
    if smoke is None:
        return CheckResult(spec.id, spec.title, WARN, "No smoke test is declared for this migration.")
    conn, schema = ctx.conn, ctx.exp.schema
    for table in (smoke.table, smoke.parent_table):
        if not ctx.found.table_exists(schema, table):
            return CheckResult(spec.id, spec.title, FAIL, f"Skipped: table {table} does not exist.")
    with _Scratch(conn) as scratch:
        return _smoke_steps(ctx, spec, smoke, scratch)


def _smoke_steps(ctx: _Context, spec: CheckSpec, smoke: SmokeTestSpec, scratch: _Scratch) -> CheckResult:
    schema = ctx.exp.schema
    reads = ctx.smoke_reads
    catalog.raise_failed(reads)  # a read that failed (a lock): the check could not run
    if len(reads) < 2 or any(r.skipped for r in reads):  # not sent, or skipped after another's error
        reads = tuple(scratch.send(_smoke_reads(ctx.exp)))
        catalog.raise_failed(reads)
    parent_id = reads[0].rows[0][0] if reads[0].rows else None
    absent = (
        reads[1].rows[0][0] if reads[1].rows else _absent_key(ctx.conn, schema, smoke.parent_table, smoke.parent_key)
    )
    rows: list[dict[str, Any]] = []
    statuses: list[str] = []
    errors: list[psycopg.Error] = []
    if parent_id is None:
        step = f"create a test row in empty {smoke.parent_table}"
        (created,) = scratch.send([_insert(schema, smoke.parent_table, smoke.parent_values, smoke.parent_key)])
        if created.error is None:
            parent_id = created.rows[0][0] if created.rows else None
            rows.append({"step": step, "result": PASS, "detail": ""})
        else:
            errors.append(created.error)
            rows.append({"step": step, "result": WARN, "detail": _first_line(created.error)})
            statuses.append(WARN)
    else:
        rows.append({"step": f"use an existing {smoke.parent_table} row", "result": PASS, "detail": str(parent_id)})
    bogus_values = {**smoke.values, smoke.foreign_key_column: absent}
    bogus = _insert(schema, smoke.table, bogus_values, smoke.foreign_key_column)
    if parent_id is not None:
        # The test row and the bogus one in one flight: the bogus one fails (as it should) last.
        values = {**smoke.values, smoke.foreign_key_column: parent_id}
        inserted, refused = scratch.send([_insert(schema, smoke.table, values, smoke.foreign_key_column), bogus])
        if inserted.error is None:
            rows.append({"step": f"insert into {smoke.table}", "result": PASS, "detail": "inserted"})
            statuses.append(PASS)
        else:
            errors.append(inserted.error)
            rows.append({"step": f"insert into {smoke.table}", "result": FAIL, "detail": _first_line(inserted.error)})
            statuses.append(FAIL)
    else:
        refused = Answer()
    if refused.skipped:  # the test row failed before it (or there was no parent row): on its own
        (refused,) = scratch.send([bogus])
    step = f"insert with an {smoke.foreign_key_column} that does not exist (must be refused)"
    if refused.error is None:
        rows.append({"step": step, "result": FAIL, "detail": "accepted: the foreign key is not enforced"})
        statuses.append(FAIL)
    elif isinstance(refused.error, pg_errors.ForeignKeyViolation):
        rows.append({"step": step, "result": PASS, "detail": "refused by the foreign key"})
        statuses.append(PASS)
    else:
        errors.append(refused.error)
        rows.append({"step": step, "result": FAIL, "detail": _first_line(refused.error)})
        statuses.append(FAIL)
    rows.append({"step": "roll back every test row", "result": PASS, "detail": "nothing is left behind"})
    status = worst(statuses)
    detail = {
        PASS: "Test insert worked and the foreign key refused a bad reference; all rolled back.",
        WARN: "Could not create a test parent row (see rows); the foreign key test still ran.",
        FAIL: "The test insert did not behave as expected (see rows).",
    }[status]
    return CheckResult(spec.id, spec.title, status, detail, rows, _fix(errors[0]) if errors else ())


_SCRATCH = "verify_smoke_test"


class _Scratch:
    """The smoke test's transaction, always rolled back. Each `send` is one flight: each
    insert in a savepoint of its own (sent with it), so that one that fails undoes only
    itself; the next flight starts by rolling back to that savepoint. The transaction opens
    with the first flight and ends with one ROLLBACK."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.opened = False
        self.nested = False  # opened inside a transaction the caller had open: a savepoint
        self.undo: str | None = None  # the savepoint of an insert that failed
        self.count = 0

    def __enter__(self) -> _Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        status = self.conn.info.transaction_status
        if not self.opened or status not in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR):
            return
        if self.nested:  # inside a transaction of the caller's: undo only the test's part of it
            self.conn.execute(f"ROLLBACK TO SAVEPOINT {_SCRATCH}; RELEASE SAVEPOINT {_SCRATCH}")
        else:
            self.conn.execute("ROLLBACK")

    def send(self, inserts: Sequence[Statement]) -> list[Answer]:
        """Each statement's Answer; raises the error of a statement of the wizard's own
        (BEGIN, SAVEPOINT, ...): then the test itself could not run."""
        control: list[Statement] = []
        if not self.opened:
            self.nested = self.conn.info.transaction_status != pq.TransactionStatus.IDLE
            control += [
                (f"SAVEPOINT {_SCRATCH}" if self.nested else "BEGIN", None),
                ("SELECT set_config('lock_timeout', %s, true)", (VERIFY_LOCK_TIMEOUT,)),
            ]
            self.opened = True
        if self.undo is not None:
            control.append((f"ROLLBACK TO SAVEPOINT {self.undo}", None))
            self.undo = None
        statements = list(control)
        places: list[int] = []
        names: list[str] = []
        for insert in inserts:
            self.count += 1
            names.append(f"smoke_{self.count}")
            statements.append((f"SAVEPOINT {names[-1]}", None))
            places.append(len(statements))
            statements.append(insert)
        answers = catalog.flight(self.conn, statements)
        mine = [a for i, a in enumerate(answers) if i not in places]
        catalog.raise_failed(mine)
        found = [answers[i] for i in places]
        failed = next((n for n, a in zip(names, found, strict=True) if a.error is not None), None)
        self.undo = failed
        return found


def _insert(schema: str, table: str, values: dict[str, Any], returning: str) -> Statement:
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
        sql.Identifier(schema, table),
        sql.SQL(", ").join(sql.Identifier(k) for k in values),
        sql.SQL(", ").join(sql.Placeholder() for _ in values),
        sql.Identifier(returning),
    )
    return query, list(values.values())


def _absent_key(conn: Conn, schema: str, table: str, key: str) -> Any:
    query = _ABSENT_KEY.format(sql.Identifier(schema, table), sql.Identifier(key))
    while True:
        row = conn.execute(query).fetchone()
        if row:
            return row[0]


def _first_line(exc: psycopg.Error) -> str:
    return exc.diag.message_primary or str(exc).strip().splitlines()[0]


_CHECKS: dict[str, Check] = {
    "columns": _columns,
    "table_exists": _table_exists,
    "foreign_keys": _foreign_keys,
    "indexes": _indexes,
    "invalid_indexes": _invalid_indexes,
    "smoke_test": _smoke_test,
    "ledger": _ledger,
}
