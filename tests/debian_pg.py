"""Debian's PostgreSQL 15, started by the suite: TLS-only on TCP with password checks.

The embedded server is built without TLS and trusts its socket, so tests of
`sslmode=require`, wrong passwords and an older server version use this one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from tests.requirements import skip_or_fail

BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "p@ss/w#rd-15"


def _as_postgres(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, input=input, check=True
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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

    def url(
        self, dbname: str, *, user: str | None = None, password: str | None = None, sslmode: str = "require"
    ) -> str:
        user = user or self.superuser
        secret = self.password if password is None else password
        return (
            f"postgresql://{quote(user, safe='')}:{quote(secret, safe='')}@{self.host}:{self.port}/"
            f"{quote(dbname, safe='')}?sslmode={sslmode}"
        )

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def create_database(self, name: str, sql_file: Path | None = None) -> str:
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if sql_file is not None:
            with psycopg.connect(self.url(name), autocommit=True) as conn:
                conn.execute(sql_file.read_text(encoding="utf-8"))
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(BIN / "pg_ctl"), "-w", "-m", "fast", "-D", str(self.data), "stop"],
            capture_output=True,
        )


def start_debian_pg(base_dir: Path) -> DebianPg:
    if not (BIN / "initdb").exists():
        skip_or_fail("Debian's postgresql-15 is not installed (apt-get install postgresql-15): needed for TLS tests")
    if shutil.which("runuser") is None or shutil.which("openssl") is None or os.geteuid() != 0:
        skip_or_fail("starting Debian's PostgreSQL needs root, runuser and openssl")
    folder = base_dir / "pg15"
    folder.mkdir(parents=True)
    # The postgres user must reach the folder through pytest's private temporary folders.
    for parent in [folder, *folder.parents]:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    shutil.chown(folder, "postgres", "postgres")
    server = DebianPg(folder, _free_port())
    pwfile = folder / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    pwfile.chmod(0o600)
    shutil.chown(pwfile, "postgres", "postgres")
    _as_postgres(
        str(BIN / "initdb"),
        "-D",
        str(server.data),
        "-U",
        "postgres",
        f"--pwfile={pwfile}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
    )
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(server.data / "server.key"),
            "-out",
            str(server.data / "server.crt"),
        ],
        capture_output=True,
        check=True,
    )
    for name in ("server.key", "server.crt"):
        (server.data / name).chmod(0o600)
        shutil.chown(server.data / name, "postgres", "postgres")
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nssl = on\nlisten_addresses = '127.0.0.1'\nport = {server.port}\n"
            f"unix_socket_directories = '{folder}'\nmax_connections = 50\nfsync = off\n"
        )
    # TLS only: a plain TCP connection finds no pg_hba entry.
    (server.data / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
    _as_postgres(str(BIN / "pg_ctl"), "-w", "-D", str(server.data), "-l", str(folder / "log"), "start")
    return server


@pytest.fixture(scope="session")
def debian_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DebianPg]:
    server = start_debian_pg(tmp_path_factory.mktemp("debian"))
    yield server
    server.stop()
