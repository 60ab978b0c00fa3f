"""Pre-flight checks: can this migration run here, now, as this user? Reads only.

Two round trips: one flight (catalog.survey) asks who and where we are, the server's version
and mode, the privileges, the catalogs and the ledger; then the sessions holding locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from wizard.core import blockers, catalog, engine
from wizard.core.connection import Target
from wizard.core.migrations import Migration
from wizard.core.verify_report import FAIL, PASS, WARN, CheckResult

Conn = psycopg.Connection[Any]
OLDEST_TESTED = 14

# Everything the checks below ask of the server, in one statement: for each table any
# migration touches, whether this user owns it; for each schema, whether it may create there.
_SERVER = """
SELECT current_user, current_database(),
       current_setting('server_version_num')::int, current_setting('server_version'),
       current_setting('transaction_read_only') = 'on', pg_is_in_recovery(),
       (SELECT coalesce(json_agg(json_build_array(n.nspname, c.relname::text)), '[]')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY(%(schemas)s::text[]) AND c.relname = ANY(%(tables)s::text[])
           AND NOT pg_has_role(current_user, c.relowner, 'USAGE')),
       (SELECT coalesce(json_agg(s), '[]') FROM unnest(%(schemas)s::text[]) s
         WHERE CASE WHEN to_regnamespace(s) IS NOT NULL THEN has_schema_privilege(current_user, s, 'CREATE') END),
       has_database_privilege(current_database(), 'CREATE') OR to_regnamespace('migration_wizard') IS NOT NULL
"""


@dataclass(frozen=True)
class _Server:
    user: str
    database: str
    version_number: int
    version: str
    read_only: bool
    replica: bool
    not_owned: tuple[tuple[str, str], ...]  # (schema, table) this user does not own
    creatable: frozenset[str]  # the schemas this user may create in
    can_ledger: bool


def run_preflight(conn: Conn, target: Target, migrations: Sequence[Migration]) -> list[CheckResult]:
    applicable = [m for m in migrations if not m.baseline]
    tables = sorted({(m.expectations.schema, t) for m in applicable for t in m.expectations.tables_touched()})
    params = {"schemas": [s for s, _ in tables], "tables": [t for _, t in tables]}
    found = catalog.survey(conn, catalog.Wanted.of(m.expectations for m in applicable), before=[(_SERVER, params)])
    rows = found.before[0].rows
    server = _server(rows[0]) if rows else None
    states = engine.status(conn, migrations, found)
    todo = engine.pending(states)
    first = todo[0] if todo else next(iter(applicable), None)
    checks = [_connection(server, target), _server_version(server), _read_only(server, target)]
    if first is not None:
        checks += [
            _application_tables(conn, first, found.catalog),
            _privileges(server, first),
            _locks(conn, first),
        ]
    checks.append(_ledger_state(states))
    return checks


def _server(row: tuple[Any, ...]) -> _Server:
    user, database, number, version, read_only, replica, not_owned, creatable, can_ledger = row
    return _Server(
        str(user),
        str(database),
        int(number),
        str(version),
        bool(read_only),
        bool(replica),
        tuple((str(s), str(t)) for s, t in not_owned),
        frozenset(creatable),
        bool(can_ledger),
    )


def _connection(server: _Server | None, target: Target) -> CheckResult:
    user, database = (server.user, server.database) if server else ("?", "?")
    where = "the practice database" if target.practice else target.host
    if target.is_socket and not target.practice:
        where = "this computer's PostgreSQL (local socket)"
    return CheckResult("connection", "Connection", PASS, f"Connected to {where}, database {database}, as {user}.")


def _server_version(server: _Server | None) -> CheckResult:
    number, text = (server.version_number, server.version) if server else (0, "unknown")
    major = number // 10000
    if major >= OLDEST_TESTED:
        return CheckResult("server_version", "Server version", PASS, f"PostgreSQL {text}.")
    if major >= 13:
        return CheckResult(
            "server_version", "Server version", WARN, f"PostgreSQL {text}: older than the versions tested (14 to 18)."
        )
    return CheckResult(
        "server_version", "Server version", FAIL, f"PostgreSQL {text}: gen_random_uuid() needs PostgreSQL 13 or newer."
    )


def _read_only(server: _Server | None, target: Target) -> CheckResult:
    read_only, replica = (server.read_only, server.replica) if server else (False, False)
    title = "Read-write, direct connection"
    if replica or read_only:
        what = "a read replica" if replica else "a read-only connection"
        return CheckResult("read_write", title, FAIL, f"This is {what}: schema changes need the primary endpoint.")
    if target.is_pooler:
        return CheckResult(
            "read_write",
            title,
            WARN,
            target.pooler_advice,
        )
    return CheckResult("read_write", title, PASS, "Read-write, not through a pooler.")


def _application_tables(conn: Conn, migration: Migration, found: catalog.Snapshot) -> CheckResult:
    title = "Application tables present"
    exp = migration.expectations
    if engine.precondition_holds(conn, exp, found):
        pre = exp.precondition
        name = f"{exp.schema}.{pre.table}" if pre else "the application's tables"
        return CheckResult("application_tables", title, PASS, f"{name} is there.")
    pre = exp.precondition
    missing = f"{exp.schema}.{pre.table}" if pre else "?"
    return CheckResult(
        "application_tables", title, FAIL, f"No table {missing} here: is this the application's database?"
    )


def _privileges(server: _Server | None, migration: Migration) -> CheckResult:
    exp = migration.expectations
    title = "Privileges to change the schema"
    touched = set(exp.tables_touched())
    if server is None:
        not_owned, can_create, can_ledger = [], False, False
    else:
        not_owned = [t for s, t in server.not_owned if s == exp.schema and t in touched]
        can_create, can_ledger = exp.schema in server.creatable, server.can_ledger
    problems = []
    if not_owned:
        problems.append(f"not the owner of {', '.join(not_owned)} (ALTER TABLE needs the owner)")
    if not can_create:
        problems.append(f"no CREATE privilege on schema {exp.schema}")
    if not can_ledger:
        problems.append("no CREATE privilege on the database (for the wizard's ledger schema)")
    if problems:
        return CheckResult("privileges", title, FAIL, "This user has " + "; ".join(problems) + ".")
    return CheckResult("privileges", title, PASS, "Owner of the tables to change, and allowed to create new ones.")


def _locks(conn: Conn, migration: Migration) -> CheckResult:
    exp = migration.expectations
    holders = blockers.blockers(conn, exp.schema, exp.tables_touched())
    title = "Sessions using the tables now"
    if not holders:
        return CheckResult("locks", title, PASS, "No other session holds a lock on them right now.")
    rows = [
        {"pid": h.pid, "user": h.user, "state": h.state, "for": f"{h.seconds_in_state:.0f} s", "query": h.query}
        for h in holders
    ]
    stuck = [h for h in holders if h.state.startswith("idle in transaction")]
    detail = f"{len(holders)} session(s) hold locks; the migration waits for them briefly and retries."
    if stuck:
        detail += f" pid {stuck[0].pid} is idle in transaction: it will block the migration until it ends."
    return CheckResult("locks", title, WARN, detail, rows)


def _ledger_state(states: Sequence[engine.MigrationStatus]) -> CheckResult:
    title = "Migration state"
    rows = [{"migration": s.migration.label, "state": s.state} for s in states]
    modified = [s.migration.label for s in states if s.state == engine.MODIFIED]
    if modified:
        return CheckResult(
            "ledger", title, FAIL, f"{', '.join(modified)} changed after it was applied; restore the file.", rows
        )
    todo = engine.pending(states)
    if todo:
        return CheckResult("ledger", title, PASS, f"Pending: {', '.join(m.label for m in todo)}.", rows)
    return CheckResult("ledger", title, PASS, "Already applied: nothing to migrate (you can verify).", rows)
