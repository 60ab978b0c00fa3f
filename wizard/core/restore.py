"""Putting a database back to exactly what a backup holds, in one transaction.

The backup is turned into SQL (pg_restore -f - for a custom archive: no connection
needed) and run through psycopg as it is read, never held whole in memory, so it works
wherever the wizard connects (TLS included) without psql, and atomically: if anything
fails, nothing changed. Settings the server does not have (a newer pg_dump's) are left out. A
whole-database backup replaces every object of the database's schemas, which also
removes what was created after the backup (e.g. the migration's table). A backup of a
single table restores that table's rows and removes only the migrations' objects.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from wizard.core import blockers, catalog, dumpfile, ledger, pgtools
from wizard.core.doctor import diagnose
from wizard.core.dumpfile import DumpFile
from wizard.core.errors import Cancelled, RestoreFailed
from wizard.core.loader import Loader
from wizard.core.migrations import Migration

Backup = DumpFile  # what a restore reads: a pg_dump file, described without loading it


@dataclass(frozen=True)
class RestorePlan:
    backup: DumpFile
    whole: bool
    drops: tuple[str, ...]  # what will be removed before the backup is loaded, in words
    statements: tuple[str, ...]  # the SQL that removes them
    gone: tuple[str, ...] = ()  # of the drops, what the backup does not bring back (the migration's table)
    reader: pgtools.ToolChoice | None = None  # the pg_restore that turns an archive into SQL
    server_major: int = 0

    @property
    def how(self) -> str:
        """Which tool reads the file and why, in words."""
        if self.reader is None:
            return "The wizard runs this SQL file over its own connection (no psql needed)."
        return f"Read with {self.reader.reason}; the wizard runs its SQL over its own connection."


@dataclass(frozen=True)
class RestoreResult:
    counts: dict[str, tuple[int, int]]  # schema.table -> (rows in the backup, rows now)
    left_out: tuple[str, ...]  # settings in the file that this server does not have, not sent
    server_major: int
    options_left_out: tuple[str, ...] = ()  # column options this server refused (another build's)

    @property
    def mismatched(self) -> list[str]:
        return mismatched(self.counts)

    @property
    def left_out_note(self) -> str:
        if not self.left_out:
            return ""
        names = ", ".join(self.left_out)
        return f"Left out {names}: PostgreSQL {self.server_major} does not have this setting (a newer tool wrote it)."


def mismatched(counts: dict[str, tuple[int, int]]) -> list[str]:
    """The tables whose rows now differ from the backup's, from run_restore's counts."""
    return [table for table, (wanted, now) in sorted(counts.items()) if wanted != now]


def read_backup(path: Path) -> DumpFile:
    return dumpfile.read(path)


def _user_schemas(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND nspname NOT LIKE 'pg\\_%%' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE"
        " d.classid = 'pg_namespace'::regclass AND d.objid = pg_namespace.oid AND d.deptype = 'e') ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _objects_in(conn: psycopg.Connection[Any], schema: str) -> list[tuple[str, str]]:
    """(kind, qualified name) of what a schema holds, not counting what extensions own."""
    rows = conn.execute(
        """
        SELECT CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'TABLE' WHEN 'v' THEN 'VIEW'
                    WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' END,
               format('%%I.%%I', n.nspname, c.relname)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
        UNION ALL
        SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, p.oid::regprocedure::text
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %(schema)s AND p.prokind IN ('f', 'p')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
        UNION ALL
        SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, format('%%I.%%I', n.nspname, t.typname)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = %(schema)s AND t.typtype IN ('e', 'd', 'c', 'r')
          AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype IN ('e', 'i'))
        ORDER BY 1, 2
        """,
        {"schema": schema},
    ).fetchall()
    return [(str(kind), str(name)) for kind, name in rows if kind]


def plan(conn: psycopg.Connection[Any], backup: DumpFile, migrations: list[Migration]) -> RestorePlan:
    """What the restore will remove first, read without changing anything."""
    existing = set(catalog_tables(conn))
    whole = len(backup.tables) > 1 or existing <= set(backup.tables)
    server_major = conn.info.server_version // 10000
    reader = dumpfile.reader_for(backup, server_major) if backup.format == "custom" else None
    drops: list[str] = []
    statements: list[str] = []
    gone: list[str] = []
    if whole:
        schemas_kept = {s.strip('"') for s in backup.schemas}
        for schema in _user_schemas(conn):
            if schema == "public":
                for kind, name in _objects_in(conn, schema):
                    drops.append(f"{kind.lower()} {name}")
                    statements.append(f"DROP {kind} IF EXISTS {name} CASCADE")
                    if kind == "TABLE" and dumpfile.unquote(name) not in backup.tables:
                        gone.append(drops[-1])
            else:
                drops.append(f"schema {schema} and everything in it")
                if schema not in schemas_kept:
                    gone.append(drops[-1])
                statements.append(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)).as_string()
                )
    else:
        # pglast, for what the down files remove: ~30 ms a whole-database restore need not pay
        from wizard.core.describe import describe

        for migration in reversed([m for m in migrations if not m.baseline]):
            present = set(catalog.existing_objects(conn, migration.expectations))
            for statement in migration.down_statements:
                removes = [d for d in describe(statement).drops if d in present]
                if removes:
                    drops += [d.replace(":", " ", 1) + f" (created by {migration.label})" for d in removes]
                    statements.append(statement.sql)
            if migration.version in ledger.read(conn):
                drops.append(f"the ledger's record of {migration.label}")
                statements.append(
                    sql.SQL("DELETE FROM {} WHERE version = {}")
                    .format(sql.SQL(ledger.TABLE), sql.Literal(migration.version))
                    .as_string()
                )
    gone_now = tuple(gone if whole else drops)
    return RestorePlan(backup, whole, tuple(drops), tuple(statements), gone_now, reader, server_major)


def catalog_tables(conn: psycopg.Connection[Any]) -> list[str]:
    from wizard.core.backup import tables_of

    return tables_of(conn)


def run_restore(
    conn: psycopg.Connection[Any], restore_plan: RestorePlan, cancel: threading.Event | None = None
) -> RestoreResult:
    """Remove, then load, in one transaction, streaming the file (never held in memory)."""
    backup = restore_plan.backup
    loader = Loader(conn, restore_plan.whole, cancel or threading.Event())
    try:
        with conn.transaction():
            # A table in use elsewhere makes the restore stop with the reason instead of hanging.
            conn.execute("SELECT set_config('lock_timeout', '30s', true)")
            for statement in restore_plan.statements:
                if loader.cancel.is_set():
                    raise Cancelled("Restore cancelled: it was rolled back, so nothing changed.")
                conn.execute(statement)
            with dumpfile.sql_stream(backup, restore_plan.reader) as stream:
                loader.load(stream)
    except psycopg.Error as error:
        if isinstance(error, psycopg.errors.QueryCanceled) and loader.cancel.is_set():
            # The user's cancel stopped the running statement on the server (interrupt()).
            raise Cancelled("Restore cancelled: it was rolled back, so nothing changed.") from None
        raise _failed(conn, error, backup) from None
    except dumpfile.DumpUnreadable as error:
        failed = f"The restore failed and was rolled back, so nothing changed: {error}"
        raise RestoreFailed(failed, fix=error.fix) from None
    conn.execute("RESET search_path")  # the backup's script empties it for the session
    now: dict[str, tuple[int, int]] = {}
    for written, rows in loader.rows.items():
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(written))).fetchone()
        now[dumpfile.unquote(written)] = (rows, int(row[0]) if row else -1)
    return RestoreResult(now, tuple(loader.left_out), restore_plan.server_major, tuple(loader.options_left_out))


def _failed(conn: psycopg.Connection[Any], error: psycopg.Error, backup: DumpFile) -> RestoreFailed:
    primary = error.diag.message_primary or str(error).strip().splitlines()[0]
    if isinstance(error, psycopg.errors.LockNotAvailable) and not conn.closed:
        by_schema: dict[str, list[str]] = {}
        for table in backup.tables:
            schema, _, name = table.partition(".")
            by_schema.setdefault(schema, []).append(name)
        holders = [h for s, names in by_schema.items() for h in blockers.blockers(conn, s, tuple(names))]
        if holders:
            primary += "; held by " + "; ".join(dict.fromkeys(h.describe() for h in holders))
    found = diagnose(str(error), sqlstate=error.sqlstate)
    fix = found.fix if found.recognized else ("Check that the backup is of this database, and that this user owns it.",)
    return RestoreFailed(
        f"The restore failed and was rolled back, so nothing changed: {primary}",
        fix=fix,
        diagnosis=found if found.recognized else None,
    )
