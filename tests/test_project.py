"""The promises the project makes about itself: README commands, CI, packaging, lint."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text)


def test_readme_starts_with_the_practice_command_and_the_test_command() -> None:
    commands = _readme_commands()
    assert commands[0].endswith("migration-wizard --practice") and "python3 -m venv" in commands[0]
    assert commands[1].endswith("-m pytest") and ".[test]" in commands[1]


def test_ci_runs_exactly_the_readme_test_command_in_strict_mode() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()
    assert "export WIZARD_TESTS_STRICT=1" in ci and "apt-get update" in ci


def test_the_wheel_carries_the_migrations_and_finds_them_when_installed(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("migration_wizard-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for expected in (
        "wizard/migrations/002_phase2_vision_api.sql",
        "wizard/migrations/002_phase2_vision_api.down.sql",
        "wizard/migrations/002_phase2_vision_api.toml",
        "wizard/migrations/001_baseline.sql",
        "wizard/core/doctor_rules.toml",
        "wizard/core/doctor_translations.toml",
        "wizard/core/practice_sample_data.sql",
    ):
        assert expected in names
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
    )
    # Run from an unrelated folder so that nothing can come from the checkout.
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", "import wizard.core.migrations as m; print(m.default_migrations_dir())"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    )
    assert Path(result.stdout.strip()) == site / "wizard" / "migrations"
    sql = subprocess.run([sys.executable, "-m", "wizard", "sql"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert sql.returncode == 0 and "CREATE TABLE IF NOT EXISTS image_analyses" in sql.stdout


def test_headless_commands_do_not_import_textual() -> None:
    code = "import sys, wizard.cli, wizard.cli.commands, wizard.cli.changes; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: it is part of the test extras (pip install '.[test]')")
    return found


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [_tool("ruff"), "check", "wizard", "tests", "benchmarks", "tools"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean_on_the_package() -> None:
    result = subprocess.run([_tool("mypy"), "--strict", "wizard"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
