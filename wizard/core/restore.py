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

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from wizard.core import catalog, dumpfile, ledger, pgtools
from wizard.core.doctor import diagnose
from wizard.core.dumpfile import DumpFile
from wizard.core.errors import Cancelled, RestoreFailed
from wizard.core.migrations import Migration
from wizard.core.sqlstream import SqlStream

_SET = re.compile(rb"^SET ([A-Za-z_][A-Za-z0-9_.]*) = .*;\r?\n?$")
_SET_CONFIG = re.compile(rb"^SELECT pg_catalog\.set_config\('([A-Za-z_][A-Za-z0-9_.]*)',")
_ENCODING = re.compile(rb"^SET client_encoding = '([^']+)';")
# pg_dump writes a comment before every object: a statement boundary, where a long run of SQL
# can be sent without waiting for the next COPY (so no part of a file is held whole).
_OBJECT_HEADER = re.compile(rb"^-- (?:Data for )?Name: .*; Type: ")
_SQL_BATCH = 256 * 1024
# ALTER TABLE ... ALTER COLUMN ... SET (option = value, ...): the attribute options of a column.
_COLUMN_OPTIONS = re.compile(rb"^ALTER TABLE (?:ONLY )?.+ ALTER COLUMN .+ SET \(.+\);\r?\n?$")
# The wizard keeps its own lock_timeout during a restore (a busy table stops it with the
# reason instead of a wait without end); the dump's `SET lock_timeout = 0` would undo it.
_OVERRIDDEN = frozenset({"lock_timeout"})


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
    loader = _Loader(conn, restore_plan.whole, cancel or threading.Event())
    try:
        with conn.transaction():
            # A table in use elsewhere makes the restore stop with the reason instead of hanging.
            conn.execute("SELECT set_config('lock_timeout', '30s', true)")
            for statement in restore_plan.statements:
                conn.execute(statement)
            with dumpfile.sql_stream(backup, restore_plan.reader) as stream:
                loader.load(stream)
    except psycopg.Error as error:
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


def load_copy(
    conn: psycopg.Connection[Any], dump: DumpFile, reader: pgtools.ToolChoice | None, cancel: threading.Event
) -> list[LoadProblem]:
    """Load an archive into a throwaway copy without owners and privileges, in one transaction:
    each object in a savepoint, so what the copy cannot create (an extension it lacks, a role
    only the real server has) is a LoadProblem and the rest still loads."""
    loader = _Loader(conn, True, cancel, tolerant=True)
    with conn.transaction(), dumpfile.sql_stream(dump, reader, ("--no-owner", "--no-privileges")) as stream:
        loader.load(stream)
    return loader.problems


def _failed(conn: psycopg.Connection[Any], error: psycopg.Error, backup: DumpFile) -> RestoreFailed:
    primary = error.diag.message_primary or str(error).strip().splitlines()[0]
    if isinstance(error, psycopg.errors.LockNotAvailable) and not conn.closed:
        by_schema: dict[str, list[str]] = {}
        for table in backup.tables:
            schema, _, name = table.partition(".")
            by_schema.setdefault(schema, []).append(name)
        holders = [h for s, names in by_schema.items() for h in catalog.lock_holders(conn, s, tuple(names))]
        if holders:
            primary += "; held by " + "; ".join(dict.fromkeys(h.describe() for h in holders))
    found = diagnose(str(error), sqlstate=error.sqlstate)
    fix = found.fix if found.matched else ("Check that the backup is of this database, and that this user owns it.",)
    return RestoreFailed(
        f"The restore failed and was rolled back, so nothing changed: {primary}",
        fix=fix,
        diagnosis=found if found.matched else None,
    )


@dataclass(frozen=True)
class LoadProblem:
    """In a tolerant load (the rehearsal's copy), an object the server refused, and why."""

    object: str  # "table public.users", "the data of table public.users", "the comment on extension vector"
    message: str
    detail: str


def _object_of(header: bytes) -> str:
    """pg_dump's "-- Name: users; Type: TABLE; Schema: public; Owner: x" as "table public.users"."""
    fields = dict(
        part.strip().split(": ", 1)
        for part in header.decode("utf-8", "replace").lstrip("- ").split("; ")
        if ": " in part
    )
    name = fields.get("Name") or fields.get("Data for Name") or "?"
    kind, schema = fields.get("Type", "object"), fields.get("Schema", "-")
    qualified = name if schema in ("-", "") else f"{schema}.{name}"
    if kind == "TABLE DATA":
        return f"the data of table {qualified}"
    if kind == "COMMENT":
        what, _, rest = name.partition(" ")
        return f"the comment on {what.lower()} {rest}"
    return f"{kind.lower().replace('fk constraint', 'foreign key')} {qualified}"


class _Loader:
    """Runs a dump's lines on the connection: SQL in batches cut at statement boundaries, COPY
    data in large blocks; settings and column options the server lacks are left out.
    `whole=False` (a single-table backup): only each table's rows are replaced, the rest of the
    file is not run. `tolerant=True` (a throwaway copy): each object runs in a savepoint, and
    one the server refuses becomes a LoadProblem instead of stopping the load."""

    def __init__(
        self, conn: psycopg.Connection[Any], whole: bool, cancel: threading.Event, *, tolerant: bool = False
    ) -> None:
        self.conn, self.whole, self.cancel, self.tolerant = conn, whole, cancel, tolerant
        self.rows: dict[str, int] = {}  # the table as the file writes it -> rows loaded
        self.left_out: list[str] = []
        self.options_left_out: list[str] = []
        self.problems: list[LoadProblem] = []
        self.current = "an object of the backup"
        self._known: dict[str, bool] = {}
        self._sql: list[bytes] = []
        self._size = 0

    def load(self, stream: SqlStream) -> None:
        for line in stream:
            copy = dumpfile.COPY.match(line)
            if copy:
                self._flush()
                self._copy(copy.group(1).decode(self.conn.info.encoding), line, stream)
            elif line.startswith(b"\\"):
                continue  # \restrict, \unrestrict, \connect: psql's, not SQL
            elif (self.tolerant or self._size >= _SQL_BATCH) and _OBJECT_HEADER.match(line):
                self._flush()
                self.current = _object_of(line)
                self._add(line)
            elif self.whole and _COLUMN_OPTIONS.match(line):
                self._flush()
                self._column_options(line)
            elif self._keep(line):
                self._add(line)
        self._flush()

    def _add(self, line: bytes) -> None:
        if self.whole:
            self._sql.append(line)
            self._size += len(line)

    def _keep(self, line: bytes) -> bool:
        """False for a setting this server does not have (or one the wizard keeps its own of)."""
        setting = _SET.match(line) or _SET_CONFIG.match(line)
        if setting is None:
            return True
        if _ENCODING.match(line):
            # The SQL after it is in this encoding; COPY data is passed on as it is.
            self._flush()
            self.conn.execute(line.decode("ascii"))
            return False
        name = setting.group(1).decode().lower()
        if name in _OVERRIDDEN:
            return False
        if "." in name:
            return True  # an extension's setting: the server accepts any such name
        if name not in self._known:
            row = self.conn.execute("SELECT current_setting(%s, true) IS NOT NULL", (name,)).fetchone()
            self._known[name] = bool(row and row[0])
            if not self._known[name]:
                self.left_out.append(name)
        return self._known[name]

    def _column_options(self, line: bytes) -> None:
        """ALTER TABLE ... ALTER COLUMN ... SET (option=value): a server build may write options
        another does not accept ("unrecognized parameter"); such a statement is left out."""
        statement = line.decode(self.conn.info.encoding).strip()
        try:
            with self.conn.transaction():  # a savepoint: the refusal leaves the rest intact
                self.conn.execute(statement)
        except psycopg.errors.InvalidParameterValue as error:
            primary = error.diag.message_primary or str(error).strip()
            self.options_left_out.append(f"{' '.join(statement.split()[:7])} ... ({primary})")
        except psycopg.Error as error:
            if not self.tolerant:
                raise
            self._problem(error)

    def _problem(self, error: psycopg.Error) -> None:
        primary = error.diag.message_primary or (str(error).strip().splitlines() or [""])[0]
        detail = " ".join(part for part in (error.diag.message_detail, error.diag.message_hint) if part)
        self.problems.append(LoadProblem(self.current, primary, detail))

    def _flush(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("Restore cancelled: it was rolled back, so nothing changed.")
        if self._sql:
            text = b"".join(self._sql).decode(self.conn.info.encoding)
            self._sql, self._size = [], 0
            if text.strip():
                self._guarded(lambda: self.conn.execute(text))  # one simple query, several statements allowed

    def _guarded(self, run: Callable[[], object]) -> bool:
        """Run; in a tolerant load, in a savepoint, an error recorded as a problem. True: it ran."""
        if not self.tolerant:
            run()
            return True
        try:
            with self.conn.transaction():
                run()
        except psycopg.Error as error:
            self._problem(error)
            return False
        return True

    def _copy(self, table: str, header: bytes, stream: SqlStream) -> None:
        if not self.whole:
            self.conn.execute(sql.SQL("DELETE FROM {}").format(sql.SQL(table)))
        counted: list[int] = []
        statement = header.decode(self.conn.info.encoding).rstrip().rstrip(";")
        if self.tolerant:
            self.current = f"the data of table {dumpfile.unquote(table)}"
        if not self._guarded(lambda: counted.append(self._copy_rows(statement, stream))):
            return  # the server refused the COPY (a tolerant load goes on)
        self.rows[table] = self.rows.get(table, 0) + counted[0]

    def _copy_rows(self, statement: str, stream: SqlStream) -> int:
        """Send one COPY's rows to the server in the blocks the stream reads; returns their number."""
        data = stream.copy_data()
        cursor = self.conn.cursor()
        try:
            with cursor.copy(statement) as copy:
                for block in data:
                    copy.write(block)
                    if self.cancel.is_set():
                        raise Cancelled("Restore cancelled: it was rolled back, so nothing changed.")
        except psycopg.Error:
            if self.tolerant:
                for _block in data:  # the load goes on: pass over the rest of this COPY's data
                    pass
            raise
        return max(cursor.rowcount, 0)  # the server's count of the rows it took ("COPY n")
