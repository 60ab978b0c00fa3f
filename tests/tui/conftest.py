"""Fixtures for driving the wizard's screens with Textual's Pilot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import TestDatabase
from wizard.tui.app import WizardApp
from wizard.tui.state import FlowState

AppFactory = Callable[..., WizardApp]


class FixedClock:
    """A clock that moves 0.25 s per reading: durations on screen are the same every run."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


@pytest.fixture(autouse=True)
def _no_saved_profiles() -> None:
    """Screens start with no saved connections unless a test saves some."""
    from wizard.core import paths, profiles

    (paths.config_dir() / profiles.INDEX_FILE).unlink(missing_ok=True)


@pytest.fixture
def backups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A backups folder of the test's own, so that what is in it (and listed on screen) is what
    this test made."""
    from wizard.core import paths

    folder = tmp_path / "backups"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(paths, "backups_dir", lambda: folder)
    return folder


@pytest.fixture
def make_app() -> AppFactory:
    """make_app(url=..., practice=..., start=..., verify_only=...) -> a WizardApp on that database."""

    def factory(
        url: str = "", *, practice: bool = False, start: str = "welcome", verify_only: bool = False
    ) -> WizardApp:
        state = FlowState(
            practice=practice, initial_url=url, connect_timeout=5, verify_only=verify_only, clock=FixedClock()
        )
        return WizardApp(state, start=start)

    return factory


@pytest.fixture
def app_on_db(make_app: AppFactory, db: TestDatabase) -> WizardApp:
    return make_app(db.url)
