"""Real errors from the PostgreSQL tools, a connection pooler and full disks, provoked here.

pg_dump and psql are Debian's 15 and the wizard's bundled 18 (built without TLS); the
pooler is PgBouncer in transaction mode, as behind Neon's -pooler hosts, and PgBouncer as
a TLS-only front; the full disks are tiny tmpfs mounts (one for a backup file, one as a
tablespace of the embedded server).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import TestDatabase
from tests.core.doctor_servers import (  # noqa: F401
    Pooler,
    assert_diagnosed,
    assert_error,
    connect_error,
    free_port,
    pooler,
)
from tests.debian_pg import BIN as DEBIAN_BIN
from tests.debian_pg import DebianPg, start_debian_pg
from tests.local_servers import as_postgres
from tests.pgbouncer import TlsFront
from tests.requirements import skip_or_fail
from wizard.core.tool_finder import bundled_bin


def _stderr(*args: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0, f"{args[0]} succeeded"
    return done.stderr


def test_psql_and_pg_dump_report_the_servers_refusal(debian_pg: DebianPg) -> None:
    said = _stderr(DEBIAN_BIN / "psql", debian_pg.url("postgres", password="Wr0ng"), "-c", "SELECT 1")
    assert said.startswith("psql: error:")
    assert_diagnosed("password-failed", said, how="psql 15, wrong password")
    said = _stderr(DEBIAN_BIN / "pg_dump", debian_pg.url("no_such_db"))
    assert_diagnosed("database-missing", said, how="pg_dump 15, missing database")


@pytest.mark.parametrize(
    ("url", "rule_id"),
    [
        ("postgresql://app:pw@no-such-host.invalid/neondb", "host-not-found"),
        ("postgresql://app:p@ss@no-such-host.invalid/neondb", "password-encoding"),
        ("postgresql://app:pw@127.0.0.1:{closed}/neondb", "connection-refused"),
    ],
)
def test_psql_cannot_reach_the_server(url: str, rule_id: str) -> None:
    said = _stderr(DEBIAN_BIN / "psql", url.format(closed=free_port()), "-c", "SELECT 1")
    assert_diagnosed(rule_id, said, how=f"psql 15 {url}")


def test_the_bundled_pg_dump_cannot_encrypt(debian_pg: DebianPg) -> None:
    said = _stderr(bundled_bin() / "pg_dump", debian_pg.url("postgres"))
    assert_diagnosed("ssl-not-compiled", said, how="bundled pg_dump 18 with sslmode=require")


def test_an_older_pg_dump_refuses_a_newer_server(db: TestDatabase) -> None:
    said = _stderr(DEBIAN_BIN / "pg_dump", db.url)
    assert "server version mismatch" in said and "pg_dump: detail:" in said
    assert_diagnosed("version-mismatch", said, how="Debian pg_dump 15 against the embedded 18")


def test_backup_files_that_cannot_be_written_or_read(db: TestDatabase, tmp_path: Path) -> None:
    said = _stderr(bundled_bin() / "pg_dump", "-f", tmp_path / "no" / "such" / "folder.dump", db.url)
    assert_diagnosed("output-not-writable", said, how="pg_dump -f into a missing folder")
    said = _stderr(bundled_bin() / "pg_dump", "-t", "no_such_table", db.url)
    assert_diagnosed("undefined-table", said, how="pg_dump -t with a table that does not exist")
    notes = tmp_path / "notes.dump"
    notes.write_text("these are my notes, not a backup\n")
    said = _stderr(bundled_bin() / "pg_restore", "--list", notes)
    assert_diagnosed("backup-file-invalid", said, how="pg_restore of a text file")


def test_tools_that_are_not_installed(tmp_path: Path) -> None:
    empty = {"PATH": str(tmp_path)}
    with pytest.raises(FileNotFoundError) as missing:
        subprocess.run(["pg_dump", "--version"], env=empty, capture_output=True)
    assert_diagnosed("tool-missing", str(missing.value), how="subprocess.run(['pg_dump']) without it on PATH")
    said = _stderr("/bin/sh", "-c", "pg_dump --version", env=empty)
    assert_diagnosed("tool-missing", said, how="sh -c pg_dump without it on PATH")


# --- a pooler in transaction mode ------------------------------------------------------


def test_the_pooler_refuses_what_it_cannot_track(pooler: Pooler) -> None:  # noqa: F811
    with_options = connect_error(pooler.url(), options="-c lock_timeout=1000")
    assert_error("pooler-startup-parameter", with_options, how="options=-c ... through PgBouncer")
    assert_error("database-missing", connect_error(pooler.url("no_such_db")), how="a database PgBouncer does not know")
    assert_error("ssl-not-supported", connect_error(pooler.url(sslmode="require")), how="sslmode=require, no TLS")


def test_prepared_statements_through_a_transaction_pooler(pooler: Pooler) -> None:  # noqa: F811
    # PgBouncer hands the most recently used server connection out first: `b` gets the
    # one `a` prepared on, so `a` runs on the other, and `c` prepares on the first again.
    errors: list[psycopg.Error] = []
    with (
        psycopg.connect(pooler.url(), autocommit=True) as a,
        psycopg.connect(pooler.url(), autocommit=True) as b,
        psycopg.connect(pooler.url(), autocommit=True) as c,
    ):
        a.execute("SELECT 1", prepare=True)
        b.execute("BEGIN")
        b.execute("SELECT 2")
        try:
            a.execute("SELECT 1", prepare=True)
        except psycopg.Error as exc:
            errors.append(exc)
        b.execute("COMMIT")
        try:
            c.execute("SELECT 3", prepare=True)
        except psycopg.Error as exc:
            errors.append(exc)
    assert errors, "PgBouncer kept every prepared statement"
    for error in errors:
        assert_error("pooler-prepared-statement", error, how="prepare=True through PgBouncer in transaction mode")


def test_a_busy_pool_and_a_full_pooler(pooler: Pooler) -> None:  # noqa: F811
    held: list[psycopg.Connection[Any]] = []
    try:
        for _ in range(2):  # the pool's two server connections, each inside a transaction
            conn = psycopg.connect(pooler.url())
            conn.execute("SELECT 1")
            held.append(conn)
        with psycopg.connect(pooler.url(), autocommit=True) as waiting, pytest.raises(psycopg.Error) as waited:
            waiting.execute("SELECT 1")
        assert_error("pooler-query-wait-timeout", waited.value, how="query_wait_timeout = 1, pool busy")
        refused = None
        for _ in range(10):
            try:
                held.append(psycopg.connect(pooler.url(), autocommit=True))
            except psycopg.OperationalError as exc:
                refused = exc
                break
        assert refused is not None
        assert_error("too-many-connections", refused, how="max_client_conn reached")
    finally:
        for conn in held:
            conn.close()


def test_a_tls_only_pooler(tls_front: TlsFront) -> None:
    assert_error("ssl-required", connect_error(tls_front.url("postgres", sslmode="disable")), how="PgBouncer TLS only")
    wrong = tls_front.url("postgres").replace(":front-door-pw@", ":Wr0ng@")
    assert_error("password-failed", connect_error(wrong), how="PgBouncer with scram-sha-256, wrong password")


# --- full disks -------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        skip_or_fail(f"cannot mount a small tmpfs here to fill a disk: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_full_disk_here_while_backing_up(db: TestDatabase, tiny_disk: Path) -> None:
    said = _stderr(bundled_bin() / "pg_dump", "-Fp", "-f", tiny_disk / "backup.sql", db.url)
    assert_diagnosed("local-disk-full", said, how="pg_dump -f onto a 64 kB tmpfs")


def test_a_full_disk_on_the_server(db: TestDatabase, tiny_disk: Path) -> None:
    for folder in (tiny_disk, *tiny_disk.parents):
        folder.chmod(folder.stat().st_mode | 0o011)
    owner = db.server.handle.get_postmaster_info()
    shutil.chown(tiny_disk, Path(owner.socket_dir).owner())
    tiny_disk.chmod(0o700)
    space = f"doctor_tiny_{db.name}"
    db.execute(f"CREATE TABLESPACE {space} LOCATION '{tiny_disk}'")
    try:
        with psycopg.connect(db.url, autocommit=True) as conn, pytest.raises(psycopg.Error) as full:
            conn.execute(f"CREATE TABLE filler (x text) TABLESPACE {space}")
            conn.execute("INSERT INTO filler SELECT md5(i::text) FROM generate_series(1, 100000) AS i")
        assert_error("disk-full", full.value, how="INSERT into a table on a 64 kB tmpfs tablespace")
    finally:
        db.execute("DROP TABLE IF EXISTS filler")
        db.execute(f"DROP TABLESPACE {space}")


# --- URLs the tools cannot read, in each tool's words ------------------------------------

_BAD_URLS = (
    ("jdbc:postgresql://127.0.0.1:5432/neondb?user=app&password=pw", "url-jdbc-prefix"),
    ("postgresql://app@::1:5432/neondb", "url-ipv6-brackets"),
    ("postgresql://app:pw@2001:db8::5/neondb", "url-ipv6-brackets"),
    ("host=127.0.0.1 dbname='my db", "url-unterminated-quote"),
    ("host=127.0.0.1 user app", "url-missing-equals"),
    ("postgresql://app:pw@127.0.0.1/neondb?options=endpoint=ep-cool-darkness-123456", "url-extra-equals"),
)


@pytest.mark.parametrize(("url", "rule_id"), _BAD_URLS)
def test_urls_the_tools_cannot_read(url: str, rule_id: str) -> None:
    for tool in (DEBIAN_BIN / "psql", bundled_bin() / "psql", DEBIAN_BIN / "pg_dump", bundled_bin() / "pg_dump"):
        said = _stderr(tool, "-d", url) if tool.name == "pg_dump" else _stderr(tool, url, "-c", "SELECT 1")
        version = "15" if tool.is_relative_to(DEBIAN_BIN) else "18"
        assert_diagnosed(rule_id, said, how=f"{tool.name} {version} {url}")


def test_settings_older_tools_do_not_know(debian_pg: DebianPg) -> None:
    for extra in ("require_auth=scram-sha-256", "sslnegotiation=direct", "load_balance_hosts=random"):
        for form in (f"{debian_pg.url('postgres')}&{extra}", f"host={debian_pg.host} port={debian_pg.port} {extra}"):
            said = _stderr(DEBIAN_BIN / "psql", form, "-c", "SELECT 1")
            assert_diagnosed("malformed-url", said, how=f"psql 15 with {extra}")


def test_a_url_psql_takes_for_a_database_name(debian_pg: DebianPg) -> None:
    # psql and pg_dump read an argument without '=' as a database name, even a URL of another kind.
    env = {"PGPASSWORD": debian_pg.password, "PGSSLMODE": "require", "PATH": "/usr/bin:/bin"}
    for url, rule_id in (
        ("jdbc:postgresql://ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb", "url-jdbc-prefix"),
        ("postgresql+psycopg2://app@127.0.0.1/neondb", "url-bad-scheme"),
        ("mysql://app@127.0.0.1/neondb", "url-bad-scheme"),
    ):
        where = ("-h", debian_pg.host, "-p", str(debian_pg.port), "-U", "postgres")
        said = _stderr(DEBIAN_BIN / "psql", *where, url, "-c", "SELECT 1", env=env)
        assert_diagnosed(rule_id, said, how=f"psql 15 -h ... {url}")
        said = _stderr(DEBIAN_BIN / "pg_dump", *where, url, env=env)
        assert_diagnosed(rule_id, said, how=f"pg_dump 15 -h ... {url}")


# --- restoring into a database that is not empty, or as another user ---------------------


def _first_error(said: str, lines: int = 6) -> str:
    """What a user pastes from a long pg_restore report: the lines up to and around its first error."""
    kept = said.splitlines()
    first = next(i for i, line in enumerate(kept) if "error:" in line or "ERROR:" in line)
    return "\n".join(kept[max(0, first - 2) : first + lines])


def test_restoring_into_a_database_that_is_not_empty(db: TestDatabase, tmp_path: Path) -> None:
    archive, plain = tmp_path / "backup.dump", tmp_path / "backup.sql"
    subprocess.run([bundled_bin() / "pg_dump", "-Fc", "-f", archive, db.url], check=True, capture_output=True)
    subprocess.run([bundled_bin() / "pg_dump", "-Fp", "-f", plain, db.url], check=True, capture_output=True)
    said = _stderr(bundled_bin() / "pg_restore", "-d", db.url, archive)
    assert "already exists" in said
    assert_diagnosed("restore-into-non-empty", _first_error(said), how="pg_restore 18 into the same database")
    assert_diagnosed("restore-into-non-empty", said, how="pg_restore 18 into the same database, the whole report")
    said = _stderr(bundled_bin() / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", plain, db.url)
    # Only the file's name says it is a backup: probably a restore; if not, a script run twice.
    assert_diagnosed(
        "restore-into-non-empty", said, how="psql 18 -f backup.sql into the same database", confidence="medium"
    )


def test_restoring_objects_owned_by_another_role(db: TestDatabase, tmp_path: Path) -> None:
    archive = tmp_path / "backup.dump"
    subprocess.run([bundled_bin() / "pg_dump", "-Fc", "-f", archive, db.url], check=True, capture_output=True)
    db.execute("DROP ROLE IF EXISTS doctor_restorer; CREATE ROLE doctor_restorer LOGIN CREATEDB")
    target = f"doctor_target_{db.name}"
    db.execute(f"CREATE DATABASE {target} OWNER doctor_restorer")
    try:
        info = db.server.handle.get_postmaster_info()
        url = f"postgresql://doctor_restorer@/{target}?host={info.socket_dir}&port={info.port}"
        said = _stderr(bundled_bin() / "pg_restore", "-d", url, archive)
        assert_diagnosed("restore-ownership", _first_error(said), how="pg_restore 18 of a backup owned by postgres")
    finally:
        db.execute(f"DROP DATABASE {target} WITH (FORCE)")
        db.execute("DROP ROLE doctor_restorer")


# --- a machine without IPv6 ---------------------------------------------------------------


def test_an_ipv6_address_on_a_machine_without_ipv6() -> None:
    # A private network namespace with IPv6 turned off, as in a container started without it.
    setup = "ip link set lo up; sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1; "
    probe = subprocess.run(["unshare", "-n", "sh", "-c", setup + "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        skip_or_fail(f"cannot make a network namespace without IPv6 here: {probe.stderr.strip()}")
    python = "import psycopg\ntry: psycopg.connect({!r}, connect_timeout=2)\nexcept psycopg.Error as e: exit(str(e))"
    for target in ("host=::1 port=5432 user=app dbname=neondb", "postgresql://app:pw@[2001:db8::5]:5432/neondb"):
        for command, tool in (
            ([DEBIAN_BIN / "psql", target, "-c", "SELECT 1"], "psql 15"),
            ([bundled_bin() / "pg_dump", "-d", target], "pg_dump 18"),
            ([sys.executable, "-c", python.format(target)], "psycopg"),
        ):
            line = " ".join(shlex.quote(str(part)) for part in command)
            said = _stderr("unshare", "-n", "sh", "-c", setup + line)
            assert_diagnosed("ipv6-unusable", said, how=f"{tool} to {target} in a network namespace without IPv6")


# --- a server that crashes, recovers and shuts down ---------------------------------------


def _connect_errors(server: DebianPg, seconds: float) -> list[psycopg.Error]:
    errors: list[psycopg.Error] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            psycopg.connect(server.url("postgres"), connect_timeout=2).close()
            break
        except psycopg.OperationalError as exc:
            errors.append(exc)
            time.sleep(0.02)
    return errors


def test_a_server_that_crashes_recovers_and_shuts_down(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_debian_pg(tmp_path_factory.mktemp("crashing"))
    try:
        # Over the Unix socket (no TLS): the server's last words reach the client in one piece.
        local = f"host={server.folder} port={server.port} user=postgres dbname=postgres"
        with psycopg.connect(local, autocommit=True) as bystander, psycopg.connect(local) as victim:
            psql = subprocess.Popen(
                [DEBIAN_BIN / "psql", local, "-c", "SELECT pg_sleep(20)"], stderr=subprocess.PIPE, text=True
            )
            time.sleep(0.5)
            os.kill(victim.info.backend_pid, signal.SIGKILL)
            said = psql.communicate(timeout=30)[1]
            with pytest.raises(psycopg.OperationalError) as ended:
                bystander.execute("SELECT 1")
        assert_diagnosed("server-crashed", said, how="psql 15 in a query while another backend was killed (kill -9)")
        # psycopg passes the server's warning to a notice handler and raises only the lost connection.
        assert_error("connection-dropped", ended.value, how="psycopg, idle while another backend was killed")
        recovering = [e for e in _connect_errors(server, 30) if "recovery mode" in str(e)]
        if recovering:
            # Said only while the server recovers from a crash (postmaster.c CAC_RECOVERY): the
            # crash's answer, and starting up as the second.
            assert_error("server-crashed", recovering[0], how="connecting during crash recovery", confidence="medium")
        with psycopg.connect(server.url("postgres"), autocommit=True):
            as_postgres(server.folder, str(server.bin / "pg_ctl"), "-m", "smart", "-W", "-D", str(server.data), "stop")
            time.sleep(0.5)
            refused = connect_error(server.url("postgres"))
        assert_error("server-starting", refused, how="connecting during a smart shutdown")
    finally:
        server.stop()
