"""TLS by default: a server that is not on this computer is reached encrypted unless the URL says
otherwise, and an explicit unencrypted mode for one is warned about before connecting.

The "remote" server here is on this computer, reached by a host name that is not local
(db.example.internal) with `hostaddr=127.0.0.1`: libpq uses the address and never looks the
name up, and the wizard judges by the name, as it should (hostaddr only says how to reach it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from textual.widgets import Input, Static

from tests.celerp_pg import CelerpPg
from tests.cli_runner import run
from tests.conftest import TestDatabase
from tests.core.doctor_servers import Relay
from tests.local_servers import TlsCluster
from wizard.core.connection import connect, parse_url
from wizard.tui.app import WizardApp
from wizard.tui.state import FlowState

REMOTE = "db.example.internal"


def remote_url(user: str, password: str, port: int, database: str, query: str = "") -> str:
    extra = f"&{query}" if query else ""
    return f"postgresql://{user}:{quote(password, safe='')}@{REMOTE}:{port}/{database}?hostaddr=127.0.0.1{extra}"


@pytest.fixture
def plain_tcp(db: TestDatabase) -> Iterator[tuple[TestDatabase, int]]:
    """The embedded server (no TLS, it trusts every connection) over TCP on 127.0.0.1."""
    info = db.server.handle.get_postmaster_info()
    relay = Relay(str(Path(info.socket_dir) / f".s.PGSQL.{info.port}"))
    yield db, relay.port
    relay.close()


def test_a_remote_host_is_encrypted_by_default_and_says_so(celerp_pg: CelerpPg) -> None:
    url = remote_url("postgres", celerp_pg.password, celerp_pg.port, "postgres")
    target = parse_url(url)
    assert target.remote and target.sslmode == "require" and "sslmode=require" in target.conninfo
    assert target.describe().endswith(", encrypted (TLS)") and not target.warnings
    with connect(target) as conn:
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    assert row == (True,)
    result = run("status", env={"DATABASE_URL": url})
    assert result.code == 0, result.text
    assert f"Target: host {REMOTE}:{celerp_pg.port}, database postgres, user postgres, encrypted (TLS)" in result.out
    assert "added sslmode=require" in result.err and "Warning" not in result.err


@pytest.mark.parametrize("server", ["debian_pg", "celerp_pg"], ids=["15-tls", "17-tls"])
def test_a_backup_of_a_remote_host_reached_by_hostaddr_works_over_tls(
    request: pytest.FixtureRequest, server: str, tmp_path: Path
) -> None:
    cluster: TlsCluster = request.getfixturevalue(server)
    name = f"tls_{uuid.uuid4().hex[:8]}"
    cluster.create_database(name)
    try:
        with psycopg.connect(cluster.url(name), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1), (2)")
        url = remote_url("postgres", cluster.password, cluster.port, name)
        result = run("backup", "--output", str(tmp_path), env={"DATABASE_URL": url})
        assert result.code == 0, result.text
        assert any(tmp_path.iterdir()) and cluster.password not in result.text
    finally:
        cluster.drop_database(name)


def test_a_remote_host_without_tls_is_refused_with_the_way_out(plain_tcp: tuple[TestDatabase, int]) -> None:
    db, port = plain_tcp
    result = run("status", env={"DATABASE_URL": remote_url("postgres", "pw123456", port, db.name)})
    assert result.code == 3, result.text
    said = " ".join(result.err.split())
    assert "does not support encrypted connections" in said and "Nothing was sent unencrypted" in said
    assert "add sslmode=disable to the URL" in said and "pw123456" not in result.text


@pytest.mark.parametrize("mode", ["disable", "prefer", "allow"])
def test_an_explicit_weak_sslmode_for_a_remote_host_is_warned_before_connecting(
    plain_tcp: tuple[TestDatabase, int], mode: str
) -> None:
    db, port = plain_tcp
    result = run("status", env={"DATABASE_URL": remote_url("postgres", "pw123456", port, db.name, f"sslmode={mode}")})
    assert result.code == 0, result.text
    warnings = [line for line in result.err.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and f"sslmode={mode} for {REMOTE}" in warnings[0] and "unencrypted" in warnings[0]
    unencrypted = "unencrypted" if mode == "disable" else "may be unencrypted"
    assert f"user postgres, {unencrypted}" in result.out


def test_the_warning_comes_before_the_connection_is_tried() -> None:
    # Nothing listens on port 1: the connection fails, after the warning.
    result = run(
        "status", "--connect-timeout", "1", env={"DATABASE_URL": remote_url("u", "pw", 1, "d", "sslmode=disable")}
    )
    assert result.code == 3
    assert result.err.index("Warning: sslmode=disable") < result.err.index("Error: Cannot connect")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@localhost:5433/app",
        "postgresql://u:pw@LOCALHOST/app",
        "postgresql://u:pw@127.0.0.1/app",
        "postgresql://u:pw@127.8.9.10/app",
        "postgresql://u:pw@[::1]:5433/app",
        "postgresql://u:pw@/app?host=/var/run/postgresql",
        "postgresql:///app",
        "host=/tmp dbname=app",
        "hostaddr=127.0.0.1 dbname=app",
    ],
)
def test_local_hosts_get_no_sslmode(url: str) -> None:
    target = parse_url(url)
    assert not target.remote and target.sslmode == "" and "sslmode" not in target.conninfo
    assert not target.notes and not target.warnings and "crypt" not in target.describe()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@db.example.com/app",
        "postgresql://u:pw@10.1.2.3/app",
        "postgresql://u:pw@[2001:db8::1]/app",
        "postgresql://u:pw@localhost,db.example.com/app",
        "host=db.example.com hostaddr=127.0.0.1 dbname=app",
        "hostaddr=10.1.2.3 dbname=app",
    ],
)
def test_remote_hosts_get_sslmode_require(url: str) -> None:
    target = parse_url(url)
    assert target.remote and target.sslmode == "require" and "sslmode=require" in target.conninfo
    assert target.describe().endswith("encrypted (TLS)")


def test_an_explicit_sslmode_for_a_remote_host_is_kept() -> None:
    assert parse_url("postgresql://u:pw@db.example.com/app?sslmode=verify-full").sslmode == "verify-full"
    weak = parse_url("postgresql://u:pw@db.example.com/app?sslmode=prefer")
    assert weak.sslmode == "prefer" and "sslmode=prefer" in weak.conninfo and weak.warnings
    assert not parse_url("postgresql://u:pw@localhost/app?sslmode=disable").warnings  # this computer: no warning
    # A Neon host keeps its own note.
    assert parse_url("postgresql://u:pw@ep-x-1.us-east-2.aws.neon.tech/neondb").notes == (
        "Neon accepts only encrypted connections: added sslmode=require.",
    )


async def test_the_connect_screen_warns_before_connecting() -> None:
    app = WizardApp(FlowState(connect_timeout=5), start="connect")
    async with app.run_test(size=(100, 40)) as pilot:
        app.screen.query_one("#url", Input).value = remote_url("u", "pw123456", 5432, "app", "sslmode=disable")
        await pilot.pause()
        notes = str(app.screen.query_one("#notes", Static).render())
        assert f"Warning: sslmode=disable for {REMOTE}" in notes and "unencrypted" in notes
        assert "unencrypted" in str(app.screen.query_one("#shown-back", Static).render())
        app.screen.query_one("#url", Input).value = remote_url("u", "pw123456", 5432, "app")
        await pilot.pause()
        assert "Warning" not in str(app.screen.query_one("#notes", Static).render())
        assert "encrypted (TLS)" in str(app.screen.query_one("#shown-back", Static).render())
