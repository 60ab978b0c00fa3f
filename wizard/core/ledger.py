"""The ledger: which migrations ran, when, by whom, and what already existed before.

It lives in a schema of its own so that the application's ORM, which introspects
`public` (drizzle-kit would offer to drop an unknown table there), never sees it.
It is created inside the first apply's transaction; reading it never writes.
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import psycopg

from wizard import __version__

SCHEMA = "migration_wizard"
TABLE = f"{SCHEMA}.ledger"
ROLLBACKS = f"{SCHEMA}.rollbacks"

_CREATE = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"COMMENT ON SCHEMA {SCHEMA} IS 'migration-wizard''s ledger of applied migrations'",
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        version text PRIMARY KEY,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('baseline', 'applied')),
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        duration_ms integer NOT NULL DEFAULT 0,
        applied_by text NOT NULL,
        wizard_version text NOT NULL,
        preexisting jsonb NOT NULL DEFAULT '[]'::jsonb,
        phase text NOT NULL DEFAULT 'complete'
    )""",
)
# Which part of a migration is done: 'complete', or 'transactional' when its statements are
# committed but the indexes it builds online (CREATE INDEX CONCURRENTLY) are not all built yet.
# Ledgers made before this column existed gain it when a migration first records a phase.
COMPLETE, TRANSACTIONAL = "complete", "transactional"
# A rollback removes the migration's ledger row (so status says pending again); this history
# remembers when, by whom, and which of its objects the rollback kept (they existed before
# it), so they never look "applied" again and verify can say "rolled back at ...".
_CREATE_ROLLBACKS = f"""CREATE TABLE IF NOT EXISTS {ROLLBACKS} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version text NOT NULL,
    name text NOT NULL,
    rolled_back_at timestamptz NOT NULL DEFAULT now(),
    rolled_back_by text NOT NULL,
    wizard_version text NOT NULL,
    kept jsonb NOT NULL DEFAULT '[]'::jsonb
)"""


@dataclass(frozen=True)
class LedgerRow:
    version: str
    name: str
    kind: str
    checksum: str
    applied_at: datetime
    duration_ms: int
    applied_by: str
    wizard_version: str
    preexisting: tuple[str, ...]
    phase: str = COMPLETE

    @property
    def complete(self) -> bool:
        return self.phase == COMPLETE


@dataclass(frozen=True)
class RollbackRow:
    version: str
    name: str
    rolled_back_at: datetime
    rolled_back_by: str
    kept: tuple[str, ...]


def exists(conn: psycopg.Connection[Any], table: str = TABLE) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    return bool(row and row[0] is not None)


# Each row as JSON (to_jsonb), so a column the ledger gained later (`phase`) is read when it is
# there and takes its field's default when not; the time column as psycopg reads it (its time zone).
ROWS = f"SELECT l.applied_at, to_jsonb(l) FROM {TABLE} l ORDER BY l.version"
LATEST_ROLLBACKS = (
    f"SELECT DISTINCT ON (r.version) r.rolled_back_at, to_jsonb(r) FROM {ROLLBACKS} r ORDER BY r.version, r.id DESC"
)


def _from_json(cls: Any, data: Mapping[str, Any], **native: Any) -> Any:
    values = {**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}, **native}
    return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


def rows_from(rows: Iterable[Sequence[Any]]) -> dict[str, LedgerRow]:
    """The ledger's rows, by version, from what ROWS returned."""
    return {data["version"]: _from_json(LedgerRow, data, applied_at=at) for at, data in rows}


def rollbacks_from(rows: Iterable[Sequence[Any]]) -> dict[str, RollbackRow]:
    """The latest rollback of each version, from what LATEST_ROLLBACKS returned."""
    return {data["version"]: _from_json(RollbackRow, data, rolled_back_at=at) for at, data in rows}


def read(conn: psycopg.Connection[Any]) -> dict[str, LedgerRow]:
    if not exists(conn):
        return {}
    return rows_from(conn.execute(ROWS).fetchall())


def ensure(conn: psycopg.Connection[Any]) -> None:
    """Create the ledger; call inside the apply's transaction so a failure leaves nothing."""
    if not exists(conn):
        for statement in _CREATE:
            conn.execute(statement)
    if not exists(conn, ROLLBACKS):
        conn.execute(_CREATE_ROLLBACKS)


def who() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def record(
    conn: psycopg.Connection[Any],
    *,
    version: str,
    name: str,
    kind: str,
    checksum: str,
    duration_ms: int = 0,
    preexisting: tuple[str, ...] = (),
    phase: str = COMPLETE,
) -> None:
    values = [version, name, kind, checksum, duration_ms, who(), __version__, json.dumps(list(preexisting))]
    columns = "version, name, kind, checksum, duration_ms, applied_by, wizard_version, preexisting"
    placeholders = "%s, %s, %s, %s, %s, current_user || ' (' || %s || ')', %s, %s::jsonb"
    if phase != COMPLETE:
        conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS phase text NOT NULL DEFAULT '{COMPLETE}'")
        columns, placeholders = columns + ", phase", placeholders + ", %s"
        values.append(phase)
    conn.execute(f"INSERT INTO {TABLE} ({columns}) VALUES ({placeholders})", values)


def record_complete(conn: psycopg.Connection[Any], version: str, duration_ms: int) -> None:
    """The online part of `version` is done too: the migration is now applied in full."""
    conn.execute(
        f"UPDATE {TABLE} SET phase = %s, duration_ms = duration_ms + %s WHERE version = %s",
        (COMPLETE, duration_ms, version),
    )


def record_rollback(conn: psycopg.Connection[Any], *, version: str, name: str, kept: tuple[str, ...]) -> None:
    conn.execute(f"DELETE FROM {TABLE} WHERE version = %s", (version,))
    conn.execute(
        f"INSERT INTO {ROLLBACKS} (version, name, rolled_back_by, wizard_version, kept)"
        " VALUES (%s, %s, current_user || ' (' || %s || ')', %s, %s::jsonb)",
        (version, name, who(), __version__, json.dumps(list(kept))),
    )


def last_rollback(conn: psycopg.Connection[Any], version: str) -> RollbackRow | None:
    """The latest rollback of `version` by the wizard, if there was one."""
    if not exists(conn, ROLLBACKS):
        return None
    row = conn.execute(
        f"SELECT version, name, rolled_back_at, rolled_back_by, kept FROM {ROLLBACKS}"
        " WHERE version = %s ORDER BY id DESC LIMIT 1",
        (version,),
    ).fetchone()
    return RollbackRow(row[0], row[1], row[2], row[3], tuple(row[4])) if row else None


def kept_by_last_rollback(conn: psycopg.Connection[Any], version: str) -> tuple[str, ...]:
    """Objects the latest rollback of `version` left in place because they predate it."""
    last = last_rollback(conn, version)
    return last.kept if last else ()
