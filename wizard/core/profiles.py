"""Saved connections ("profiles"): the URL, password included, lives only in the OS
keyring (service `migration-wizard`); a small file under the user config directory lists
the profile names with their host, database and user, because keyring backends cannot
enumerate what they hold. There is never a plaintext fallback.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wizard.core import paths
from wizard.core.connection import Target, parse_url
from wizard.core.errors import InputError

SERVICE = "migration-wizard"
INDEX_FILE = "profiles.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class KeyringUnavailable(InputError):
    """No usable OS keyring: none installed, locked, or the `fail` backend."""

    title = "No keyring"


class UnknownProfile(InputError):
    title = "Unknown profile"


@dataclass(frozen=True)
class Profile:
    name: str
    host: str
    database: str
    user: str


def _keyring() -> Any:
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or type(backend).__module__.endswith(".null"):
        raise _unavailable("no keyring backend is available on this computer")
    return keyring


def _unavailable(why: str) -> KeyringUnavailable:
    return KeyringUnavailable(
        f"Saved connections need the OS keyring, and {why}.",
        fix=(
            "Install or unlock a Secret Service (for example gnome-keyring; on macOS and Windows the"
            " system keychain is used).",
            "Or set the DATABASE_URL environment variable for this session instead.",
        ),
    )


def _index_path() -> Path:
    return paths.config_dir() / INDEX_FILE


def _read_index() -> dict[str, Profile]:
    path = _index_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {p["name"]: Profile(p["name"], p["host"], p["database"], p["user"]) for p in data["profiles"]}
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"The list of saved connections ({path}) is damaged.", fix=(f"Delete {path}.",)) from None


def _write_index(profiles: dict[str, Profile]) -> None:
    path = _index_path()
    temporary = path.with_suffix(".tmp")
    data = {"profiles": [asdict(p) for p in sorted(profiles.values(), key=lambda p: p.name)]}
    # Only non-secret parts, but still nobody else's business: 0600.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(temporary, path)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(
            f"{name!r} cannot be a profile name: use letters, digits, '.', '_' or '-' (up to 63 characters)."
        )
    return name


def list_profiles() -> list[Profile]:
    return sorted(_read_index().values(), key=lambda p: p.name)


def exists(name: str) -> bool:
    return name in _read_index()


def save(name: str, url: str) -> Profile:
    """Store the URL in the keyring under `name` (replacing any earlier one), cleaned of what
    was pasted around it (quotes, `DATABASE_URL=`, the `psql '...'` wrapper)."""
    check_name(name)
    target = parse_url(url)
    backend = _keyring()
    try:
        backend.set_password(SERVICE, name, target.url)
    except Exception as error:  # the backends raise their own kinds (KeyringError, DBus errors ...)
        raise _unavailable(f"storing in it failed ({type(error).__name__})") from None
    profile = Profile(name, target.host, target.database, target.user)
    profiles = _read_index()
    profiles[name] = profile
    _write_index(profiles)
    return profile


def get(name: str) -> Target:
    """The saved URL as a Target, read from the keyring."""
    return parse_url(get_url(name))


def get_url(name: str) -> str:
    """The saved URL (password included: never show it), read from the keyring."""
    profiles = _read_index()
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none saved yet"
        raise UnknownProfile(
            f"There is no saved connection named {name!r} (saved: {known}).",
            fix=("Save one with `migration-wizard profile save NAME`.",),
        )
    backend = _keyring()
    try:
        url = backend.get_password(SERVICE, name)
    except Exception as error:
        raise _unavailable(f"reading from it failed ({type(error).__name__})") from None
    if url is None:
        raise UnknownProfile(
            f"The keyring no longer holds the URL of {name!r}.",
            fix=(f"Save it again with `migration-wizard profile save {name}`.",),
        )
    return str(url)


def forget(name: str) -> None:
    profiles = _read_index()
    if name not in profiles:
        raise UnknownProfile(f"There is no saved connection named {name!r}.")
    backend = _keyring()
    try:
        backend.delete_password(SERVICE, name)
    except Exception as error:
        if type(error).__name__ != "PasswordDeleteError":  # already gone from the keyring: fine
            raise _unavailable(f"deleting from it failed ({type(error).__name__})") from None
    del profiles[name]
    _write_index(profiles)
