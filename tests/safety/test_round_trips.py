"""Round trips: verify, status and the pre-flight checks read in a few flights, not a statement
each, on every server version, through a transaction pooler too, and the CLI opens one
connection per command. Over a 50 ms link each round trip is 50 ms: the ceilings below keep
them from creeping back (verify sent 38 statements, each its own round trip, before)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import pq

from tests.cli_runner import run
from tests.conftest import EmbeddedServer, TestDatabase
from tests.local_servers import free_port
from tests.requirements import skip_or_fail
from tests.round_trips import CountingProxy, Traffic, traced
from wizard.core import engine
from wizard.core.connection import connect, parse_url
from wizard.core.migrations import load_migrations
from wizard.core.preflight import run_preflight
from wizard.core.runner import RunOptions
from wizard.core.verify import run_verify
from wizard.core.verify_report import APPLIED_VERIFIED, NOT_APPLIED

MIGRATIONS = load_migrations()
# One flight (catalogs, ledger, rollbacks, the smoke test's parent row and its inserts); the
# smoke test's ROLLBACK (none when verify closes the connection: the CLI's verify).
VERIFY_MAX = 2
STATUS_MAX = 1
PREFLIGHT_MAX = 2  # one flight, then the sessions holding locks
BACKUP_MAX = 3  # the tables and the database's size; the report's schema before and after


def _assert_no_transaction_per_check(traffic: Traffic) -> None:
    assert traffic.count("RELEASE") == 0, traffic.statements
    assert traffic.count("BEGIN") <= 1 and traffic.count("ROLLBACK") <= 1, traffic.statements
    assert traffic.count("SAVEPOINT") <= 2, traffic.statements  # the smoke test's two inserts


def test_verify_status_and_preflight_take_few_round_trips_and_still_judge_right(any_version: TestDatabase) -> None:
    target = parse_url(any_version.url)
    with connect(target) as conn:
        with traced(conn) as before:
            report = run_verify(conn, MIGRATIONS)
        assert not report.ok and [m.state for m in report.migrations] == [NOT_APPLIED]
        assert before.round_trips == 1, before.statements  # nothing to insert into: no smoke test
        with traced(conn) as status:
            states = engine.status(conn, MIGRATIONS)
        assert [s.state for s in states] == [engine.APPLIED, engine.PENDING]
        assert status.round_trips <= STATUS_MAX, status.statements
        with traced(conn) as preflight:
            checks = run_preflight(conn, target, MIGRATIONS)
        assert all(c.status == "pass" for c in checks), checks
        assert preflight.round_trips <= PREFLIGHT_MAX, preflight.statements

        engine.apply_pending(conn, MIGRATIONS, RunOptions(), lambda e: None)
        with traced(conn) as after:
            report = run_verify(conn, MIGRATIONS)
        assert report.ok and [m.state for m in report.migrations] == [APPLIED_VERIFIED], report.to_json()
        assert after.round_trips <= VERIFY_MAX, after.statements
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE  # the smoke test rolled back
        with traced(conn) as status:
            states = engine.status(conn, MIGRATIONS)
        assert [s.state for s in states] == [engine.APPLIED, engine.APPLIED]
        assert status.round_trips <= STATUS_MAX, status.statements
        with traced(conn) as preflight:
            run_preflight(conn, target, MIGRATIONS)
        assert preflight.round_trips <= PREFLIGHT_MAX, preflight.statements
    with connect(target) as conn:
        with traced(conn) as closing:
            report = run_verify(conn, MIGRATIONS, then_close=True)
        assert report.ok, report.to_json()
        assert closing.round_trips == 1 and conn.closed, closing.statements  # the connection took the rows
    for traffic in (before, after, status, preflight, closing):
        _assert_no_transaction_per_check(traffic)
    assert any_version.scalar("SELECT count(*) FROM image_analyses") == 0  # the smoke test left nothing


def test_the_smoke_tests_other_paths_stay_within_a_flight_or_two_more(db: TestDatabase) -> None:
    with connect(db.target) as conn:
        engine.apply_pending(conn, MIGRATIONS, RunOptions(), lambda e: None)
    db.execute("DELETE FROM attachments")  # no parent row: the smoke test creates one first
    with connect(db.target) as conn, traced(conn) as traffic:
        report = run_verify(conn, MIGRATIONS)
    smoke = next(c for c in report.checks if c.id == "smoke_test")
    assert smoke.status == "pass" and smoke.rows[0]["step"] == "create a test row in empty attachments"
    assert traffic.round_trips <= VERIFY_MAX + 1, traffic.statements
    db.execute("ALTER TABLE image_analyses ADD COLUMN required_now int NOT NULL")  # the test row fails
    with connect(db.target) as conn, traced(conn) as traffic:
        report = run_verify(conn, MIGRATIONS)
    smoke = next(c for c in report.checks if c.id == "smoke_test")
    steps = {r["step"]: (r["result"], r["detail"]) for r in smoke.rows}
    assert smoke.status == "fail" and steps["insert into image_analyses"][0] == "fail"
    # Sent again on its own after the failed test row (and refused for the same column).
    bogus = steps["insert with an attachment_id that does not exist (must be refused)"]
    assert bogus[0] == "fail" and "required_now" in bogus[1]
    assert traffic.round_trips <= VERIFY_MAX + 2, traffic.statements
    assert db.scalar("SELECT count(*) FROM attachments") == 0


@pytest.fixture
def proxy(pg_server: EmbeddedServer) -> Iterator[CountingProxy]:
    path = pg_server.handle.get_postmaster_info().socket_path
    assert path is not None
    front = CountingProxy(str(path))
    yield front
    front.close()


def _waits(proxy: CountingProxy) -> list[int]:
    deadline = time.monotonic() + 5  # the proxy's threads may still be reading the last bytes
    while time.monotonic() < deadline and not all(t.messages for t in proxy.connections):
        time.sleep(0.01)
    return [t.round_trips for t in proxy.connections]


def test_the_cli_opens_one_connection_per_command_and_waits_a_few_times(
    proxy: CountingProxy, db: TestDatabase, tmp_path: Path
) -> None:
    url = proxy.url(db.name)
    status = run("status", "--json", "--database-url", url)
    assert status.code == 0, status.text
    assert len(_waits(proxy)) == 1 and _waits(proxy)[0] <= 1 + STATUS_MAX  # + the server's version
    assert run("migrate", "--yes", "--skip-backup", "--database-url", url).code == 0
    proxy.reset()
    verify = run("verify", "--json", "--database-url", url)
    assert verify.code == 0 and json.loads(verify.out)["ok"], verify.text
    waits = _waits(proxy)
    assert len(waits) == 1 and waits[0] == 1, proxy.connections[0].statements  # it closes: no ROLLBACK
    proxy.reset()
    backup = run("backup", "--output", str(tmp_path), "--database-url", url)
    assert backup.code == 0, backup.text
    # The wizard's own connection (pg_dump's come after it): what to back up, and the report's
    # look at the schema before and after.
    assert _waits(proxy)[0] <= BACKUP_MAX, proxy.connections[0].statements


# --- Through a transaction pooler: each flight may go to another server connection ---


@pytest.fixture(scope="module")
def transaction_pooler(pg_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if binary is None or shutil.which("runuser") is None:
        skip_or_fail("pgbouncer is not installed (apt-get install pgbouncer): needed for the transaction pooler test")
    info = pg_server.handle.get_postmaster_info()
    folder = tmp_path_factory.mktemp("txpool")
    for parent in [folder, *folder.parents]:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    port = free_port()
    (folder / "userlist.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={info.socket_dir} port={info.port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
        "pool_mode = transaction\nignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
    )
    shutil.chown(folder, "pgserver")  # PgBouncer refuses to run as root
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
    yield port
    process.terminate()
    process.wait(10)


def _comparable(report: dict[str, Any]) -> str:
    text = json.dumps(report, sort_keys=True, default=str)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)
    return re.sub(r"\d{4}-\d\d-\d\d[T ][0-9:.+]+( UTC)?", "<time>", text)


def test_verify_status_and_preflight_through_a_transaction_pooler_match_a_direct_connection(
    transaction_pooler: int, db: TestDatabase
) -> None:
    pooled = parse_url(f"postgresql://postgres@127.0.0.1:{transaction_pooler}/{db.name}")
    for migrate in (False, True):
        if migrate:
            with connect(db.target) as conn:
                engine.apply_pending(conn, MIGRATIONS, RunOptions(), lambda e: None)
        with connect(db.target) as conn:
            direct = (run_verify(conn, MIGRATIONS).to_json(), engine.status(conn, MIGRATIONS))
            checks = run_preflight(conn, db.target, MIGRATIONS)
        with connect(pooled) as conn:
            through = (run_verify(conn, MIGRATIONS).to_json(), engine.status(conn, MIGRATIONS))
            pooled_checks = run_preflight(conn, pooled, MIGRATIONS)
            assert conn.execute("SHOW lock_timeout").fetchone() == ("0",)  # verify's own setting did not leak
        assert _comparable(through[0]) == _comparable(direct[0])
        assert [(s.state, s.note) for s in through[1]] == [(s.state, s.note) for s in direct[1]]
        assert [(c.id, c.status) for c in pooled_checks] == [(c.id, c.status) for c in checks]
    assert db.scalar("SELECT count(*) FROM image_analyses") == 0
