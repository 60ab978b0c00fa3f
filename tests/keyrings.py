"""Keyrings for the tests: a real Secret Service (gnome-keyring on a private D-Bus), a small
in-memory backend where none can run (keyring has none of its own), and the `fail` backend."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.core
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from tests.requirements import skip_or_fail


class MemoryKeyring(KeyringBackend):
    """A keyring that forgets everything when the test ends."""

    priority = 0.5  # type: ignore[assignment]  # below 1: never picked on its own, only set explicitly

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            from keyring.errors import PasswordDeleteError

            raise PasswordDeleteError(username)


@pytest.fixture(scope="session")
def secret_service() -> Iterator[dict[str, str]]:
    """A private D-Bus session with an unlocked gnome-keyring; yields the environment to use it."""
    missing = [tool for tool in ("dbus-daemon", "gnome-keyring-daemon") if shutil.which(tool) is None]
    if missing:
        skip_or_fail(
            f"{' and '.join(missing)} not installed (apt-get install gnome-keyring dbus):"
            " needed to test saved connections against a real Secret Service"
        )
    runtime = Path(tempfile.mkdtemp(prefix="keyring-runtime-"))
    runtime.chmod(0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    bus = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    address, pid = bus.stdout.split()[:2]
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    subprocess.run(
        ["gnome-keyring-daemon", "--unlock", "--components=secrets", "--daemonize"],
        input="any-password",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    yield {k: env[k] for k in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")}
    os.kill(int(pid), signal.SIGTERM)  # gnome-keyring exits with its bus
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def real_keyring(secret_service: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    previous = keyring.get_keyring()
    for key, value in secret_service.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    # keyring lists the viable backends once per process: list them again now that a bus exists.
    keyring.backend.get_all_keyring.reset()  # type: ignore[attr-defined]
    keyring.core.init_backend()
    backend = keyring.get_keyring()
    chain = getattr(backend, "backends", [backend])  # keyring may wrap the backends it found in a chainer
    names = [type(b).__module__ for b in chain]
    assert any(n.endswith("SecretService") for n in names), f"expected the Secret Service backend, got {names}"
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)
