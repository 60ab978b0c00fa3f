"""A throwaway local copy of a database: an embedded PostgreSQL that holds one backup, restored
without owners and privileges, and removed (server stopped, folder deleted) on close.

The restore goes on past objects the local server cannot create (an extension it lacks, a
role that exists only on the real server): each object loads in a savepoint, and each one
refused comes back as a RehearsalWarning.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict

from wizard.core import dumpfile, paths, pgtools, practice
from wizard.core.connection import Target, parse_url
from wizard.core.doctor import diagnose
from wizard.core.errors import Cancelled, InputError, RehearsalFailed
from wizard.core.events import RehearsalWarning
from wizard.core.loader import load_copy

DATABASE = "rehearsal"
WITHOUT_REHEARSAL = (
    "Or go ahead without a rehearsal: `migration-wizard migrate` takes a verified backup first and runs"
    " each migration in one transaction (all of it or nothing)."
)
_MISSING_EXTENSION = (
    re.compile(r'extension "([^"]+)" is not available'),
    re.compile(r'could not open extension control file "[^"]*?([^/"\\]+)\.control"'),
    re.compile(r'extension "([^"]+)" does not exist'),  # what needed it: a comment on it, a function of it
)
_MISSING_ROLE = re.compile(r'role "([^"]+)" does not exist')


def local_major(server_major: int) -> int:
    """The smallest embedded PostgreSQL that can restore a backup of this server (same or newer):
    the closest to it. Whichever pg_restore reads the archive, the loader leaves out the settings
    and column options this copy lacks."""
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
        self, dump: dumpfile.DumpFile, target: Target, cancel: threading.Event, reader: pgtools.ToolChoice | None = None
    ) -> list[RehearsalWarning]:
        """Load the archive into the copy (without owners and privileges) through the wizard's own
        loader, which leaves out settings and column options the copy lacks and goes on past
        objects it cannot create; each of those comes back as a warning. `reader`: the
        pg_restore that turns the archive into SQL (the newest when not given)."""
        tool = reader or pgtools.ToolChoice(pgtools.newest("pg_restore"), "the newest pg_restore here")
        try:
            with psycopg.connect(target.conninfo, autocommit=True) as conn:
                problems = load_copy(conn, dump, tool, cancel)
        except Cancelled:
            raise Cancelled("Rehearsal cancelled: the copy was removed and your database was not changed.") from None
        except (dumpfile.DumpUnreadable, psycopg.Error) as error:
            said = (str(error).strip().splitlines() or [type(error).__name__])[0]
            found = diagnose(str(error))
            raise RehearsalFailed(
                f"The copy could not be restored: {said}",
                fix=found.fix if found.recognized else ("Take a new backup and rehearse again.", WITHOUT_REHEARSAL),
            ) from None
        return [_classify(p.object, p.message, p.detail) for p in problems]

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
