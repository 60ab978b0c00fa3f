"""`migration-wizard --web` in a child process, and its page in headless Chromium.

Chromium is Debian's (`apt-get install chromium`, which `.ci/run` does), driven by Playwright
with that executable: Playwright's own browser download does not run here. The page is
textual-serve's xterm.js terminal; `Terminal` reads its buffer (the text a person sees) through
the page and types into it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from tests.cli_runner import ROOT
from tests.requirements import skip_or_fail

READY = re.compile(r"ready: open (http://\S+) in your web browser")


def chromium_path() -> str:
    """Debian's Chromium, or a skip (a failure with WIZARD_TESTS_STRICT=1) that says how to get it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        skip_or_fail("no Chromium to open the page in (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("Playwright is not installed (pip install '.[test]')")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Served:
    """The server process, with everything it printed (stdout and stderr together)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_for_address(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := READY.search(self.log):
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the server never said where it serves:\n{self.log}")

    def tabs(self) -> list[Any]:
        """The wizards it started for browser tabs (psutil processes)."""
        import psutil

        return [child for child in psutil.Process(self.process.pid).children(recursive=True) if child.is_running()]

    def interrupt(self, timeout: float = 30) -> int:
        """Ctrl+C, as a person stops it; its exit status."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code


@contextmanager
def serve(*args: str, env: Mapping[str, str] | None = None) -> Iterator[tuple[Served, str]]:
    """`python -m wizard ARGS --web --port P` (in the suite's private XDG folders, which conftest
    set in this environment); its address once it says it is ready."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", *args, "--web", "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    served = Served(process)
    try:
        yield served, served.wait_for_address()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


# The page builds one xterm.js Terminal and keeps it as `this.terminal` of a private object: a
# setter on Object.prototype, installed before the page's script runs, notes it as the first
# assignment of that name happens (and then steps aside, leaving a plain property).
HOOK = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && value.buffer.active) window.__wizardTerminal = value;
  },
});
"""
SCREEN = """() => {
  const terminal = window.__wizardTerminal;
  if (!terminal) return '';
  const buffer = terminal.buffer.active, rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : '');
  }
  return rows.join('\\n');
}"""


class Terminal:
    """The wizard in the page: what its terminal shows, and a keyboard."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def screen(self) -> str:
        text: str = self.page.evaluate(SCREEN)
        return text

    def wait_for(self, pattern: str, timeout: float = 30) -> str:
        """The screen, once it matches the regular expression `pattern` (case-insensitive)."""
        check = f"() => new RegExp({json.dumps(pattern)}, 'i').test(({SCREEN})())"
        try:
            self.page.wait_for_function(check, timeout=timeout * 1000, polling=100)
        except Exception as error:
            raise AssertionError(f"the page never showed {pattern!r}; it shows:\n{self.screen()}") from error
        return self.screen()

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)


@contextmanager
def browser_page(address: str) -> Iterator[tuple[Any, Terminal]]:
    """A fresh headless Chromium tab on the address, its terminal focused and showing the wizard."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.add_init_script(HOOK)
            # Only this machine: the page also asks Google for a font, which is not needed to read text.
            page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
            page.goto(address, wait_until="domcontentloaded")
            terminal = Terminal(page)
            terminal.wait_for(r"\S")  # the wizard's first screen has arrived
            page.click("#terminal")  # keys go to the terminal, as after a person's click
            yield page, terminal
        finally:
            browser.close()
