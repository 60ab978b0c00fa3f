"""The headless commands start connecting as soon as they have read their arguments
(cli/head_start.py, core/opening.py): only to a URL they were given, never through a
pooler they would refuse, and a connection nobody took is closed."""

from __future__ import annotations

import argparse
import time

import pytest

from tests.cli_runner import run
from tests.conftest import TestDatabase
from wizard.cli.head_start import head_start
from wizard.cli.parser import build_parser
from wizard.core.defaults import APPLICATION_NAME
from wizard.core.errors import ConnectError

NEON_POOLER = "postgresql://alex:secret@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require"


def _args(*words: str) -> argparse.Namespace:
    return build_parser().parse_args(list(words))


def _ours(db: TestDatabase) -> int:
    return int(
        db.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            f" AND application_name = '{APPLICATION_NAME}' AND pid <> pg_backend_pid()"
        )
    )


def test_only_a_connecting_command_given_a_url_connects_early(
    db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert head_start(_args("doctor", "some error")) is None  # needs no database
    assert head_start(_args("verify")) is None  # no URL: the command says so itself
    assert head_start(_args("verify", "--practice")) is None  # the command starts that server
    assert head_start(_args("verify", "--database-url", "mysql://alex@host/db")) is None  # explained later
    # Through Neon's pooler: migrate would refuse before connecting, so it does not connect early.
    assert head_start(_args("migrate", "--database-url", NEON_POOLER)) is None
    monkeypatch.setenv("DATABASE_URL", db.url)
    opening = head_start(_args("verify"))
    assert opening is not None and opening.target.conninfo
    with opening.wait() as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (db.name,)


def test_an_early_connection_that_fails_is_explained_without_the_password(db: TestDatabase) -> None:
    url = db.url.replace("postgres:@", "postgres:wrong-Secret-42@").replace(f"/{db.name}", "/no_such_database")
    opening = head_start(_args("status", "--database-url", url))
    assert opening is not None
    with pytest.raises(ConnectError) as caught:
        opening.wait()
    said = f"{caught.value.message} {caught.value.detail} {caught.value.fix}"
    assert "no_such_database" in said and "does not exist" in said and "wrong-Secret-42" not in said


def test_a_command_that_stops_before_connecting_leaves_no_connection_open(db: TestDatabase) -> None:
    done = run("status", "--json", "--database-url", db.url, "--migrations-dir", "/nonexistent/migrations")
    assert done.code == 3 and "/nonexistent/migrations" in done.text, done.text
    deadline = time.monotonic() + 10  # the early connection may open after the command stopped
    while _ours(db) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ours(db) == 0
    # And the same command that does connect uses one connection, the early one.
    assert run("status", "--json", "--database-url", db.url).code == 0
    assert _ours(db) == 0
