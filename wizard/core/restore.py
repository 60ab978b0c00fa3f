"""Putting a database back to exactly what a backup holds, in one transaction.

The backup is turned into SQL (pg_restore -f - for a custom archive: no connection
needed) and run through psycopg, so it works wherever the wizard connects (TLS
included) without psql, and atomically: if anything fails, nothing changed. A
whole-database backup replaces every object of the database's schemas, which also
removes what was created after the backup (e.g. the migration's table). A backup of a
single table restores that table's rows and removes only the migrations' objects.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from wizard.core import catalog, ledger, paths, pgtools
from wizard.core.describe import describe
from wizard.core.doctor import diagnose
from wizard.core.errors import InputError, WizardError
from wizard.core.migrations import Migration

_COPY = re.compile(r"^COPY (\S+?)\.(\S+?) .*FROM stdin;?$")
_SCHEMA = re.compile(r"^CREATE SCHEMA (\S+);$", re.MULTILINE)


class RestoreFailed(WizardError):
    title = "Restore failed"


@dataclass(frozen=True)
class Chunk:
    sql: str
    copy_rows: tuple[str, ...] | None = None  # for COPY ... FROM stdin: its data lines


@dataclass(frozen=True)
class Backup:
    path: Path
    script: str
    rows: dict[str, int]  # schema.table -> rows in the backup
    schemas: tuple[str, ...]

    @property
    def tables(self) -> list[str]:
        return sorted(self.rows)


@dataclass(frozen=True)
class RestorePlan:
    backup: Backup
    whole: bool
    drops: tuple[str, ...]  # what will be removed before the backup is loaded, in words
    statements: tuple[str, ...]  # the SQL that removes them
    gone: tuple[str, ...] = ()  # of the drops, what the backup does not bring back (the migration's table)


def mismatched(counts: dict[str, tuple[int, int]]) -> list[str]:
    """The tables whose rows now differ from the backup's, from run_restore's counts."""
    return [table for table, (wanted, now) in sorted(counts.items()) if wanted != now]


def read_backup(path: Path) -> Backup:
    if not path.is_file():
        raise InputError(
            f"There is no backup file at {path}.",
            fix=(f"Check the path: the wizard keeps its own backups in {paths.backups_dir()}.",),
        )
    head = path.read_bytes()[:5]
    if head == b"PGDMP":
        restore = pgtools.newest("pg_restore")  # an archive needs a pg_restore at least as new as its pg_dump
        done = subprocess.run([str(restore.path), "-f", "-", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            raise InputError(
                f"{path} is not a readable backup: {done.stderr.strip().splitlines()[-1]}",
                fix=("Choose a file made by pg_dump (the wizard's backups end in .dump or .sql); a cut-off copy"
                     " cannot be read: take a new backup.",),
            )  # fmt: skip
        script = done.stdout
    else:
        script = path.read_text(encoding="utf-8", errors="replace")
        if "PostgreSQL database dump" not in script[:400]:
            raise InputError(
                f"{path} does not look like a pg_dump backup.",
                fix=("Choose a file made by pg_dump: a custom archive (.dump) or a plain SQL dump (.sql).",),
            )
    rows: dict[str, int] = {}
    for chunk in chunks(script):
        if chunk.copy_rows is not None:
            match = _COPY.match(chunk.sql)
            if match:
                rows[f"{match.group(1)}.{match.group(2)}".replace('"', "")] = len(chunk.copy_rows)
    return Backup(path, script, rows, tuple(_SCHEMA.findall(script)))


def chunks(script: str) -> Iterator[Chunk]:
    """The script as SQL pieces and COPY blocks; psql's own backslash commands are left out."""
    buffer: list[str] = []
    lines = iter(script.splitlines())
    for line in lines:
        if _COPY.match(line):
            if buffer:
                yield Chunk("\n".join(buffer))
                buffer = []
            data: list[str] = []
            for row in lines:
                if row == "\\.":
                    break
                data.append(row)
            yield Chunk(line.rstrip(";"), tuple(data))
        elif line.startswith("\\"):
            continue  # \restrict, \unrestrict, \connect: psql's, not SQL
        else:
            buffer.append(line)
    if buffer:
        yield Chunk("\n".join(buffer))


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


def plan(conn: psycopg.Connection[Any], backup: Backup, migrations: list[Migration]) -> RestorePlan:
    """What the restore will remove first, read without changing anything."""
    existing = set(catalog_tables(conn))
    whole = len(backup.rows) > 1 or existing <= set(backup.rows)
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
                    if kind == "TABLE" and name.replace('"', "") not in backup.rows:
                        gone.append(drops[-1])
            else:
                drops.append(f"schema {schema} and everything in it")
                if schema not in schemas_kept:
                    gone.append(drops[-1])
                statements.append(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)).as_string()
                )
    else:
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
    return RestorePlan(backup, whole, tuple(drops), tuple(statements), tuple(gone if whole else drops))


def catalog_tables(conn: psycopg.Connection[Any]) -> list[str]:
    from wizard.core.backup import tables_of

    return tables_of(conn)


def run_restore(conn: psycopg.Connection[Any], restore_plan: RestorePlan) -> dict[str, tuple[int, int]]:
    """Remove, then load, in one transaction; returns table -> (rows in backup, rows now)."""
    backup = restore_plan.backup
    try:
        with conn.transaction():
            # A table in use elsewhere makes the restore stop with the reason instead of hanging.
            conn.execute("SELECT set_config('lock_timeout', '30s', true)")
            for statement in restore_plan.statements:
                conn.execute(statement)
            if restore_plan.whole:
                _run_script(conn, backup.script)
            else:
                _reload_tables(conn, backup)
    except psycopg.Error as error:
        primary = error.diag.message_primary or str(error).strip().splitlines()[0]
        if isinstance(error, psycopg.errors.LockNotAvailable) and not conn.closed:
            by_schema: dict[str, list[str]] = {}
            for table in backup.rows:
                schema, _, name = table.partition(".")
                by_schema.setdefault(schema, []).append(name)
            holders = [h for s, names in by_schema.items() for h in catalog.lock_holders(conn, s, tuple(names))]
            if holders:
                primary += "; held by " + "; ".join(dict.fromkeys(h.describe() for h in holders))
        found = diagnose(str(error), sqlstate=error.sqlstate)
        fix = (
            found.fix
            if found.matched
            else ("Check that the backup is of this database, and that this user owns its tables.",)
        )
        raise RestoreFailed(
            f"The restore failed and was rolled back, so nothing changed: {primary}",
            fix=fix,
            diagnosis=found if found.matched else None,
        ) from None
    conn.execute("RESET search_path")  # the backup's script empties it for the session
    now: dict[str, tuple[int, int]] = {}
    for table, rows in backup.rows.items():
        schema, _, name = table.partition(".")
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))).fetchone()
        now[table] = (rows, int(row[0]) if row else -1)
    return now


def _run_script(conn: psycopg.Connection[Any], script: str) -> None:
    for chunk in chunks(script):
        if chunk.copy_rows is None:
            if chunk.sql.strip():
                conn.execute(chunk.sql)
        else:
            with conn.cursor().copy(chunk.sql) as copy:
                for row in chunk.copy_rows:
                    copy.write(row + "\n")


def _reload_tables(conn: psycopg.Connection[Any], backup: Backup) -> None:
    """A single-table backup: replace that table's rows (its structure was put back above)."""
    for chunk in chunks(backup.script):
        if chunk.copy_rows is None:
            continue
        match = _COPY.match(chunk.sql)
        assert match
        table = sql.Identifier(match.group(1).strip('"'), match.group(2).strip('"'))
        conn.execute(sql.SQL("DELETE FROM {}").format(table))
        with conn.cursor().copy(chunk.sql) as copy:
            for row in chunk.copy_rows:
                copy.write(row + "\n")
