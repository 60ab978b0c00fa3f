"""A throwaway local copy of a database: an embedded PostgreSQL that holds one backup, restored
without owners and privileges, and removed (server stopped, folder deleted) on close.

pg_restore goes on past objects the local server cannot create (an extension it lacks, a
role that exists only on the real server); each one comes back as a RehearsalWarning.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict

from wizard.core import dumpfile, paths, pgtools, practice
from wizard.core.connection import Target, parse_url
from wizard.core.doctor import Diagnosis, diagnose
from wizard.core.errors import Cancelled, InputError, WizardError
from wizard.core.events import RehearsalWarning

DATABASE = "rehearsal"
WITHOUT_REHEARSAL = (
    "Or go ahead without a rehearsal: `migration-wizard migrate` takes a verified backup first and runs"
    " each migration in one transaction (all of it or nothing)."
)
_CURRENT = re.compile(r'^pg_restore: (?:creating ([A-Z][A-Z ]*) "(.+)"|processing data for table "(.+)")$')
_ERROR = re.compile(r"^pg_restore: error: (?:could not execute query: )?(.*)$")
_SEVERITY = re.compile(r"^(?:ERROR|FATAL):\s+")
_MISSING_EXTENSION = (
    re.compile(r'extension "([^"]+)" is not available'),
    re.compile(r'could not open extension control file "[^"]*?([^/"\\]+)\.control"'),
    re.compile(r'extension "([^"]+)" does not exist'),  # what needed it: a comment on it, a function of it
)
_MISSING_ROLE = re.compile(r'role "([^"]+)" does not exist')
# pg_restore 18 sets this PostgreSQL 17 parameter on every server: an older one refuses it, harmlessly.
_HARMLESS = re.compile(r'unrecognized configuration parameter "transaction_timeout"')


class RehearsalFailed(WizardError):
    """The rehearsal could not run (it says nothing about the migrations); the database was not changed."""

    title = "Rehearsal not possible"

    def __init__(
        self,
        message: str,
        *,
        fix: tuple[str, ...] = (),
        detail: str = "",
        diagnosis: Diagnosis | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, fix=fix, detail=detail, diagnosis=diagnosis)
        self.warnings = warnings


def local_major(server_major: int, reader: pgtools.ToolChoice | None = None) -> int:
    """The smallest embedded PostgreSQL that can restore a backup of this server (same or newer),
    and at least as new as the pg_restore that reads it, where one is: a newer pg_restore sends
    settings an older server lacks (18's transaction_timeout, which 16 refuses)."""
    available = practice.embedded_versions()
    fitting = [v for v in available if v >= server_major]
    if not fitting:
        raise RehearsalFailed(
            f"Your server runs PostgreSQL {server_major}, newer than the wizard's own PostgreSQL"
            f" ({', '.join(map(str, available))}): its backup cannot be restored into an older server.",
            fix=(
                "Update migration-wizard (pip install -U migration-wizard): a newer version brings a newer PostgreSQL.",
                "Or rehearse on a copy of your own: on Neon, create a branch of the database and run"
                " `migration-wizard migrate` with the branch's URL.",
                WITHOUT_REHEARSAL,
            ),
        )
    if reader is not None:
        return min([v for v in fitting if v >= reader.tool.major] or fitting)
    return min(fitting)


def read_archive(path: Path) -> dumpfile.DumpFile:
    """What an archive made by pg_dump holds, or InputError for anything else (a plain SQL file too)."""
    dump = dumpfile.read(path)
    if dump.format == "plain":
        raise InputError(
            f"{path} is a plain SQL backup: a rehearsal restores an archive (a .dump file), which lets it"
            " leave out the owners and privileges that only your server knows.",
            fix=(
                "Take an archive with `migration-wizard backup` (its default format), or run"
                " `migration-wizard rehearse` without --backup: it takes a fresh one and deletes it afterwards.",
            ),
        )
    return dump


class LocalCopy:
    """`with LocalCopy(18) as local: target = local.start(); local.restore(archive, cancel)`.

    The server's data lives in a fresh folder of its own under paths.rehearsals_dir(): run
    as root, the embedded server makes every parent of its data folder world-readable."""

    def __init__(self, major: int) -> None:
        self.major = major
        self.folder = Path(tempfile.mkdtemp(prefix="copy-", dir=paths.rehearsals_dir()))
        self.server: Any = None

    def __enter__(self) -> LocalCopy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> Target:
        """Start the server and create the empty database; returns its target (a Unix socket)."""
        try:
            self.server = practice.embedded_server(self.folder / f"pg{self.major}", self.major, cleanup_mode="delete")
            with psycopg.connect(self.server.get_uri("postgres"), autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {DATABASE}")
        except (OSError, RuntimeError, subprocess.SubprocessError, psycopg.Error) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise RehearsalFailed(
                f"The throwaway PostgreSQL {self.major} could not be started: {first}",
                fix=(
                    f"Check the free space in {self.folder.parent}, then rehearse again.",
                    "Check that the embedded PostgreSQL starts at all: `migration-wizard practice`.",
                    WITHOUT_REHEARSAL,
                ),
            ) from None
        return parse_url(self.server.get_uri(DATABASE))

    def restore(
        self, archive: Path, target: Target, cancel: threading.Event, reader: pgtools.ToolChoice | None = None
    ) -> list[RehearsalWarning]:
        """pg_restore the archive into the copy; what it could not restore, as warnings. `reader`:
        the pg_restore to use (local_major chose the copy's version for it); the newest otherwise."""
        tool = reader.tool if reader is not None else pgtools.newest("pg_restore")
        args = [str(tool.path), "--no-owner", "--no-privileges", "--verbose", "--dbname", target.database]
        env = pgtools.tool_env(target, plain=True)
        process = subprocess.Popen(
            [*args, str(archive)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        pgtools.stop_on_cancel(process, cancel)
        assert process.stderr is not None
        lines = [line.rstrip() for line in process.stderr]
        code = process.wait()
        if cancel.is_set():
            raise Cancelled("Rehearsal cancelled: the copy was removed and your database was not changed.")
        if code != 0 and not any("errors ignored on restore" in line for line in lines):
            problem = [ln for ln in lines if "error:" in ln] or lines[-3:]
            found = diagnose("\n".join(problem))
            raise RehearsalFailed(
                f"pg_restore could not restore the copy: {problem[0] if problem else f'exit status {code}'}",
                detail="\n".join(problem[1:]),
                fix=found.fix if found.matched else ("Take a new backup and rehearse again.", WITHOUT_REHEARSAL),
            )
        return parse_restore_errors(lines)

    def close(self) -> None:
        """Stop the server and delete its folder, whatever state they are in."""
        sockets: Path | None = None
        if self.server is not None:
            with contextlib.suppress(Exception):
                sockets = Path(str(conninfo_to_dict(self.server.get_uri())["host"]))
            with contextlib.suppress(Exception):
                self.server.cleanup()  # cleanup_mode="delete": stops it and deletes its data folder
            self.server = None
        # A start interrupted half-way leaves a server that no handle knows of.
        for process in psutil.process_iter(["name", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                if process.info["name"] == "postgres" and str(self.folder) in " ".join(process.info["cmdline"] or ()):
                    process.terminate()
                    with contextlib.suppress(psutil.TimeoutExpired):
                        process.wait(5)
                    if process.is_running():
                        process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
        # A data folder too deep for a Unix socket's path gets a socket folder in the temp folder.
        if sockets is not None and self.folder not in sockets.parents:
            with contextlib.suppress(OSError):
                sockets.rmdir()


def parse_restore_errors(lines: Sequence[str]) -> list[RehearsalWarning]:
    """pg_restore's --verbose output as one warning per object it could not restore."""
    found: list[RehearsalWarning] = []
    current = "an object of the backup"
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        where = _CURRENT.match(line)
        if where:
            current = _object(*where.groups())
            continue
        error = _ERROR.match(line)
        if not error:
            continue
        message = _SEVERITY.sub("", error.group(1)).strip()
        details: list[str] = []
        while index < len(lines) and not lines[index].startswith("pg_restore:"):
            if lines[index].strip() and not lines[index].startswith("Command was:"):
                details.append(lines[index].strip())
            index += 1
        if not _HARMLESS.search(message):
            found.append(_classify(current, message, " ".join(details)))
    return found


def _object(kind: str | None, name: str | None, data: str | None) -> str:
    """What pg_restore's --verbose line names, in words: 'foreign key public.t t_fkey', 'the data of table public.t'."""
    if data:
        return f"the data of table {data}"
    kind, name = (kind or "object").lower(), name or ""
    if kind == "comment":
        what, _, rest = name.partition(" ")
        return f"the comment on {what.lower()} {rest}"
    return f"{kind.replace('fk constraint', 'foreign key')} {name}"


def _classify(current: str, message: str, details: str) -> RehearsalWarning:
    text = f"{message} {details}"
    for pattern in _MISSING_EXTENSION:
        match = pattern.search(text)
        if match:
            reason = f'the local PostgreSQL has no extension "{match.group(1)}"'
            return RehearsalWarning("extension", current, reason, match.group(1))
    match = _MISSING_ROLE.search(text)
    if match:
        reason = f'it names the role "{match.group(1)}", which exists only on your server'
        return RehearsalWarning("role", current, reason, match.group(1))
    return RehearsalWarning("other", current, message)
