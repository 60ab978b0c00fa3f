"""The practice database: the README's first command, end to end."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.cli_runner import run


def test_practice_reset_loads_the_application_with_sample_rows() -> None:
    result = run("practice", "--reset")
    assert result.code == 0, result.text
    assert "practice database" in result.out
    attachments = next(line for line in result.out.splitlines() if line.strip().startswith("attachments "))
    assert attachments.split()[-1] == "120"
    assert "002_phase2_vision_api: pending" in result.out


def test_a_second_start_reuses_the_practice_database_quickly() -> None:
    run("practice")
    started = time.monotonic()
    result = run("status", "--practice", "--json")
    assert result.code == 0
    assert json.loads(result.out)["practice"] is True
    # Reuse, not a reload: the data folder is kept and nothing is loaded again.
    assert "Loading the practice database" not in result.err
    assert time.monotonic() - started < 30


def test_the_guided_practice_run_migrates_verifies_and_can_be_rolled_back_and_reset() -> None:
    assert run("practice", "--reset").code == 0
    guided = run("--practice")
    assert guided.code == 0, guided.text
    assert "Applied 002_phase2_vision_api" in guided.out and "Verify: OK" in guided.out
    verified = run("verify", "--practice", "--json")
    assert verified.code == 0 and json.loads(verified.out)["ok"] is True
    rolled = run("rollback", "--practice", "--yes")
    assert rolled.code == 0 and "002_phase2_vision_api: pending" in rolled.out
    assert run("verify", "--practice").code == 1
    assert run("practice", "--reset").code == 0


def test_with_no_database_url_the_guided_run_uses_the_practice_database() -> None:
    assert run("practice", "--reset").code == 0
    result = run(env={"DATABASE_URL": None})
    assert result.code == 0, result.text
    assert "practice database" in result.out and "Verify: OK" in result.out
    assert run("practice", "--reset").code == 0


def test_handles_of_killed_processes_do_not_keep_the_server_running_forever(tmp_path: Path) -> None:
    from wizard.core.practice import _forget_dead_handles

    handles = tmp_path / ".handle_pids.json"
    handles.write_text(json.dumps([os.getpid(), 999_999_1]))
    _forget_dead_handles(tmp_path)
    assert json.loads(handles.read_text()) == [os.getpid()]
