"""Saved connections: the URL only in the OS keyring, never in a file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.keyrings import MemoryKeyring
from wizard.core import paths, profiles
from wizard.core.errors import InputError

URL = "postgresql://alex:S3cretKeyringPw@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb?sslmode=require"


@pytest.fixture(autouse=True)
def _fresh_index() -> None:
    (paths.config_dir() / profiles.INDEX_FILE).unlink(missing_ok=True)


def _files_hold_password() -> list[str]:
    hits = []
    for root in (paths.config_dir(), paths.data_dir()):
        for path in root.rglob("*"):
            if path.is_file() and b"S3cretKeyringPw" in path.read_bytes():
                hits.append(str(path))
    return hits


@pytest.mark.usefixtures("real_keyring")
def test_save_list_get_forget_with_a_real_secret_service() -> None:
    saved = profiles.save("prod", URL)
    assert (saved.host, saved.database, saved.user) == (
        "ep-cool-darkness-123456.us-east-2.aws.neon.tech",
        "neondb",
        "alex",
    )
    assert [p.name for p in profiles.list_profiles()] == ["prod"]
    target = profiles.get("prod")
    assert "S3cretKeyringPw" in target.secrets and target.database == "neondb"
    index = paths.config_dir() / profiles.INDEX_FILE
    assert index.stat().st_mode & 0o077 == 0
    assert _files_hold_password() == []
    profiles.forget("prod")
    assert profiles.list_profiles() == []
    with pytest.raises(profiles.UnknownProfile):
        profiles.get("prod")


@pytest.mark.usefixtures("real_keyring")
def test_another_process_reads_the_saved_url_back(secret_service: dict[str, str]) -> None:
    profiles.save("staging", URL)
    code = "from wizard.core import profiles; print(profiles.get('staging').database)"
    env = {**os.environ, **secret_service}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "neondb"
    profiles.forget("staging")


def test_an_unknown_name_lists_the_names_that_exist(memory_keyring: MemoryKeyring) -> None:
    profiles.save("prod", URL)
    profiles.save("dev", URL.replace("neondb", "devdb"))
    with pytest.raises(profiles.UnknownProfile, match=r"saved: dev, prod"):
        profiles.get("nope")
    assert memory_keyring.secrets[(profiles.SERVICE, "dev")].endswith("/devdb?sslmode=require")


@pytest.mark.usefixtures("no_keyring")
def test_no_keyring_says_so_and_gives_the_two_ways_out() -> None:
    with pytest.raises(profiles.KeyringUnavailable) as error:
        profiles.save("prod", URL)
    assert "OS keyring" in error.value.message
    assert any("gnome-keyring" in f for f in error.value.fix) and any("DATABASE_URL" in f for f in error.value.fix)
    assert not (paths.config_dir() / profiles.INDEX_FILE).exists()  # no plaintext fallback, no half-saved entry


@pytest.mark.usefixtures("memory_keyring")
def test_bad_names_and_bad_urls_are_refused_before_anything_is_stored() -> None:
    with pytest.raises(InputError, match="cannot be a profile name"):
        profiles.save("../etc", URL)
    with pytest.raises(InputError, match="not a PostgreSQL URL"):
        profiles.save("prod", "mysql://u:p@h/db")
    assert profiles.list_profiles() == []
