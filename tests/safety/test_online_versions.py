"""Online apply on every server version the suite can start (15 and 17 over TLS, 16, 18):
lock waits name the blocker and retry quickly, an interrupted CONCURRENTLY build leaves an
invalid index that verify fails on and a rerun repairs, and the plan reads its impact."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from tests.cli_runner import run
from tests.conftest import TestDatabase
from wizard.core import engine, ledger, verify
from wizard.core.connection import connect, parse_url
from wizard.core.errors import MigrationFailed
from wizard.core.events import Event, IndexBuildProgress, IndexBuildStarted, LockWait
from wizard.core.migrations import load_migrations
from wizard.core.runner import RunOptions

MIGRATIONS = load_migrations()
INVALID = (
    "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE c.relname = 'idx_attachments_storage_key' AND NOT i.indisvalid"
)


def _options(db: TestDatabase, **fields: Any) -> RunOptions:
    options = RunOptions(online_rows=0, **fields)
    options.monitor = lambda: connect(parse_url(db.url))
    return options


def test_a_lock_wait_names_the_blocker_and_applies_once_it_is_gone(any_version: TestDatabase) -> None:
    db = any_version
    holder = psycopg.connect(db.url, application_name="busy-app")
    holder.execute("SELECT count(*) FROM attachments").fetchone()
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, LockWait) and event.waited > 0.2:
            holder.rollback()

    try:
        with connect(parse_url(db.url)) as conn:
            assert engine.apply_pending(conn, MIGRATIONS, RunOptions(max_wait=30), emit) == ["002"]
    finally:
        holder.close()
    wait = next(e for e in events if isinstance(e, LockWait))
    assert wait.holders[0].application == "busy-app" and wait.retry_in < 0.2


def test_an_interrupted_online_build_fails_verify_and_a_rerun_repairs_it(any_version: TestDatabase) -> None:
    db = any_version
    holder = psycopg.connect(db.url, application_name="old-report")
    holder.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    holder.execute("SELECT count(*) FROM users").fetchone()
    seen: list[Event] = []
    try:
        with connect(parse_url(db.url)) as conn, pytest.raises(MigrationFailed) as failure:
            engine.apply_pending(conn, MIGRATIONS, _options(db, max_wait=1.0), seen.append)
    finally:
        holder.close()
    assert not failure.value.nothing_changed
    assert any(isinstance(e, IndexBuildProgress) and e.waiting_for for e in seen)
    assert db.scalar(INVALID) == 1
    with connect(parse_url(db.url)) as conn:
        assert ledger.read(conn)["002"].phase == ledger.TRANSACTIONAL
        assert not verify.run_verify(conn, MIGRATIONS).ok
        events: list[Event] = []
        assert engine.apply_pending(conn, MIGRATIONS, _options(db), events.append) == ["002"]
        assert next(e for e in events if isinstance(e, IndexBuildStarted)).repairs
        assert verify.run_verify(conn, MIGRATIONS).ok
        assert ledger.read(conn)["002"].complete
    assert db.scalar(INVALID) == 0


def test_the_plan_reads_sizes_and_sessions(any_version: TestDatabase) -> None:
    result = run("--database-url", any_version.url, "plan", "--json", "--online-rows", "1")
    assert result.code == 0, result.text
    found = json.loads(result.out)
    online = [s for s in found["statements"] if s["effect"] == "online"]
    assert [s["sql"].split()[5] for s in online] == ["idx_attachments_storage_key", "idx_attachments_conversation_id"]
    assert online[0]["stats"]["rows"] > 0 and online[0]["stats"]["bytes"] > 0
