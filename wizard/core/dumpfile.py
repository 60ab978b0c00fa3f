"""What a pg_dump file holds, read without loading it into memory, and its SQL as a stream.

A custom archive (.dump) is read through its table of contents (`pg_restore --list`: no
data is decompressed); a plain SQL file (.sql) in one pass, line by line. Either way the
file is never held whole: a backup can be larger than the computer's memory.

Which pg_restore turns an archive into SQL: one that can read it (at least as new as the
pg_dump that made it), the oldest such, since its SQL is meant for the oldest servers. A
newer one writes settings an older server lacks (pg_restore 17 and 18 write `SET
transaction_timeout = 0`, which PostgreSQL 14 to 16 refuse): the restore leaves out every
setting the server does not have.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wizard.core import paths, pgtools, tool_finder
from wizard.core.errors import InputError, WizardError
from wizard.core.sqlstream import SqlStream

PLAIN_DONE = b"-- PostgreSQL database dump complete"
_IDENT = r'(?:"(?:[^"]|"")+"|[^\s."]+)'
# A COPY of pg_dump's (COPY schema.table (columns) FROM stdin;): the table as written, quotes included.
COPY = re.compile(rb"^COPY (" + _IDENT.encode() + rb"\." + _IDENT.encode() + rb")[ (].*FROM stdin;\r?\n?$")
_PLAIN_SCHEMA = re.compile(rb"^CREATE SCHEMA (" + _IDENT.encode() + rb");")
_PLAIN_BY = re.compile(rb"^-- Dumped by pg_dump version (\d+(?:\.\d+)?)")
_PLAIN_FROM = re.compile(rb"^-- Dumped from database version (\d+(?:\.\d+)?)")
_LIST_BY = re.compile(r"^;\s+Dumped by pg_dump version: (\d+(?:\.\d+)?)", re.MULTILINE)
_LIST_FROM = re.compile(r"^;\s+Dumped from database version: (\d+(?:\.\d+)?)", re.MULTILINE)
# --list prints names as they are, spaces included: "TABLE DATA <schema> <table> <owner>".
_LIST_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA (.+) \S+$", re.MULTILINE)
_LIST_SCHEMA = re.compile(r"^\d+; \d+ \d+ SCHEMA - (.+) \S+$", re.MULTILINE)


SUFFIXES = (".dump", ".sql")  # the wizard's backups: a custom archive, a plain SQL dump
PARTIAL = ".partial"  # a backup being written, or left by a run that was killed


def partial_path(path: Path) -> Path:
    """Where pg_dump writes the backup that becomes `path` once verified: hidden, and not named
    like a backup, so nothing offers it for a restore."""
    return path.with_name(f".{path.name}{PARTIAL}")


def is_partial(path: Path) -> bool:
    return path.name.endswith(PARTIAL)


class DumpUnreadable(WizardError):
    title = "Backup file unreadable"


def unquote(name: str) -> str:
    """schema.table as a person writes it: public."Big Table" -> public.Big Table."""
    return re.sub(r'"((?:[^"]|"")*)"', lambda m: m.group(1).replace('""', '"'), name)


@dataclass(frozen=True)
class DumpFile:
    path: Path
    format: str  # "custom" or "plain"
    tables: tuple[str, ...]  # schema.table of every table whose rows the file holds (unquoted), sorted
    schemas: tuple[str, ...]  # the schemas it creates (unquoted)
    dumped_by: str | None  # the pg_dump version that wrote it, e.g. "18.4"
    dumped_from: str | None  # the server version it was taken from
    complete: bool  # custom: pg_restore read its table of contents; plain: it ends with pg_dump's last line

    @property
    def dumped_by_major(self) -> int | None:
        return int(self.dumped_by.split(".")[0]) if self.dumped_by else None


def read(path: Path, *, writing: bool = False) -> DumpFile:
    """The file's contents, or InputError when it is missing, not made by pg_dump, or an
    unfinished backup (`writing`: the backup's own check of the file it is writing)."""
    if is_partial(path) and not writing:
        raise InputError(
            f"{path.name} is an unfinished backup left by an interrupted run; it cannot be restored.",
            fix=(
                f"Choose a finished backup (its name ends in {' or '.join(SUFFIXES)}), or take a new one"
                " with `migration-wizard backup`; this file can be deleted.",
            ),
        )
    if not path.is_file():
        raise InputError(
            f"There is no backup file at {path}.",
            fix=(f"Check the path: the wizard keeps its own backups in {paths.backups_dir()}.",),
        )
    with path.open("rb") as handle:
        head = handle.read(5)
    if head == b"PGDMP":
        return _read_archive(path)
    return _read_plain(path)


def _read_archive(path: Path) -> DumpFile:
    reader = pgtools.newest("pg_restore")  # the newest reads every archive version
    listed = subprocess.run([str(reader.path), "--list", str(path)], capture_output=True, text=True)
    if listed.returncode != 0:
        why = (listed.stderr.strip().splitlines() or ["pg_restore cannot read it"])[-1]
        raise InputError(
            f"{path} is not a readable backup: {why}",
            fix=("Choose a file made by pg_dump (the wizard's backups end in .dump or .sql); a cut-off copy"
                 " cannot be read: take a new backup.",),
        )  # fmt: skip
    text = listed.stdout
    by, source = _LIST_BY.search(text), _LIST_FROM.search(text)
    schemas = tuple(dict.fromkeys(m.group(1) for m in _LIST_SCHEMA.finditer(text)))
    return DumpFile(
        path,
        "custom",
        tuple(sorted({_split_listed(m.group(1), schemas) for m in _LIST_DATA.finditer(text)})),
        schemas,
        by.group(1) if by else None,
        source.group(1) if source else None,
        True,
    )


def _split_listed(names: str, schemas: tuple[str, ...]) -> str:
    """schema.table from --list's "<schema> <table>", where either may hold spaces: the schema is
    the longest of the archive's schemas (or public) that the text starts with."""
    for schema in sorted({*schemas, "public"}, key=len, reverse=True):
        if names.startswith(schema + " "):
            return f"{schema}.{names[len(schema) + 1 :]}"
    schema, _, table = names.partition(" ")
    return f"{schema}.{table}"


def _read_plain(path: Path) -> DumpFile:
    tables: set[str] = set()
    schemas: list[str] = []
    by = source = None
    done = False  # pg_dump's completion line seen, followed only by comments and psql commands
    with path.open("rb") as handle:
        first = handle.read(400)
        if b"PostgreSQL database dump" not in first:
            raise InputError(
                f"{path} does not look like a pg_dump backup.",
                fix=("Choose a file made by pg_dump: a custom archive (.dump) or a plain SQL dump (.sql).",),
            )
        handle.seek(0)
        in_copy = False
        for line in handle:
            if in_copy:
                in_copy = line not in (b"\\.\n", b"\\.\r\n", b"\\.")
                continue
            if line.startswith(PLAIN_DONE):
                done = True
            elif done and line.strip() and not line.startswith((b"--", b"\\")):
                done = False  # pg_dump 18 ends with \unrestrict after it
            match = COPY.match(line)
            if match:
                tables.add(unquote(match.group(1).decode("utf-8", "replace")))
                in_copy = True
            elif line.startswith(b"--"):
                by = by or _PLAIN_BY.match(line)
                source = source or _PLAIN_FROM.match(line)
            elif line.startswith(b"CREATE SCHEMA"):
                schema = _PLAIN_SCHEMA.match(line)
                if schema:
                    schemas.append(unquote(schema.group(1).decode("utf-8", "replace")))
    return DumpFile(
        path,
        "plain",
        tuple(sorted(tables)),
        tuple(schemas),
        by.group(1).decode() if by else None,
        source.group(1).decode() if source else None,
        done,
    )


def reader_for(dump: DumpFile, server_major: int) -> pgtools.ToolChoice:
    """The pg_restore that turns this archive into SQL for a server of `server_major`."""
    made_by = dump.dumped_by_major or 0
    tools = [t for t in tool_finder.candidates("pg_restore") if t.major >= made_by]
    if not tools:
        newest = max((t.major for t in tool_finder.candidates("pg_restore")), default=None)
        raise pgtools.ToolMissing(
            f"No pg_restore here can read this archive: it was made by pg_dump {dump.dumped_by}"
            + (f", and the newest pg_restore found is {newest}." if newest else ", and no pg_restore was found."),
            fix=(f"Install PostgreSQL {made_by} client tools, or update migration-wizard.",),
        )
    tool = min(tools, key=lambda t: (t.major, t.bundled))
    which = (
        f"pg_restore {tool.version} on PATH ({tool.path})"
        if not tool.bundled
        else (f"the wizard's own pg_restore {tool.version}")
    )
    made = f"made by pg_dump {dump.dumped_by}" if dump.dumped_by else "of an unknown pg_dump version"
    reason = f"{which}, the oldest that reads this archive ({made})"
    if tool.major > server_major:
        reason += f"; the settings it writes that PostgreSQL {server_major} lacks are left out"
    return pgtools.ToolChoice(tool, reason)


@contextmanager
def sql_stream(
    dump: DumpFile, reader: pgtools.ToolChoice | None = None, options: tuple[str, ...] = ()
) -> Iterator[SqlStream]:
    """The file's SQL as it is read (never whole in memory). For an archive, `reader` converts it
    (with pg_restore's `options`, e.g. --no-owner); a failure of that pg_restore raises
    DumpUnreadable when the stream runs out."""
    if dump.format == "plain":
        with dump.path.open("rb") as handle:
            stream = SqlStream(handle)
            try:
                yield stream
            finally:
                stream.close()
        return
    tool = (reader or reader_for(dump, 0)).tool
    process = subprocess.Popen(
        [str(tool.path), *options, "--file", "-", str(dump.path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.extend(process.stderr or ()), daemon=True)
    drain.start()

    def finished() -> None:
        code = process.wait()
        drain.join(5)
        if code != 0:
            said = [e.decode("utf-8", "replace").strip() for e in errors if e.strip()]
            raise DumpUnreadable(
                f"pg_restore could not read all of {dump.path}: {said[-1] if said else f'exit status {code}'}",
                fix=("The file may be cut off or damaged: restore another backup, or take a new one.",),
            )

    stream = SqlStream(process.stdout, finished)
    try:
        yield stream
    finally:
        if process.poll() is None:
            process.kill()
        stream.close()
        process.wait()
        process.stdout.close()
        drain.join(5)
        process.stderr.close()
