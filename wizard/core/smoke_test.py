"""Verify's smoke test: a test row inserted into the migration's new table and one with a key
no parent row has (the foreign key must refuse it), in a transaction that is always rolled
back, so verify leaves nothing behind. Each flight of inserts is one round trip."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq, sql

from wizard.core.catalog import Snapshot
from wizard.core.doctor import diagnose_exception
from wizard.core.expectations import CheckSpec, Expectations, SmokeTestSpec
from wizard.core.flight import Answer, Statement, flight, raise_failed
from wizard.core.verify_report import FAIL, PASS, WARN, CheckResult, worst

Conn = psycopg.Connection[Any]
LOCK_TIMEOUT = "5s"  # a table locked by another session makes a check fail with the reason, not hang


def reads(exp: Expectations) -> tuple[Statement, ...]:
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


def run(conn: Conn, exp: Expectations, found: Snapshot, sent: tuple[Answer, ...], spec: CheckSpec) -> CheckResult:
    """The smoke test of `exp`; `sent`: its reads, if they went with verify's survey."""
    smoke = exp.smoke_test
    if smoke is None:
        return CheckResult(spec.id, spec.title, WARN, "No smoke test is declared for this migration.")
    for table in (smoke.table, smoke.parent_table):
        if not found.table_exists(exp.schema, table):
            return CheckResult(spec.id, spec.title, FAIL, f"Skipped: table {table} does not exist.")
    with _Scratch(conn) as scratch:
        return _steps(conn, exp, sent, spec, smoke, scratch)


def _steps(
    conn: Conn, exp: Expectations, sent: tuple[Answer, ...], spec: CheckSpec, smoke: SmokeTestSpec, scratch: _Scratch
) -> CheckResult:
    schema = exp.schema
    raise_failed(sent)  # a read that failed (a lock): the check could not run
    if len(sent) < 2 or any(r.skipped for r in sent):  # not sent, or skipped after another's error
        sent = tuple(scratch.send(reads(exp)))
        raise_failed(sent)
    parent_id = sent[0].rows[0][0] if sent[0].rows else None
    absent = sent[1].rows[0][0] if sent[1].rows else _absent_key(conn, schema, smoke.parent_table, smoke.parent_key)
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
            rows.append({"step": step, "result": WARN, "detail": first_line(created.error)})
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
            rows.append({"step": f"insert into {smoke.table}", "result": FAIL, "detail": first_line(inserted.error)})
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
        rows.append({"step": step, "result": FAIL, "detail": first_line(refused.error)})
        statuses.append(FAIL)
    rows.append({"step": "roll back every test row", "result": PASS, "detail": "nothing is left behind"})
    status = worst(statuses)
    detail = {
        PASS: "Test insert worked and the foreign key refused a bad reference; all rolled back.",
        WARN: "Could not create a test parent row (see rows); the foreign key test still ran.",
        FAIL: "The test insert did not behave as expected (see rows).",
    }[status]
    return CheckResult(spec.id, spec.title, status, detail, rows, known_fix(errors[0]) if errors else ())


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
                ("SELECT set_config('lock_timeout', %s, true)", (LOCK_TIMEOUT,)),
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
        answers = flight(self.conn, statements)
        mine = [a for i, a in enumerate(answers) if i not in places]
        raise_failed(mine)
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


def known_fix(exc: psycopg.Error) -> tuple[str, ...]:
    """What the knowledge base says to do about a database error a check met (none if unknown)."""
    found = diagnose_exception(exc)
    return found.fix if found.recognized else ()


def first_line(exc: psycopg.Error) -> str:
    return exc.diag.message_primary or str(exc).strip().splitlines()[0]
