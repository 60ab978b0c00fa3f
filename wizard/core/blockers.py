"""Who really blocks a migration, and stopping them when (only when) the user asks.

When a statement gives up waiting for a lock, the sessions that hold a lock on the table
*now* include the short queries that queued behind the wizard's own request and got their
turn once it gave up. The one that really blocks held its lock before the wizard's try
began: `blockers` keeps only those, oldest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from wizard.core.events import LockHolder
from wizard.core.redaction import hide_sql_passwords

Conn = psycopg.Connection[Any]
CANCEL, TERMINATE = "cancel", "terminate"
ACTIONS = (CANCEL, TERMINATE)

_ACTIVITY = """
    a.pid, coalesce(a.usename, ''), coalesce(a.state, ''),
    coalesce(extract(epoch FROM now() - a.state_change), 0)::float8,
    coalesce(a.application_name, ''), {modes},
    left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 120),
    coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8
"""


_NO_MODES = _ACTIVITY.format(modes="''")


def _holder(row: tuple[Any, ...]) -> LockHolder:
    # Another session's query, shown to the user: without a password it may set.
    return LockHolder(row[0], row[1], row[2], row[3], row[4], row[5], hide_sql_passwords(row[6]), row[7])


def blockers(conn: Conn, schema: str, tables: tuple[str, ...], since: datetime | None = None) -> tuple[LockHolder, ...]:
    """Other sessions holding a lock on these tables whose transaction began before `since`
    (the start of the wizard's try; None: every holder), the longest-running first."""
    rows = conn.execute(
        f"""
        SELECT {_ACTIVITY.format(modes="string_agg(DISTINCT l.mode, ', ')")}
        FROM pg_locks l
        JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.granted AND l.pid <> pg_backend_pid()
          AND l.relation IN (SELECT to_regclass(format('%%I.%%I', %s::text, t)) FROM unnest(%s::text[]) t)
          AND (%s::timestamptz IS NULL OR a.xact_start <= %s::timestamptz)
        GROUP BY a.pid, a.usename, a.state, a.state_change, a.application_name, a.query, a.xact_start
        ORDER BY a.xact_start NULLS LAST
        """,
        (schema, list(tables), since, since),
    ).fetchall()
    return tuple(_holder(r) for r in rows)


def on_tables(conn: Conn, schema: str, tables: tuple[str, ...]) -> tuple[LockHolder, ...]:
    """Every other session holding or waiting for a lock on these tables now (what the plan
    shows before anything runs), the longest-running first."""
    modes = "string_agg(DISTINCT CASE WHEN l.granted THEN 'holds ' ELSE 'waits for ' END || l.mode, ', ')"
    rows = conn.execute(
        f"""
        SELECT {_ACTIVITY.format(modes=modes)}
        FROM pg_locks l
        JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.pid <> pg_backend_pid()
          AND l.relation IN (SELECT to_regclass(format('%%I.%%I', %s::text, t)) FROM unnest(%s::text[]) t)
        GROUP BY a.pid, a.usename, a.state, a.state_change, a.application_name, a.query, a.xact_start
        ORDER BY a.xact_start NULLS LAST
        """,
        (schema, list(tables)),
    ).fetchall()
    return tuple(_holder(r) for r in rows)


def sessions(conn: Conn, pids: list[int]) -> tuple[LockHolder, ...]:
    """These sessions (e.g. what pg_blocking_pids names), the longest-running first."""
    if not pids:
        return ()
    rows = conn.execute(
        f"SELECT {_NO_MODES} FROM pg_stat_activity a WHERE a.pid = ANY(%s) ORDER BY a.xact_start NULLS LAST",
        (pids,),
    ).fetchall()
    return tuple(_holder(r) for r in rows)


def signal(conn: Conn, pid: int, action: str) -> bool:
    """Cancel the session's current query, or end the session; False when the server refused
    (another role's session without pg_signal_backend) or it had already gone."""
    function = {CANCEL: "pg_cancel_backend", TERMINATE: "pg_terminate_backend"}[action]
    try:
        row = conn.execute(f"SELECT {function}(%s)", (pid,)).fetchone()
    except psycopg.errors.InsufficientPrivilege:  # the connection is autocommit: nothing to roll back
        return False
    return bool(row and row[0])
