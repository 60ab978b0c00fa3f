"""What the benchmarks that need a server of their own share: Debian's PostgreSQL 15 with TLS
and a password (started through tests/local_servers.py), the embedded 18, timing a child
process, clean-up on Ctrl+C / SIGTERM, and keeping the password out of what is printed.

Not a benchmark itself (the leading underscore); the scripts next to it import it as
`_servers` (Python puts the script's folder first on sys.path).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
DEBIAN_BIN = Path("/usr/lib/postgresql/15/bin")
# Characters that need percent-encoding in a URL, like a real generated password.
PASSWORD = "bench/p@ss#15"
BASELINE = ROOT / "migrations" / "001_baseline.sql"
PHASE2 = ROOT / "migrations" / "002_phase2_vision_api.sql"


def missing(sentence: str) -> NoReturn:
    """A prerequisite is missing: one sentence on stderr, exit status 2."""
    print(sentence, file=sys.stderr)
    raise SystemExit(2)


def _tests_helpers() -> Any:
    """tests/local_servers.py, importable from the checkout root (appended, so the `wizard`
    package this process imports stays the one `python -m wizard` finds)."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    try:
        from tests import local_servers
    except ImportError as exc:
        missing(f"Cannot import tests/local_servers.py ({exc}): install the test extras (pip install -e '.[test]').")
    return local_servers


def check_debian_15() -> None:
    if not (DEBIAN_BIN / "initdb").exists() or not (DEBIAN_BIN / "psql").exists():
        missing("Debian's PostgreSQL 15 is not installed: run `apt-get install -y postgresql-15` first.")
    if os.geteuid() != 0 or shutil.which("runuser") is None or shutil.which("openssl") is None:
        missing("Starting PostgreSQL 15 as the postgres user needs root, runuser and openssl.")


@dataclass
class Debian15:
    """A running TLS-only cluster (tests.local_servers.TlsCluster) and how to reach it."""

    cluster: Any

    @property
    def password(self) -> str:
        return str(self.cluster.password)

    @property
    def port(self) -> int:
        return int(self.cluster.port)

    def url(self, dbname: str, *, port: int | None = None, with_password: bool = True) -> str:
        """postgresql://postgres:PW@127.0.0.1:PORT/DB?sslmode=require (port: e.g. a proxy's)."""
        secret = f":{quote(self.password, safe='')}" if with_password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{port or self.port}/{quote(dbname, safe='')}?sslmode=require"

    def stop(self) -> None:
        self.cluster.stop()


def start_debian_15(work: Path, settings: str = "") -> Debian15:
    """Debian's PostgreSQL 15 in `work`/pg15: TLS only on 127.0.0.1, scram-sha-256, fsync off.

    `settings`: lines added to postgresql.conf (applied by a restart)."""
    check_debian_15()
    local_servers = _tests_helpers()
    cluster = local_servers.start_tls_cluster(
        work, DEBIAN_BIN, version=15, password=PASSWORD, kind=local_servers.TlsCluster
    )
    server = Debian15(cluster)
    if settings:
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\n# benchmarks\n{settings}\n")
        local_servers.as_postgres(
            cluster.folder, str(DEBIAN_BIN / "pg_ctl"), "-w", "-D", str(cluster.data), "-l", str(cluster.log), "restart"
        )
    return server


def embedded_18(work: Path) -> Any:
    """The embedded PostgreSQL 18 (Unix socket, trust) in `work`/pgdata, deleted at .cleanup()."""
    from wizard.core.practice import embedded_server

    return embedded_server(work / "pgdata", 18, cleanup_mode="delete")


def wizard_location() -> str:
    """Which wizard `python -m wizard` runs here: its version and folder."""
    where = subprocess.run(
        [sys.executable, "-c", "import wizard; print(wizard.__version__, wizard.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{where[0]} at {Path(where[1]).parent.parent}"


class Redactor:
    """Keeps a password (and its percent-encoded form) out of printed text."""

    def __init__(self, *secrets: str) -> None:
        self.secrets = [s for secret in secrets if secret for s in {secret, quote(secret, safe="")}]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "********")
        return text


# ---------------------------------------------------------------------------------------------
# Child processes: timed from start to exit, stopped if the benchmark is interrupted
# ---------------------------------------------------------------------------------------------

_children: set[subprocess.Popen[bytes]] = set()


@dataclass
class Finished:
    seconds: float
    returncode: int
    output: str  # stdout and stderr together


def run_timed(command: Sequence[str | Path], env: dict[str, str] | None = None, timeout: float = 600) -> Finished:
    """Run `command` (stdin closed), wall-clock from just before start to its exit."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [str(c) for c in command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env,
    )  # fmt: skip
    _children.add(child)
    try:
        out, _ = child.communicate(timeout=timeout)
        seconds = time.perf_counter() - started
    finally:
        if child.returncode is None:
            child.kill()
            child.wait()
        _children.discard(child)
    return Finished(seconds, child.returncode, out.decode(errors="replace"))


def stop_children() -> None:
    for child in list(_children):
        if child.returncode is None:
            child.kill()
            child.wait()
    _children.clear()


def _interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def on_sigterm_interrupt() -> None:
    """SIGTERM ends the script like Ctrl+C does: through the `finally` that cleans up."""
    signal.signal(signal.SIGTERM, _interrupted)


def ignore_signals_for_cleanup() -> None:
    """A second Ctrl+C must not cut the clean-up short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def child_env(data_home: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for a measured child, without any connection settings of the caller's.

    `data_home`: the wizard's data folder (its session reports) goes there, not in the user's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    # An installed wizard has its bytecode compiled (pip does it); a checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every module on every start (~60 ms) instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if data_home is not None:
        env["XDG_DATA_HOME"] = str(data_home)
    env.update(extra)
    return env
