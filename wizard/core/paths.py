"""Where the wizard keeps its files, per platform (platformdirs), created private."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "migration-wizard"


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def data_dir() -> Path:
    # Not made private itself: the embedded server, run as root, makes every parent of
    # the practice folder world-readable. Private files go in private folders below it.
    path = platformdirs.user_data_path(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def practice_dir() -> Path:
    path = data_dir() / "practice"
    path.mkdir(exist_ok=True)
    return path


def rehearsals_dir() -> Path:
    """Where `rehearse` puts each throwaway server, in a private folder of its own that is
    deleted afterwards. Not made private itself: the embedded server, run as root, makes
    every parent of its data folder world-readable, and a chmod here would lock out the
    server of a rehearsal running in another process. Nothing private goes here."""
    path = data_dir() / "rehearsals"
    path.mkdir(exist_ok=True)
    return path


def reports_dir() -> Path:
    return _private_dir(data_dir() / "reports")


def config_dir() -> Path:
    return _private_dir(platformdirs.user_config_path(APP_NAME, appauthor=False))


def backups_dir() -> Path:
    return _private_dir(data_dir() / "backups")


def safe_name(text: str, fallback: str = "database") -> str:
    """`text` usable in a file name on every platform (backups and reports are named after the database)."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text) or fallback
