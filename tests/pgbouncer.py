"""PgBouncer as a TLS-only front (like Neon's proxy) for the embedded PostgreSQL 18, which
has no TLS itself: a server newer than PATH's pg_dump, reachable only with sslmode=require."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.local_servers import free_port, self_signed_certificate
from tests.requirements import skip_or_fail

if TYPE_CHECKING:
    from tests.conftest import EmbeddedServer

PASSWORD = "front-door-pw"


@dataclass
class TlsFront:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]

    def url(self, dbname: str, sslmode: str = "require") -> str:
        return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{self.port}/{dbname}?sslmode={sslmode}"


@pytest.fixture(scope="session")
def tls_front(pg_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFront]:
    binary = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if binary is None or shutil.which("openssl") is None or shutil.which("runuser") is None:
        skip_or_fail("pgbouncer is not installed (apt-get install pgbouncer): needed for the TLS-only front tests")
    info = pg_server.handle.get_postmaster_info()
    folder = tmp_path_factory.mktemp("pgbouncer")
    for parent in [folder, *folder.parents]:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    self_signed_certificate(folder / "front.key", folder / "front.crt")
    port = free_port()
    (folder / "userlist.txt").write_text(f'"postgres" "{PASSWORD}"\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={info.socket_dir} port={info.port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = scram-sha-256\nauth_file = {folder / 'userlist.txt'}\n"
        "pool_mode = session\nignore_startup_parameters = extra_float_digits,options\n"
        # pg_dump leaves without ending its transaction; PgBouncer 1.18 may then park that server
        # connection, locks and all: end such leftovers quickly, as a managed pooler would.
        "idle_transaction_timeout = 1\n"
        f"client_tls_sslmode = require\nclient_tls_cert_file = {folder / 'front.crt'}\n"
        f"client_tls_key_file = {folder / 'front.key'}\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
    )
    # PgBouncer refuses to run as root; the embedded server's own user can reach its socket.
    shutil.chown(folder, "pgserver")
    for item in folder.iterdir():
        shutil.chown(item, "pgserver")
        item.chmod(0o600)
    process = subprocess.Popen(
        ["runuser", "-u", "pgserver", "--", binary, str(folder / "pgbouncer.ini")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield TlsFront(port, folder, process)
    process.terminate()
    process.wait(10)
