"""Headless errors go through the knowledge base: the error, why it happened, what to do, and
what the guided wizard can do about it; never a bare driver message or a traceback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.cli_runner import run
from tests.conftest import TestDatabase
from wizard.core.doctor import rule_by_id


@pytest.fixture
def reader(db: TestDatabase) -> Iterator[str]:
    """The URL of a role that may read the application's tables and nothing more."""
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with db.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(sql.Identifier(role)))
    yield db.url.replace("postgres:@", f"{role}:@", 1) if "postgres:@" in db.url else db.url + f"&user={role}"
    with db.connect() as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_missing_database_gets_the_rules_cause_and_fix(db: TestDatabase) -> None:
    url = db.url.replace(f"/{db.name}", "/no_such_db_anywhere")
    result = run("status", "--database-url", url)
    assert result.code == 3, result.text
    rule = rule_by_id("database-missing")
    assert "Error: Cannot connect" in result.err and f"Why: {rule.cause}" in result.err
    assert f"1. {rule.fix[0]}" in result.err
    assert "Traceback" not in result.text


def test_a_busy_table_names_the_holder_and_says_the_guided_wizard_can_retry(db: TestDatabase) -> None:
    holder = psycopg.connect(db.url)
    holder.execute("LOCK TABLE attachments IN ACCESS SHARE MODE")
    try:
        result = run(
            "migrate", "--yes", "--skip-backup", "--lock-timeout", "200", "--max-wait", "1", "--database-url", db.url
        )
    finally:
        holder.close()
    assert result.code == 1, result.text
    rule = rule_by_id("lock-timeout")
    assert "held by" in result.err and f"Why: {rule.cause}" in result.err
    assert "can retry when the lock is free for you" in result.err
    assert db.scalar("SELECT to_regclass('public.image_analyses')") is None


def test_a_database_error_outside_any_step_is_explained_not_unexpected(db: TestDatabase, reader: str) -> None:
    # The reader may read the application's tables but not the wizard's ledger schema.
    assert run("migrate", "--yes", "--skip-backup", "--database-url", db.url).code == 0
    result = run("status", "--database-url", reader)
    assert result.code == 1, result.text
    assert "Unexpected error" not in result.err and "Traceback" not in result.err
    assert "Error: permission denied for schema migration_wizard" in result.err
    rule = rule_by_id("permission-denied")
    assert f"Why: {rule.cause}" in result.err and f"1. {rule.fix[0]}" in result.err


def test_a_verify_check_that_meets_a_database_error_shows_the_fix(db: TestDatabase, reader: str) -> None:
    assert run("migrate", "--yes", "--skip-backup", "--database-url", db.url).code == 0
    with db.connect() as conn:  # the reader can read everything, but not write the smoke test's rows
        conn.execute("GRANT USAGE ON SCHEMA migration_wizard TO PUBLIC")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public, migration_wizard TO PUBLIC")
    result = run("verify", "--plain", "--database-url", reader)
    assert result.code == 1, result.text
    smoke = result.out.split("FAIL", 1)[1]
    assert "permission denied" in smoke
    steps = rule_by_id("permission-denied").fix
    assert f"1. {steps[0]}" in smoke
