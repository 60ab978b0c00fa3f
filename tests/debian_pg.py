"""Debian's PostgreSQL 15, started by the suite: TLS-only on TCP with password checks.

The embedded server is built without TLS and trusts its socket, so tests of
`sslmode=require`, wrong passwords and an older server version use this one.

Over TCP only `hostssl ... scram-sha-256` is in pg_hba.conf, so a plain connection
is refused ("no pg_hba.conf entry ..., no encryption") and a wrong password is
"password authentication failed". The Unix socket (in the cluster folder) trusts
everyone; the suite itself always goes over TCP with the password.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from tests.local_servers import free_port, self_signed_certificate
from tests.requirements import skip_or_fail

BIN = Path("/usr/lib/postgresql/15/bin")
# Needs percent-encoding in a URL (@, / and #), so the tests see that it is encoded and never shown.
PASSWORD = "p@ss/w#rd-15"
MISSING = (
    "Debian's postgresql-15 is not installed (apt-get install postgresql-15): needed for the TLS and password tests"
)
# A Unix socket's path (folder + "/.s.PGSQL.<port>") must fit in sun_path (108 bytes).
_SOCKET_FOLDER_MAX = 90


@dataclass
class DebianPg:
    folder: Path
    port: int
    host: str = "127.0.0.1"
    superuser: str = "postgres"
    password: str = PASSWORD
    version: int = 15

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

    def stop(self) -> None:
        """Fast shutdown; does nothing (and raises nothing) if the server is already down."""
        if (self.data / "postmaster.pid").exists():
            _as_postgres(
                self.folder, str(BIN / "pg_ctl"), "-w", "-m", "fast", "-D", str(self.data), "stop", check=False
            )


def _as_postgres(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # cwd: the postgres user cannot enter root's current folder (initdb warns about it).
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def _cluster_folder(base_dir: Path) -> Path:
    base_dir.mkdir(parents=True, exist_ok=True)
    if len(str(base_dir.resolve())) + len("/pg15") > _SOCKET_FOLDER_MAX:
        base_dir = Path(tempfile.mkdtemp(prefix="pg15-"))
    folder = base_dir.resolve() / "pg15"
    folder.mkdir()
    # The postgres user must traverse pytest's private (0700, root-owned) temporary folders.
    for parent in folder.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
    folder.chmod(0o700)
    shutil.chown(folder, "postgres", "postgres")
    return folder


def _write_owned(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)
    shutil.chown(path, "postgres", "postgres")


def start_debian_pg(base_dir: Path) -> DebianPg:
    if not (BIN / "initdb").exists():
        skip_or_fail(MISSING)
    if os.geteuid() != 0 or shutil.which("runuser") is None or shutil.which("openssl") is None:
        skip_or_fail("starting Debian's PostgreSQL 15 as the postgres user needs root, runuser and openssl")
    folder = _cluster_folder(base_dir)
    server = DebianPg(folder, free_port())
    pwfile = folder / "pwfile"
    _write_owned(pwfile, PASSWORD + "\n")
    _as_postgres(
        folder,
        str(BIN / "initdb"),
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
            "\n# tests/debian_pg.py\n"
            f"ssl = on\nlisten_addresses = '{server.host}'\nport = {server.port}\n"
            f"unix_socket_directories = '{folder}'\nmax_connections = 50\nfsync = off\n"
        )
    # TLS only: a plain TCP connection finds no pg_hba entry.
    _write_owned(server.data / "pg_hba.conf", "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
    for attempt in range(3):
        server.log.unlink(missing_ok=True)
        started = _as_postgres(
            folder, str(BIN / "pg_ctl"), "-w", "-D", str(server.data), "-l", str(server.log), "start", check=False
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


@pytest.fixture(scope="session")
def debian_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DebianPg]:
    server = start_debian_pg(tmp_path_factory.mktemp("debian"))
    try:
        yield server
    finally:
        server.stop()
