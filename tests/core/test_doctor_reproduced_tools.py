"""Real errors from the PostgreSQL tools, a connection pooler and full disks, provoked here.

pg_dump and psql are Debian's 15 and the wizard's bundled 18 (built without TLS); the
pooler is PgBouncer in transaction mode, as behind Neon's -pooler hosts, and PgBouncer as
a TLS-only front; the full disks are tiny tmpfs mounts (one for a backup file, one as a
tablespace of the embedded server).
"""

from __future__ import annotations

import shutil
import subprocess
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
from tests.debian_pg import DebianPg
from tests.pgbouncer import TlsFront
from tests.requirements import skip_or_fail
from wizard.core.pgtools import bundled_bin


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
