"""Real errors of statements and privileges, provoked here on a fresh database of the embedded
PostgreSQL 18, must reach the right doctor rule: diagnosed from `str(exc)` and `exc.sqlstate`
only, as the wizard sees them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import TestDatabase
from tests.core.doctor_servers import Relay, assert_error, connect_error, socket_url


def test_privileges_on_the_embedded_server(db: TestDatabase, weak_role: str) -> None:
    db.execute(f'REVOKE CONNECT ON DATABASE "{db.name}" FROM PUBLIC')
    closed = connect_error(weak_role)
    assert_error("database-connect-denied", closed, how="REVOKE CONNECT ... FROM PUBLIC, PostgreSQL 18")
    db.execute(f'GRANT CONNECT ON DATABASE "{db.name}" TO doctor_weak')
    with psycopg.connect(weak_role, autocommit=True) as conn:
        for rule_id, statement in (
            ("createdb-denied", "CREATE DATABASE doctor_mine"),
            ("extension-needs-superuser", "CREATE EXTENSION vector"),
            ("extension-needs-superuser", "DROP EXTENSION plpgsql"),
            ("extension-not-available", "CREATE EXTENSION postgis"),
        ):
            with pytest.raises(psycopg.Error) as failed:
                conn.execute(statement)
            assert_error(rule_id, failed.value, how=f"PostgreSQL 18, a role without privileges: {statement}")


def test_objects_that_are_already_there(db: TestDatabase) -> None:
    phase2 = (Path(__file__).resolve().parents[2] / "migrations" / "002_phase2_vision_api.sql").read_text()
    db.execute(phase2)
    function = "CREATE FUNCTION doctor_t() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'"
    trigger = "CREATE TRIGGER doctor_tr BEFORE INSERT ON attachments FOR EACH ROW EXECUTE FUNCTION doctor_t()"
    cases: list[tuple[str, tuple[str, ...]]] = [
        ("already-exists", ("CREATE TABLE image_analyses (id uuid)",)),
        ("already-exists", ("ALTER TABLE attachments ADD COLUMN storage_key varchar",)),
        ("already-exists", ("CREATE INDEX idx_attachments_storage_key ON attachments (storage_key)",)),
        ("already-exists", ("CREATE TABLE public.users (id int)",)),
        ("object-already-exists", ("CREATE TYPE doctor_mood AS ENUM ('ok')", "CREATE TYPE doctor_mood AS ENUM ('ok')")),
        ("object-already-exists", ("CREATE SCHEMA public",)),
        ("object-already-exists", ("CREATE EXTENSION plpgsql",)),
        ("object-already-exists", ("CREATE FUNCTION doctor_f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                                   "CREATE FUNCTION doctor_f() RETURNS int LANGUAGE sql AS 'SELECT 1'")),
        ("object-already-exists", ("ALTER TABLE attachments ADD CONSTRAINT doctor_c CHECK (true)",
                                   "ALTER TABLE attachments ADD CONSTRAINT doctor_c CHECK (true)")),
        ("object-already-exists", (function, trigger, trigger)),
        ("object-already-exists", ("CREATE POLICY doctor_p ON attachments USING (true)",
                                   "CREATE POLICY doctor_p ON attachments USING (true)")),
        ("object-already-exists", ("CREATE ROLE postgres",)),
    ]  # fmt: skip
    for rule_id, statements in cases:
        assert_error(rule_id, _error(db, *statements), how=" ; ".join(statements))


# --- statements ----------------------------------------------------------------------


def _error(db: TestDatabase, *statements: str, autocommit: bool = True) -> psycopg.Error:
    with psycopg.connect(db.url, autocommit=autocommit) as conn:
        try:
            for statement in statements:
                conn.execute(statement)
        except psycopg.Error as exc:
            return exc
    raise AssertionError(f"no error from {statements}")


@pytest.fixture
def weak_role(db: TestDatabase) -> Iterator[str]:
    db.execute("DROP ROLE IF EXISTS doctor_weak; CREATE ROLE doctor_weak LOGIN")
    yield socket_url(db, "doctor_weak")
    db.execute(f'REVOKE ALL ON DATABASE "{db.name}" FROM doctor_weak; DROP ROLE doctor_weak')


def test_privileges(db: TestDatabase, weak_role: str) -> None:
    def as_weak(statement: str) -> psycopg.Error:
        with psycopg.connect(weak_role, autocommit=True) as conn:
            try:
                conn.execute(statement)
            except psycopg.Error as exc:
                return exc
        raise AssertionError(statement)

    assert_error("permission-denied", as_weak("SELECT * FROM attachments"), how="SELECT without a grant")
    assert_error("permission-denied", as_weak("CREATE TABLE public.x (a int)"), how="CREATE in schema public")
    assert_error("must-be-owner", as_weak("ALTER TABLE attachments ADD COLUMN x int"), how="ALTER by a non-owner")


def test_statement_errors_of_a_migration(db: TestDatabase) -> None:
    fk = ("CREATE TABLE p (k int PRIMARY KEY)", "CREATE TABLE c (k int REFERENCES p)", "INSERT INTO c VALUES (7)")
    cases: list[tuple[str, tuple[str, ...]]] = [
        ("read-only", ("SET default_transaction_read_only = on", "CREATE TABLE x (a int)")),
        ("already-exists", ("CREATE TABLE attachments (a int)",)),
        ("already-exists", ("ALTER TABLE attachments ADD COLUMN id int",)),
        ("undefined-table", ("SELECT * FROM no_such_table",)),
        ("undefined-table", ("ALTER TABLE attachments DROP COLUMN no_such_column",)),
        ("cic-in-transaction", ("BEGIN", "CREATE INDEX CONCURRENTLY doctor_i ON attachments (id)")),
        ("statement-timeout", ("SET statement_timeout = '50ms'", "SELECT pg_sleep(2)")),
        ("numeric-overflow", ("SELECT 2147483647::int + 1",)),
        ("numeric-overflow", ("SELECT 1000::numeric(3, 1)",)),
        ("invalid-input", ("SELECT 'not-a-uuid'::uuid",)),
        ("value-too-long", ("CREATE TABLE v (s varchar(500))", "INSERT INTO v VALUES (repeat('x', 600))")),
        ("unique-violation", ("CREATE TABLE u (k int PRIMARY KEY)", "INSERT INTO u VALUES (1), (1)")),
        ("foreign-key-violation", fk),
        (
            "not-null-violation",
            ("CREATE TABLE n (k int)", "INSERT INTO n VALUES (1)", "ALTER TABLE n ADD COLUMN m int NOT NULL"),
        ),
        (
            "dependent-objects",
            ("CREATE TABLE d (k int)", "CREATE VIEW dv AS SELECT k FROM d", "ALTER TABLE d DROP COLUMN k"),
        ),
    ]
    for rule_id, statements in cases:
        assert_error(rule_id, _error(db, *statements), how=" ; ".join(statements))


def test_an_error_after_an_error_in_the_same_transaction(db: TestDatabase) -> None:
    with psycopg.connect(db.url) as conn:
        with pytest.raises(psycopg.Error):
            conn.execute("SELECT 1 / 0")
        with pytest.raises(psycopg.Error) as second:
            conn.execute("SELECT 1")
    assert_error("transaction-aborted", second.value, how="a statement after a failed one")


def _two_sessions(db: TestDatabase, first: Callable[[psycopg.Connection[Any]], None]) -> psycopg.Error:
    """`first` in a thread on one connection; meanwhile another locks attachments, then sessions_doctor."""
    failures: list[psycopg.Error] = []
    with psycopg.connect(db.url) as a, psycopg.connect(db.url) as b:

        def run(conn: psycopg.Connection[Any], work: Callable[[psycopg.Connection[Any]], None]) -> None:
            try:
                work(conn)
            except psycopg.Error as exc:
                failures.append(exc)
            conn.rollback()

        thread = threading.Thread(target=run, args=(a, first))
        thread.start()
        time.sleep(0.3)
        run(b, lambda conn: conn.execute("LOCK TABLE attachments; LOCK TABLE sessions_doctor"))
        thread.join(10)
    assert failures, "no session failed"
    return failures[0]


def test_lock_timeout_deadlock_and_serialization(db: TestDatabase) -> None:
    db.execute("CREATE TABLE sessions_doctor (k int PRIMARY KEY, v int); INSERT INTO sessions_doctor VALUES (1, 0)")
    with psycopg.connect(db.url) as holder:
        holder.execute("LOCK TABLE attachments IN ACCESS EXCLUSIVE MODE")
        waited = _error(db, "SET lock_timeout = '100ms'", "ALTER TABLE attachments ADD COLUMN doctor int")
        nowait = _error(db, "BEGIN", "LOCK TABLE attachments NOWAIT")
    assert_error("lock-timeout", waited, how="lock_timeout behind an ACCESS EXCLUSIVE lock")
    assert_error("lock-timeout", nowait, how="LOCK TABLE NOWAIT on a locked table")

    def lock_in_other_order(conn: psycopg.Connection[Any]) -> None:
        conn.execute("LOCK TABLE sessions_doctor")
        time.sleep(0.6)
        conn.execute("LOCK TABLE attachments")

    assert_error("deadlock", _two_sessions(db, lock_in_other_order), how="two sessions locking in opposite order")
    with psycopg.connect(db.url) as a, psycopg.connect(db.url) as b:
        for conn in (a, b):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute("SELECT * FROM sessions_doctor")
        a.execute("UPDATE sessions_doctor SET v = 1")
        a.commit()
        with pytest.raises(psycopg.Error) as conflict:
            b.execute("UPDATE sessions_doctor SET v = 2")
    assert_error("serialization-failure", conflict.value, how="REPEATABLE READ update after a concurrent update")


def test_sessions_ended_by_the_server(db: TestDatabase) -> None:
    with psycopg.connect(db.url, autocommit=True) as victim:
        pid = victim.info.backend_pid
        db.execute(f"SELECT pg_terminate_backend({pid})")
        with pytest.raises(psycopg.Error) as ended:
            victim.execute("SELECT 1")
    assert_error("admin-shutdown", ended.value, how="pg_terminate_backend, then a query")
    with psycopg.connect(db.url) as idle:
        idle.execute("SET idle_in_transaction_session_timeout = '100ms'")
        idle.execute("SELECT 1")
        time.sleep(0.5)
        with pytest.raises(psycopg.Error) as timed_out:
            idle.execute("SELECT 1")
    assert_error("idle-timeout", timed_out.value, how="idle_in_transaction_session_timeout")
    with psycopg.connect(db.url) as busy:
        threading.Timer(0.3, busy.cancel_safe).start()
        with pytest.raises(psycopg.Error) as cancelled:
            busy.execute("SELECT pg_sleep(5)")
    assert_error("query-cancelled", cancelled.value, how="cancel during pg_sleep")


def test_a_connection_cut_mid_session(db: TestDatabase) -> None:
    info = db.server.handle.get_postmaster_info()
    relay = Relay(f"{info.socket_dir}/.s.PGSQL.{info.port}")
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{relay.port}/{db.name}", autocommit=True) as conn:
            conn.execute("SELECT 1")
            relay.cut()
            with pytest.raises(psycopg.OperationalError) as lost:
                conn.execute("SELECT 1")
    finally:
        relay.close()
    assert_error("connection-dropped", lost.value, how="a TCP relay cut between two queries")
