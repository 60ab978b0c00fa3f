"""Verify's smoke test: a test row inserted into the migration's new table and one with a key
no parent row has (the foreign key must refuse it), in a transaction that is always rolled
back, so verify leaves nothing behind.

Over a slow link each wait is a round trip, so the first smoke test rides on verify's survey
flight: its read (a parent row) and its writes (the test row, which takes its parent key from
a parent row in the same statement, then the row that must be refused, last, since its error
ends the flight). Only what that could not settle (an empty parent table, a statement skipped
after another failed) takes a flight of its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq, sql

from wizard.core.catalog import Snapshot
from wizard.core.expectations import CheckSpec, Expectations, SmokeTestSpec
from wizard.core.flight import Answer, Statement, flight, raise_failed
from wizard.core.verify_report import FAIL, PASS, WARN, CheckResult, worst

Conn = psycopg.Connection[Any]
LOCK_TIMEOUT = "5s"  # a table locked by another session makes a check fail with the reason, not hang


def reads(exp: Expectations) -> tuple[Statement, ...]:
    """What the smoke test reads before it writes (a parent row to use), sent with the
    survey: it fails when a table is missing, which the survey expects."""
    smoke = exp.smoke_test
    if smoke is None:
        return ()
    parent = sql.Identifier(exp.schema, smoke.parent_table)
    return ((sql.SQL("SELECT {} FROM {} LIMIT 1").format(sql.Identifier(smoke.parent_key), parent), None),)


# A key no parent row has, computed by the server in the statement that uses it.
_ABSENT_KEY = sql.SQL(
    "(SELECT k FROM (SELECT gen_random_uuid() AS k) g WHERE NOT EXISTS (SELECT 1 FROM {} WHERE {} = g.k))"
)


def run(trial: Trial, exp: Expectations, found: Snapshot, sent: tuple[Answer, ...], spec: CheckSpec) -> CheckResult:
    """The smoke test of `exp` in the `trial`'s transaction; `sent`: its reads, if they went
    with verify's survey (and its writes too, if `trial.ahead` gave them)."""
    smoke = exp.smoke_test
    if smoke is None:
        return CheckResult(spec.id, spec.title, WARN, "No smoke test is declared for this migration.")
    for table in (smoke.table, smoke.parent_table):
        if not found.table_exists(exp.schema, table):
            trial.undo_ahead(exp)  # its writes, if sent ahead, failed on the missing table
            return CheckResult(spec.id, spec.title, FAIL, f"Skipped: table {table} does not exist.")
    return _steps(trial, exp, sent, spec, smoke)


def _steps(
    trial: Trial, exp: Expectations, sent: tuple[Answer, ...], spec: CheckSpec, smoke: SmokeTestSpec
) -> CheckResult:
    schema = exp.schema
    ahead = trial.took(exp)
    raise_failed(sent)  # a read that failed (a lock): the check could not run
    if not sent or any(r.skipped for r in sent):  # not sent, or skipped after another's error
        sent = tuple(trial.send(reads(exp)))
        raise_failed(sent)
    existing = sent[0].rows[0][0] if sent[0].rows else None
    good = _insert(schema, smoke.table, smoke.values, smoke.foreign_key_column, _parent_key(exp, smoke))
    bogus = _insert(schema, smoke.table, smoke.values, smoke.foreign_key_column, _absent(exp, smoke))
    inserted, refused = ahead if ahead else (Answer(), Answer())
    rows: list[dict[str, Any]] = []
    statuses: list[str] = []
    errors: list[psycopg.Error] = []
    has_parent = existing is not None
    if existing is None:
        trial.undo_ahead(exp)  # the test row sent ahead had no parent row to take its key from
        # A parent row, the test row under it and (unless it ran ahead) the bogus one: one flight.
        parent_row = _insert(schema, smoke.parent_table, smoke.parent_values, smoke.parent_key)
        created, inserted, *rest = trial.send([parent_row, good, *([bogus] if refused.skipped else [])])
        refused = rest[0] if rest else refused
        step = f"create a test row in empty {smoke.parent_table}"
        if created.error is None:
            has_parent = True
            rows.append({"step": step, "result": PASS, "detail": ""})
        else:
            errors.append(created.error)
            rows.append({"step": step, "result": WARN, "detail": first_line(created.error)})
            statuses.append(WARN)
    else:
        rows.append({"step": f"use an existing {smoke.parent_table} row", "result": PASS, "detail": str(existing)})
        if inserted.skipped:  # not sent ahead: the test row, then the bogus one, which fails (as it should) last
            inserted, *rest = trial.send([good, *([bogus] if refused.skipped else [])])
            refused = rest[0] if rest else refused
    if has_parent:
        if inserted.error is None:
            rows.append({"step": f"insert into {smoke.table}", "result": PASS, "detail": "inserted"})
            statuses.append(PASS)
        else:
            errors.append(inserted.error)
            rows.append({"step": f"insert into {smoke.table}", "result": FAIL, "detail": first_line(inserted.error)})
            statuses.append(FAIL)
    if refused.skipped:  # the test row failed before it (or there was no parent row): on its own
        (refused,) = trial.send([bogus])
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


class Trial:
    """The smoke tests' transaction, always rolled back. Each `send` is one flight: each insert
    in a savepoint of its own (sent with it), so that one that fails undoes only itself; the
    next flight starts by rolling back to that savepoint. The transaction opens with the first
    flight and ends at `close`: with one ROLLBACK, or, with `then_close`, with the connection,
    which `close` closes (the server rolls back what a closed connection left open): no wait
    for that ROLLBACK, and nothing can commit the test rows after it.

    `ahead` gives the first smoke test's writes to send with verify's survey flight (one round
    trip for all of verify): the test row takes its parent key from a parent row in the same
    statement, and the row that must be refused goes last, since its error ends the flight.
    `received` then takes their answers."""

    def __init__(self, conn: Conn, *, then_close: bool = False) -> None:
        self.conn = conn
        self.then_close = then_close
        self.opened = False
        self.nested = False  # opened inside a transaction the caller had open: a savepoint
        self.undo: str | None = None  # the savepoint of an insert that failed
        self.count = 0
        self._pending: tuple[list[int], list[str]] = ([], [])
        self._ahead: tuple[Expectations, str, list[Answer]] | None = None  # whose, its first savepoint, answers

    def __enter__(self) -> Trial:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.then_close:  # the server rolls back what the connection left open
            self.conn.close()
            return
        status = self.conn.info.transaction_status
        if not self.opened or status not in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR):
            return
        self.opened = False
        if self.nested:  # inside a transaction of the caller's: undo only the test's part of it
            self.conn.execute(f"ROLLBACK TO SAVEPOINT {_SCRATCH}; RELEASE SAVEPOINT {_SCRATCH}")
        else:
            self.conn.execute("ROLLBACK")

    def ahead(self, exp: Expectations) -> list[Statement]:
        """The smoke test's writes of `exp`, to send last in verify's survey flight."""
        smoke = exp.smoke_test
        if smoke is None or self._ahead is not None:
            return []
        good = _insert(exp.schema, smoke.table, smoke.values, smoke.foreign_key_column, _parent_key(exp, smoke))
        bogus = _insert(exp.schema, smoke.table, smoke.values, smoke.foreign_key_column, _absent(exp, smoke))
        statements = self._prepare([good, bogus])
        self._ahead = (exp, self._pending[1][0], [])
        return statements

    def received(self, answers: Sequence[Answer]) -> None:
        """The answers to what `ahead` gave (none of them run: the survey failed before them)."""
        if self._ahead is None:
            return
        if not answers or answers[0].skipped:  # not even the BEGIN ran: nothing is open
            self.opened = False
            self._ahead = None
            return
        self._ahead[2].extend(self._receive(list(answers)))

    def took(self, exp: Expectations) -> tuple[Answer, Answer] | None:
        """The test row's and the refused row's answers, if `exp`'s writes went ahead."""
        if self._ahead is None or self._ahead[0] is not exp or len(self._ahead[2]) != 2:
            return None
        inserted, refused = self._ahead[2]
        return inserted, refused

    def undo_ahead(self, exp: Expectations) -> None:
        """Roll back what `exp`'s writes sent ahead did, at the next flight."""
        if self.took(exp) is not None and self._ahead is not None:
            self.undo = self._ahead[1]

    def send(self, inserts: Sequence[Statement]) -> list[Answer]:
        """Each statement's Answer; raises the error of a statement of the wizard's own
        (BEGIN, SAVEPOINT, ...): then the test itself could not run."""
        return self._receive(flight(self.conn, self._prepare(inserts)))

    def _prepare(self, inserts: Sequence[Statement]) -> list[Statement]:
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
        self._pending = (places, names)
        return statements

    def _receive(self, answers: list[Answer]) -> list[Answer]:
        places, names = self._pending
        mine = [a for i, a in enumerate(answers) if i not in places]
        raise_failed(mine)
        found = [answers[i] for i in places]
        failed = next((n for n, a in zip(names, found, strict=True) if a.error is not None), None)
        self.undo = failed
        return found


def _insert(
    schema: str, table: str, values: dict[str, Any], returning: str, computed: sql.Composable | None = None
) -> Statement:
    """An INSERT of `values` (and `computed` into the `returning` column, when given)."""
    names = [sql.Identifier(k) for k in values]
    places: list[sql.Composable] = [sql.Placeholder() for _ in values]
    if computed is not None:
        names.append(sql.Identifier(returning))
        places.append(computed)
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
        sql.Identifier(schema, table),
        sql.SQL(", ").join(names),
        sql.SQL(", ").join(places),
        sql.Identifier(returning),
    )
    return query, list(values.values())


def _parent_key(exp: Expectations, smoke: SmokeTestSpec) -> sql.Composable:
    """The key of a parent row, read by the server in the statement that uses it."""
    return sql.SQL("(SELECT {} FROM {} LIMIT 1)").format(
        sql.Identifier(smoke.parent_key), sql.Identifier(exp.schema, smoke.parent_table)
    )


def _absent(exp: Expectations, smoke: SmokeTestSpec) -> sql.Composable:
    """A key no parent row has, computed by the server in the statement itself."""
    return _ABSENT_KEY.format(sql.Identifier(exp.schema, smoke.parent_table), sql.Identifier(smoke.parent_key))


def known_fix(exc: psycopg.Error) -> tuple[str, ...]:
    """What the knowledge base says to do about a database error a check met (none if unknown)."""
    from wizard.core.doctor import diagnose_exception  # imported on an error only: verify starts sooner

    found = diagnose_exception(exc)
    return found.fix if found.recognized else ()


def first_line(exc: psycopg.Error) -> str:
    return exc.diag.message_primary or str(exc).strip().splitlines()[0]
