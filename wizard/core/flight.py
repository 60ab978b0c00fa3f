"""Several statements sent together, with one wait for all their answers (psycopg's pipeline
mode): over a slow link one round trip instead of one per statement."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq, sql

Conn = psycopg.Connection[Any]
Params = Sequence[Any] | Mapping[str, Any] | None
Statement = tuple[str | sql.SQL | sql.Composed, Params]


@dataclass(frozen=True)
class Answer:
    """One statement of a flight: its rows, or the error it met, or neither: not run, because
    an earlier statement of the flight failed (the server then skips the rest of it)."""

    rows: list[tuple[Any, ...]] | None = None
    error: psycopg.Error | None = None

    @property
    def ok(self) -> bool:
        return self.rows is not None

    @property
    def skipped(self) -> bool:
        return self.rows is None and self.error is None


_DONE = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)


def flight(conn: Conn, statements: Sequence[Statement]) -> list[Answer]:
    """Send the statements together and wait once (psycopg's pipeline mode): one round trip
    however many there are. The server runs them in order and, after one fails, skips the
    rest up to the end of the flight, so put the ones that may fail last. Outside a
    transaction block they share one implicit transaction: a `set_config(..., true)` sent
    first holds for the others. No server-side prepared statement is involved (the
    connection has prepare_threshold=None), so a transaction pooler is fine."""
    cursors: list[psycopg.Cursor[Any]] = []
    first: psycopg.Error | None = None
    try:
        with conn.pipeline():
            for query, params in statements:
                cursor = conn.cursor()
                cursors.append(cursor)
                try:
                    cursor.execute(query, params)
                except psycopg.Error as exc:  # an earlier statement's error, read while sending this one
                    first = first or exc
    except psycopg.Error as exc:
        first = first or exc
    answers: list[Answer] = []
    for cursor in cursors:
        result = cursor.pgresult
        if result is not None and result.status in _DONE:
            answers.append(Answer(rows=cursor.fetchall() if cursor.description else []))
        elif first is not None:
            # The first statement without a result is the one that failed; the rest were skipped.
            answers.append(Answer(error=first))
            first = None
            answers += [Answer() for _ in cursors[len(answers) :]]
            break
        else:
            answers.append(Answer())
    return answers


def raise_failed(answers: Iterable[Answer]) -> None:
    """Raise the error of the first of these statements that failed (none: nothing to do)."""
    for answer in answers:
        if answer.error is not None:
            raise answer.error
