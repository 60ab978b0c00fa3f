"""The README's CI recipe, run as written: its `run:` steps, in a shell, once per environment
(two local databases standing for staging and production), with the job's XDG_DATA_HOME."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.cli_runner import ROOT
from tests.conftest import TEMPLATE, EmbeddedServer

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _recipe() -> tuple[list[str], list[str]]:
    """The recipe's wizard commands (its `run:` steps after the install) and its artifact paths."""
    block = README.split("<!-- ci-example:", 1)[1].split("<!-- /ci-example -->", 1)[0]
    runs = re.findall(r"^\s+- run: (.+)$", block, re.MULTILINE)
    assert runs[0].startswith("pip install"), runs  # the install: here the test's own environment
    artifacts = re.findall(r"^ {12}(\S+)$", block.split("path: |", 1)[1], re.MULTILINE)
    assert "XDG_DATA_HOME: ${{ github.workspace }}/.wizard" in block
    return runs[1:], artifacts


def test_the_ci_recipe_rehearses_migrates_and_verifies_each_environment(
    pg_server: EmbeddedServer, tmp_path: Path
) -> None:
    commands, artifacts = _recipe()
    assert [c.split()[1] for c in commands] == ["rehearse", "migrate", "verify"]
    tools = Path(sys.executable).parent  # where pip put the migration-wizard command
    for environment in ("staging", "production"):
        workspace = tmp_path / environment
        workspace.mkdir()
        name = pg_server.create_database(TEMPLATE)
        env = {
            **os.environ,
            "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}",
            "DATABASE_URL": pg_server.url(name),
            "XDG_DATA_HOME": str(workspace / ".wizard"),
        }
        for command in commands:  # each step fails the job on a non-zero exit
            done = subprocess.run(
                ["bash", "-eo", "pipefail", "-c", command], cwd=workspace, env=env, capture_output=True, text=True,
                stdin=subprocess.DEVNULL, timeout=300,
            )  # fmt: skip
            assert done.returncode == 0, f"{environment}: {command}\n{done.stdout}\n{done.stderr}"
        for artifact in artifacts:
            assert (workspace / artifact).exists(), f"{environment}: the artifact {artifact} is missing"
        rehearsed = [json.loads(line) for line in (workspace / "rehearse.jsonl").read_text().splitlines()]
        migrated = [json.loads(line) for line in (workspace / "migrate.jsonl").read_text().splitlines()]
        assert rehearsed[-1]["event"] == "result" and rehearsed[-1]["ok"] is True
        assert migrated[-1]["event"] == "result" and migrated[-1]["applied"] == ["002"]
        assert json.loads((workspace / "verify.json").read_text())["ok"] is True
        reports = list((workspace / ".wizard" / "migration-wizard" / "reports").glob("*-migrate-*.md"))
        assert [str(r) for r in reports] == [migrated[-1]["report"]]
        pg_server.drop_database(name)
