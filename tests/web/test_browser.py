"""The wizard in a web browser (`--web`): a person opens the page, walks the whole flow on the
practice database, and the password of a real URL never shows in the page, its address, the
command lines or the server's log. Headless Chromium; skipped (failed in CI) without it."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator

import psutil
import pytest

from tests.cli_runner import run
from tests.web.served import browser_page, chromium_path, free_port, serve


@pytest.fixture
def chromium() -> str:
    return chromium_path()


@pytest.fixture
def fresh_practice() -> Iterator[None]:
    """The practice database with the migration pending (another test may have applied it),
    and as fresh again afterwards."""
    assert run("practice", "--reset").code == 0
    yield
    assert run("practice", "--reset").code == 0


def test_a_person_walks_from_welcome_to_verify_in_the_browser_then_stops_it_with_ctrl_c(
    chromium: str, fresh_practice: None
) -> None:
    with serve("--practice") as (server, address):
        assert address.startswith("http://127.0.0.1:")
        assert "Target: the practice database" in server.log
        with browser_page(address) as (page, terminal):
            assert page.url.rstrip("/") == address
            terminal.wait_for("Phase 2 Vision API migration")
            terminal.wait_for("You are on the practice database")
            terminal.press("Enter")  # Welcome: Start
            terminal.wait_for("Start the practice database")
            terminal.press("Control+t")  # Connect: start it and test the connection
            terminal.wait_for(r"Connected in [\d.]+ s: PostgreSQL 18")
            terminal.press("Enter")  # Continue
            terminal.wait_for("All checks passed")  # Check
            terminal.wait_for("Pending: 002_phase2_vision_api")
            terminal.press("Enter")
            terminal.wait_for("What to back up")  # Backup
            terminal.press("Enter")  # Back up now
            terminal.wait_for("Verified: pg_dump finished")
            terminal.press("Enter")  # Continue
            terminal.wait_for("in one transaction")  # Review: every statement, in plain words
            terminal.wait_for("ALTER TABLE attachments ADD COLUMN IF NOT EXISTS storage_key")
            terminal.press("Enter")  # Apply
            terminal.wait_for(r"Applied 002_phase2_vision_api in \d+ ms; recorded in the ledger")  # Migrate
            terminal.wait_for(r"Verify \(Enter\)")  # once the migration is done
            terminal.press("Enter")  # Verify
            terminal.wait_for(r"All \d+ checks passed")
            terminal.wait_for("attachments has the 4 new columns")
            tabs = server.tabs()
            assert tabs, "one wizard process for the tab"
            # Ctrl+C with the tab still open: the tab's wizard quits, the server says so, exit 130.
            assert server.interrupt() == 130
        assert "Stopped (Ctrl+C)" in server.log and "Traceback" not in server.log
        assert psutil.wait_procs(tabs, timeout=10)[1] == [], "a tab's wizard outlived the server"
    # What the browser did is in the database: verify from the command line agrees.
    later = run("verify", "--practice", "--json")
    assert later.code == 0 and json.loads(later.out)["ok"] is True


def test_the_password_never_shows_in_the_page_its_address_the_command_lines_or_the_log(chromium: str) -> None:
    password = "S3cret-Pw_42x"
    url = f"postgresql://app:{password}@127.0.0.1:{free_port()}/shop"  # nothing listens there
    with serve(env={"DATABASE_URL": url}) as (server, address):
        assert "Target: host 127.0.0.1" in server.log and "database shop, user app" in server.log
        with browser_page(address) as (page, terminal):
            terminal.wait_for("Phase 2 Vision API migration")
            terminal.press("Enter")  # Start: the Connect screen starts with the URL from the environment
            terminal.wait_for("database shop, user app")
            terminal.press("Control+t")
            screen = terminal.wait_for(r"refused|nothing is accepting connections")
            assert password not in screen and password not in page.content() and password not in page.url
            # Each tab's wizard got the URL through its environment, not its command line.
            tabs = server.tabs()  # the shell textual-serve starts, and the wizard in it
            assert not [tab for tab in tabs if password in " ".join(tab.cmdline())]
            (wizard,) = [tab for tab in tabs if tab.cmdline()[:3] == [sys.executable, "-m", "wizard"]]
            assert wizard.environ().get("DATABASE_URL") == url
        # A URL with a password in a request (a link someone pasted) is masked in the request log.
        with urllib.request.urlopen(f"{address}/?from=postgresql://app:{password}@db.example.com/shop") as answer:
            assert answer.status == 200
        assert server.interrupt() == 130
    assert password not in server.log
    assert "postgresql://app:****@db.example.com/shop" in server.log
