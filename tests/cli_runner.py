"""Runs the headless CLI in this process, capturing what a user would see."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizard.cli import main

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    @property
    def lines(self) -> list[dict[str, Any]]:
        """stdout as JSON lines (--json of migrate, rollback, backup, restore, rehearse)."""
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    @property
    def result(self) -> dict[str, Any]:
        """The last JSON line: {"event": "result", "ok": ..., "exit": ..., "report": ..., ...}."""
        last = self.lines[-1]
        assert last["event"] == "result", last
        return last


@contextlib.contextmanager
def _environment(env: Mapping[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    try:
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    """`migration-wizard ARGS` with stdin that is not a terminal (as in CI)."""
    out, err = io.StringIO(), io.StringIO()
    with (
        _environment(env or {}),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _stdin(io.StringIO("")),
    ):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse usage errors
            code = int(exit_.code or 0)
    return Result(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _stdin(stream: io.StringIO) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = stream
    try:
        yield
    finally:
        sys.stdin = saved


def run_process(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> Result:
    """The same in a child process (`python -m wizard`), for tests that need a process of its own."""
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "wizard", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def start_process(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "wizard", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
