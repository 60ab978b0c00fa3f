"""Headless is as forgiving as the Connect screen: a pasted URL is cleaned (and says so in
one line), a password that breaks the URL gets its exact fix, and a Neon -pooler host is
named with its direct host before connecting; the changing commands refuse it unless asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import Result, run
from tests.conftest import TestDatabase
from tests.keyrings import MemoryKeyring
from tests.pgbouncer import PASSWORD as FRONT_PASSWORD
from tests.pgbouncer import TlsFront
from wizard.core import paths, profiles

PASSWORD = "PastedSecret42"
POOLER_HOST = "ep-x-123456-pooler.us-east-2.aws.neon.tech"
DIRECT_HOST = "ep-x-123456.us-east-2.aws.neon.tech"
CLEANED = "Note: cleaned the pasted URL: removed "


def _url(db: TestDatabase) -> str:
    # The embedded server trusts its socket: the password is never checked, only never shown.
    return db.url.replace("postgres:@", f"postgres:{PASSWORD}@")


def _cleaned_lines(result: Result) -> list[str]:
    return [line for line in result.err.splitlines() if line.startswith(CLEANED)]


def _states(db: TestDatabase) -> dict[str, str]:
    status = run("status", "--json", "--database-url", db.url)
    assert status.code == 0, status.text
    return {m["version"]: m["state"] for m in json.loads(status.out)["migrations"]}


@pytest.mark.parametrize(
    ("shape", "said"),
    [
        ("psql '{url}'", '"psql" and the surrounding quotes'),  # DATABASE_URL="psql '...'" in a shell
        ("DATABASE_URL=\"psql '{url}'\"", '"DATABASE_URL=", the surrounding quotes and "psql"'),  # a .env line
        ('"{url}"', "the surrounding quotes"),
        ("'{url}'", "the surrounding quotes"),
        ("export DATABASE_URL='{url}'", '"export DATABASE_URL=" and the surrounding quotes'),
        ("{url}  \n", "the whitespace around it"),
    ],
)
def test_a_pasted_database_url_works_and_one_line_says_what_was_cleaned(
    db: TestDatabase, shape: str, said: str
) -> None:
    result = run("status", env={"DATABASE_URL": shape.format(url=_url(db))})
    assert result.code == 0, result.text
    assert f"database {db.name}" in result.out and "002_phase2_vision_api" in result.out
    assert _cleaned_lines(result) == [f"{CLEANED}{said}."]
    assert PASSWORD not in result.text


def test_the_neon_psql_snippet_in_database_url_migrates_end_to_end(db: TestDatabase) -> None:
    result = run("migrate", "--yes", "--skip-backup", env={"DATABASE_URL": f"psql '{_url(db)}'"})
    assert result.code == 0, result.text
    assert "missing" not in result.err and len(_cleaned_lines(result)) == 1
    assert PASSWORD not in result.text
    assert _states(db)["002"] == "applied"


def test_a_quoted_url_in_the_flag_is_cleaned_too(db: TestDatabase) -> None:
    result = run("status", "--database-url", f'"{_url(db)}"')
    assert result.code == 0 and _cleaned_lines(result) == [f"{CLEANED}the surrounding quotes."]
    assert PASSWORD not in result.text


def test_a_url_as_it_should_be_says_nothing_about_cleaning(db: TestDatabase) -> None:
    result = run("status", env={"DATABASE_URL": _url(db)})
    assert result.code == 0 and _cleaned_lines(result) == [] and "cleaned" not in result.err


def test_profile_save_keeps_the_cleaned_url(memory_keyring: MemoryKeyring, db: TestDatabase) -> None:
    (paths.config_dir() / profiles.INDEX_FILE).unlink(missing_ok=True)
    saved = run("profile", "save", "pasted", env={"DATABASE_URL": f"export DATABASE_URL=\"psql '{_url(db)}'\""})
    assert saved.code == 0, saved.text
    assert len(_cleaned_lines(saved)) == 1 and PASSWORD not in saved.text
    assert memory_keyring.secrets[(profiles.SERVICE, "pasted")] == _url(db)
    used = run("--profile", "pasted", "status")
    assert used.code == 0 and _cleaned_lines(used) == []


@pytest.mark.parametrize(
    ("password", "how"), [("Pa@ss/Word9", "write @ as %40 and / as %2F"), ("Pa/ssWord9", "write / as %2F")]
)
def test_a_password_that_breaks_the_url_gets_the_exact_fix_and_exit_3(password: str, how: str) -> None:
    url = f"postgresql://alice:{password}@db.example.com/app?sslmode=require"
    result = run("status", env={"DATABASE_URL": f"'{url}'"})
    assert result.code == 3
    errors = [line for line in result.err.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "must be percent-encoded" in errors[0]
    assert f"In the password, {how}: postgresql://alice:****@db.example.com/app?sslmode=require" in result.err
    assert "Traceback" not in result.text
    assert password not in result.text and "Pa@ss" not in result.text and "Pa/ss" not in result.text


# --- a Neon -pooler host --------------------------------------------------------------


def _pooled(front: TlsFront, db: TestDatabase) -> str:
    """The test database behind a -pooler host name: libpq connects to hostaddr, 127.0.0.1."""
    return f"postgresql://postgres:{FRONT_PASSWORD}@{POOLER_HOST}:{front.port}/{db.name}?hostaddr=127.0.0.1"


def _direct(front: TlsFront, db: TestDatabase) -> str:
    return f"postgresql://postgres:****@{DIRECT_HOST}:{front.port}/{db.name}?hostaddr=127.0.0.1"


def test_status_plan_and_verify_work_through_a_pooler_and_name_the_direct_host(
    tls_front: TlsFront, db: TestDatabase
) -> None:
    env = {"DATABASE_URL": _pooled(tls_front, db)}
    status = run("status", "--json", env=env)
    assert status.code == 0, status.text
    assert json.loads(status.out)["database"] == db.name
    plan = run("plan", env=env)
    verify = run("verify", "--plain", env=env)
    assert plan.code == 0 and verify.code in (0, 1) and "Verify" in verify.out
    for result in (status, plan, verify):
        warning = [line for line in result.err.splitlines() if "pooled endpoint" in line]
        assert len(warning) == 1 and DIRECT_HOST in warning[0]
        assert f"The direct URL: {_direct(tls_front, db)}" in result.err
        assert FRONT_PASSWORD not in result.text


@pytest.mark.parametrize("command", ["migrate", "rollback", "restore"])
def test_changing_commands_refuse_a_pooler_naming_the_direct_url(
    tls_front: TlsFront, db: TestDatabase, tmp_path: Path, command: str
) -> None:
    if command == "rollback":
        assert run("migrate", "--yes", "--skip-backup", "--database-url", db.url).code == 0
    before = _states(db)
    extra = [str(tmp_path / "any.dump")] if command == "restore" else []
    for json_lines in (False, True):
        flags = ["--yes", *(["--json"] if json_lines else [])]
        result = run(command, *extra, *flags, env={"DATABASE_URL": _pooled(tls_front, db)})
        assert result.code == 2, result.text
        assert FRONT_PASSWORD not in result.text
        if json_lines:
            error = result.result["error"]
            assert DIRECT_HOST in error["message"] and _direct(tls_front, db) in " ".join(error["fix"])
        else:
            assert f"Error: Nothing was changed: {command} does not go through" in result.err
            assert f"direct URL: {_direct(tls_front, db)}" in result.err and "--allow-pooler" in result.err
            assert "Server: PostgreSQL" not in result.out  # refused before connecting
    assert _states(db) == before


def test_allow_pooler_lets_migrate_through(tls_front: TlsFront, db: TestDatabase) -> None:
    result = run("migrate", "--yes", "--skip-backup", "--allow-pooler", env={"DATABASE_URL": _pooled(tls_front, db)})
    assert result.code == 0, result.text
    assert DIRECT_HOST in result.err and FRONT_PASSWORD not in result.text
    assert _states(db)["002"] == "applied"
