"""--json on the changing commands: JSON lines whose shape is the README's, for every event type."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from tests.cli_runner import ROOT, Result, run
from tests.conftest import TestDatabase
from wizard.core.events import EVENT_TYPES, event_name

README = (ROOT / "README.md").read_text(encoding="utf-8")
ALWAYS = {"ok", "exit", "report"}


def _table(marker: str) -> dict[str, set[str]]:
    """A README table between <!-- marker: ... --> and <!-- /marker -->: first column -> key names."""
    block = README.split(f"<!-- {marker}:", 1)[1].split(f"<!-- /{marker} -->", 1)[0]
    found: dict[str, set[str]] = {}
    for row in re.findall(r"^\| `(\w+)` \| (.+) \|$", block, re.MULTILINE):
        name, keys = row
        keys = re.sub(r"\([^)]*\)", "", keys)  # notes on a key: "duration (s)"
        found[name] = {k.strip() for k in keys.split(",") if k.strip()}
    return found


EVENTS = _table("events")
RESULTS = _table("results")


def test_the_readme_documents_every_event_with_exactly_its_keys() -> None:
    in_code = {event_name(kind): {f.name for f in dataclasses.fields(kind)} for kind in EVENT_TYPES}
    assert in_code == EVENTS


def _checked(result: Result, command: str) -> list[dict[str, Any]]:
    lines = result.lines
    assert lines, result.text
    *events, last = lines
    for line in events:
        assert line["event"] in EVENTS, line
        assert set(line) == {"event"} | EVENTS[line["event"]], line
    assert last["event"] == "result" and last["exit"] == result.code and set(last) >= ALWAYS
    if last["ok"]:
        assert set(last) == {"event"} | ALWAYS | RESULTS[command], last
    else:
        assert {"message", "cause", "fix"} <= set(last["error"]), last
    assert all(not line.startswith("Target:") for line in result.out.splitlines())  # people's text: stderr
    assert "Target:" in result.err
    return events


def test_each_changing_command_prints_the_documented_lines(db: TestDatabase, tmp_path: Path) -> None:
    url = ("--database-url", db.url)
    seen: set[str] = set()

    backup = run("backup", "--json", "--output", str(tmp_path), *url)
    seen |= {e["event"] for e in _checked(backup, "backup")}
    archive = backup.result["path"]

    migrated = run("migrate", "--yes", "--json", *url)
    events = _checked(migrated, "migrate")
    seen |= {e["event"] for e in events}
    assert migrated.code == 0 and migrated.result["applied"] == ["002"] and migrated.result["verify"]["ok"]
    finished = [e for e in events if e["event"] == "statement_finished"]
    assert len(finished) == 14 and all(isinstance(e["duration"], float) for e in finished)
    assert Path(migrated.result["report"]).is_file() and migrated.result["backup"].endswith(".dump")

    rolled = run("rollback", "--yes", "--json", *url)
    seen |= {e["event"] for e in _checked(rolled, "rollback")}
    assert rolled.result["rolled_back"] == "002" and rolled.result["states"]["002"] == "pending"

    rehearsed = run("rehearse", "--json", *url)
    seen |= {e["event"] for e in _checked(rehearsed, "rehearse")}
    assert rehearsed.code == 0 and rehearsed.result["ok"] is True

    restored = run("restore", archive, "--yes", "--json", *url)
    seen |= {e["event"] for e in _checked(restored, "restore")}
    assert restored.code == 0 and Path(restored.result["report"]).is_file()

    common = {"backup_started", "backup_progress", "backup_verified", "migration_started", "statement_started",
              "statement_finished", "baseline_recorded", "migration_applied", "migration_rolled_back",
              "rehearsal_step", "restore_started", "table_restored", "verify_finished", "report_written"}  # fmt: skip
    assert common <= seen


def test_a_refusal_and_a_failure_end_with_a_result_line_too(db: TestDatabase, tmp_path: Path) -> None:
    refused = run("migrate", "--json", "--database-url", db.url)  # no --yes and no terminal
    _checked(refused, "migrate")
    assert refused.code == 2 and refused.result["ok"] is False and "--yes" in " ".join(refused.result["error"]["fix"])
    unreachable = run("backup", "--json", "--database-url", "postgresql://u:SecretPw1@127.0.0.1:9/db")
    _checked(unreachable, "backup")
    assert unreachable.code == 3 and unreachable.result["report"] is None
    assert "SecretPw1" not in unreachable.out + unreachable.err
