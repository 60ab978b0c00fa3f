"""Real endpoints that fail in known ways, for the doctor's reproduced errors: a closed port,
listeners that say nothing, hang up or answer HTTP, a TCP relay to the embedded server
that can be cut mid-session, and PgBouncer 1.x in transaction mode (no TLS)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from tests.local_servers import free_port
from tests.requirements import skip_or_fail
from wizard.core.doctor import diagnose

if TYPE_CHECKING:
    from tests.conftest import EmbeddedServer, TestDatabase

DUMP_ENV = "DOCTOR_CORPUS_DUMP"  # set to a file to record every reproduced message (how the corpus was made)


def assert_diagnosed(
    rule_id: str, text: str, sqlstate: str | None = None, *, how: str = "", confidence: str = "high"
) -> None:
    """The first answer is `rule_id`, as sure as `confidence` ("medium": a message that fits two
    causes, answered "probably X; if not, Y")."""
    found = diagnose(text, sqlstate=sqlstate)
    dump = os.environ.get(DUMP_ENV)
    if dump:
        test = os.environ.get("PYTEST_CURRENT_TEST", "").split("::")[0]
        record = {"rule": rule_id, "text": text, "sqlstate": sqlstate, "how": how, "test": test}
        with open(dump, "a", encoding="utf-8") as out:
            out.write(json.dumps(record | ({"confidence": confidence} if confidence != "high" else {})) + "\n")
    said = getattr(found, "confidence", "high" if found.matched else "low")  # engines before confidence
    assert found.id == rule_id and said == confidence, (
        f"expected {rule_id} ({confidence}), got {found.id} ({said}):\n{text}"
    )


def assert_error(rule_id: str, exc: BaseException, *, how: str = "", confidence: str = "high") -> None:
    """The rule for a caught exception, from its text and SQLSTATE alone (as the wizard sees it)."""
    sqlstate = getattr(exc, "sqlstate", None)
    assert_diagnosed(rule_id, str(exc), sqlstate if isinstance(sqlstate, str) else None, how=how, confidence=confidence)


@dataclass
class Listener:
    """A TCP port that accepts connections and then stays silent, hangs up, or answers HTTP."""

    mode: str
    sock: socket.socket = field(default_factory=socket.socket)
    accepted: list[socket.socket] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "silent":
                self.accepted.append(conn)
                continue
            conn.recv(1024)
            if self.mode == "http":
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            conn.close()

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


class Relay:
    """TCP on 127.0.0.1 to a Unix socket, with `cut()` to drop every connection at once."""

    def __init__(self, unix_path: str) -> None:
        self.unix_path = unix_path
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.unix_path)
            self.open += [client, server]
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        for conn in self.open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self.open.clear()

    def close(self) -> None:
        self.cut()
        self.sock.close()


@dataclass
class Pooler:
    port: int
    database: str
    folder: Path

    def url(self, database: str | None = None, **params: Any) -> str:
        extra = "".join(f"&{key}={value}" for key, value in params.items())
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database or self.database}?sslmode=disable{extra}"


def _wait_for_port(port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@pytest.fixture(scope="module")
def pooler(pg_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pooler]:
    """PgBouncer in transaction mode (as Neon's -pooler hosts), two server connections, no TLS."""
    binary = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if binary is None or shutil.which("runuser") is None:
        skip_or_fail("pgbouncer is not installed (apt-get install pgbouncer): needed for the pooler errors")
    info = pg_server.handle.get_postmaster_info()
    name = "doctor_pooled"
    with pg_server.admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    folder = tmp_path_factory.mktemp("pooler")
    for parent in [folder, *folder.parents]:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    port = free_port()
    (folder / "userlist.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{name} = host={info.socket_dir} port={info.port} dbname={name}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 6\nquery_wait_timeout = 1\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
    )
    shutil.chown(folder, "pgserver")
    for item in folder.iterdir():
        shutil.chown(item, "pgserver")
        item.chmod(0o600)
    process = subprocess.Popen(["runuser", "-u", "pgserver", "--", binary, str(folder / "pgbouncer.ini")])
    try:
        _wait_for_port(port)
        yield Pooler(port, name, folder)
    finally:
        process.terminate()
        process.wait(10)
        with pg_server.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def connect_error(conninfo: str, **kwargs: Any) -> psycopg.Error:
    """The error psycopg raises for this connection (the test fails if it connects)."""
    try:
        psycopg.connect(conninfo, **kwargs).close()
    except psycopg.Error as exc:
        return exc
    raise AssertionError(f"connected to {conninfo}")


def socket_url(db: TestDatabase, user: str, database: str | None = None) -> str:
    """A URL for this user over the embedded server's socket (trust authentication)."""
    info = db.server.handle.get_postmaster_info()
    return f"postgresql://{user}@/{database or db.name}?host={quote(str(info.socket_dir), safe='')}&port={info.port}"
