"""`profile save|list|forget` and `--profile NAME` on every database command."""

from __future__ import annotations

import json

import pytest

from tests.cli_runner import run, run_process
from tests.conftest import TestDatabase
from tests.keyrings import MemoryKeyring
from wizard.core import paths, profiles

SECRET = "KeyringOnly77"


@pytest.fixture(autouse=True)
def _fresh_index() -> None:
    (paths.config_dir() / profiles.INDEX_FILE).unlink(missing_ok=True)


def _url(db: TestDatabase) -> str:
    return db.url.replace("postgres:@", f"postgres:{SECRET}@")


def test_save_tests_the_connection_then_list_and_use_it(memory_keyring: MemoryKeyring, db: TestDatabase) -> None:
    saved = run("profile", "save", "local", env={"DATABASE_URL": _url(db)})
    assert saved.code == 0, saved.text
    assert "Testing the connection" in saved.out and "Saved 'local'" in saved.out
    listed = run("profile", "list", "--json")
    assert json.loads(listed.out) == {
        "profiles": [{"name": "local", "host": db.target.host, "database": db.name, "user": "postgres"}]
    }
    status = run("--profile", "local", "status", "--json", env={"DATABASE_URL": None})
    assert status.code == 0 and json.loads(status.out)["database"] == db.name
    for result in (saved, listed, status):
        assert SECRET not in result.text
    assert SECRET in memory_keyring.secrets[(profiles.SERVICE, "local")]


def test_a_headless_command_never_picks_a_profile_by_itself(memory_keyring: MemoryKeyring, db: TestDatabase) -> None:
    assert run("profile", "save", "only", env={"DATABASE_URL": db.url}).code == 0
    result = run("status", env={"DATABASE_URL": None})
    assert result.code == 3 and "No database was given" in result.err


def test_an_unknown_profile_is_exit_3_with_the_names_that_exist(
    memory_keyring: MemoryKeyring, db: TestDatabase
) -> None:
    run("profile", "save", "prod", "--no-test", env={"DATABASE_URL": db.url})
    result = run("verify", "--profile", "nope")
    assert result.code == 3 and "'nope'" in result.err and "prod" in result.err


def test_saving_over_a_name_needs_yes_without_a_terminal(memory_keyring: MemoryKeyring, db: TestDatabase) -> None:
    assert run("profile", "save", "prod", "--no-test", env={"DATABASE_URL": db.url}).code == 0
    again = run("profile", "save", "prod", "--no-test", env={"DATABASE_URL": _url(db)})
    assert again.code == 2 and "--yes" in again.err
    assert SECRET not in memory_keyring.secrets[(profiles.SERVICE, "prod")]
    assert run("profile", "save", "prod", "--no-test", "--yes", env={"DATABASE_URL": _url(db)}).code == 0
    assert SECRET in memory_keyring.secrets[(profiles.SERVICE, "prod")]


def test_a_url_that_does_not_connect_is_not_saved(memory_keyring: MemoryKeyring) -> None:
    result = run("profile", "save", "broken", env={"DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/db"})
    assert result.code == 3 and "nothing is accepting connections" in result.err
    assert profiles.list_profiles() == [] and memory_keyring.secrets == {}


def test_forget_asks_and_then_removes_it(memory_keyring: MemoryKeyring, db: TestDatabase) -> None:
    run("profile", "save", "prod", "--no-test", env={"DATABASE_URL": db.url})
    assert run("profile", "forget", "prod").code == 2
    assert run("profile", "forget", "prod", "--yes").code == 0
    assert profiles.list_profiles() == [] and memory_keyring.secrets == {}
    assert run("profile", "forget", "prod", "--yes").code == 3


@pytest.mark.usefixtures("no_keyring")
def test_no_keyring_is_one_plain_message_and_exit_3(db: TestDatabase) -> None:
    result = run("profile", "save", "prod", "--no-test", env={"DATABASE_URL": db.url})
    assert result.code == 3 and "Traceback" not in result.text
    assert "OS keyring" in result.err and "gnome-keyring" in result.err and "DATABASE_URL" in result.err


def test_a_real_keyring_across_processes_save_then_verify(secret_service: dict[str, str], db: TestDatabase) -> None:
    env = {**secret_service, "DATABASE_URL": _url(db)}
    saved = run_process("profile", "save", "real", env=env)
    assert saved.code == 0, saved.text
    verified = run_process("--profile", "real", "verify", "--json", env={**secret_service, "DATABASE_URL": ""})
    assert verified.code == 1 and json.loads(verified.out)["ok"] is False  # not migrated yet: a real answer
    assert SECRET not in saved.text + verified.text
    assert run_process("profile", "forget", "real", "--yes", env=secret_service).code == 0
