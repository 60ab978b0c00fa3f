"""Running a dump's SQL on a connection as it is read: statements in batches cut at pg_dump's
object headers, COPY data in whole chunks; settings and column options the server lacks are
left out. The restore runs it in one transaction; the rehearsal's copy in a tolerant mode,
each object in a savepoint, where what the copy refuses becomes a LoadProblem."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from wizard.core import dumpfile, pgtools
from wizard.core.dumpfile import DumpFile
from wizard.core.errors import Cancelled
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


class Loader:
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


def load_copy(
    conn: psycopg.Connection[Any], dump: DumpFile, reader: pgtools.ToolChoice | None, cancel: threading.Event
) -> list[LoadProblem]:
    """Load an archive into a throwaway copy without owners and privileges, in one transaction:
    each object in a savepoint, so what the copy cannot create (an extension it lacks, a role
    only the real server has) is a LoadProblem and the rest still loads."""
    loader = Loader(conn, True, cancel, tolerant=True)
    with conn.transaction(), dumpfile.sql_stream(dump, reader, ("--no-owner", "--no-privileges")) as stream:
        loader.load(stream)
    return loader.problems
