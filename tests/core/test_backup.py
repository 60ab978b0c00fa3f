"""Backups with pg_dump: verified, private, right tool, password never on a command line."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from tests.conftest import TestDatabase
from tests.debian_pg import DebianPg
from tests.requirements import skip_or_fail
from wizard.core import pgtools, tool_finder
from wizard.core.backup import BackupFailed, run_backup
from wizard.core.connection import connect, parse_url
from wizard.core.errors import Cancelled
from wizard.core.events import BackupProgress, Event

DATA = Path(__file__).parent.parent / "data"


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {t: conn.execute(f'SELECT count(*) FROM public."{t}"').fetchone()[0] for t in tables}  # type: ignore[index]


def test_round_trip_custom_backup_restores_every_row(db: TestDatabase, tmp_path: Path) -> None:
    events: list[Event] = []
    with connect(db.target) as conn:
        result = run_backup(conn, db.target, events.append, output=tmp_path)
    assert result.path.parent == tmp_path and result.path.suffix == ".dump"
    assert result.path.stat().st_mode & 0o777 == 0o600
    assert "public.attachments" in result.tables and len(result.tables) == 12
    assert result.tool.bundled and result.tool.major == 18  # PATH has pg_dump 15 at most: too old for 18
    assert sum(isinstance(e, BackupProgress) and "dumping contents" in e.line for e in events) == 12
    copy = db.server.create_database()
    restore = tool_finder.bundled_bin() / "pg_restore"
    done = subprocess.run(
        [str(restore), "--no-owner", "-d", db.server.url(copy), str(result.path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert _counts(db.server.url(copy)) == _counts(db.url)
    db.server.drop_database(copy)


def test_attachments_only_plain_backup(db: TestDatabase, tmp_path: Path) -> None:
    with connect(db.target) as conn:
        result = run_backup(
            conn, db.target, lambda e: None, fmt="plain", table="attachments", output=tmp_path / "a.sql"
        )
    assert result.tables == ("public.attachments",) and result.format == "plain"
    text = result.path.read_text()
    assert "COPY public.attachments" in text and "COPY public.messages" not in text
    assert "-- PostgreSQL database dump complete" in text[-400:]


def test_pg_dump_is_chosen_by_server_version_and_says_why() -> None:
    on_path = [t for t in tool_finder.candidates("pg_dump") if not t.bundled]
    if not on_path or on_path[0].major >= 18:
        skip_or_fail("needs Debian's pg_dump 15 on PATH (apt-get install postgresql-15) to test the choice")
    older = pgtools.choose("pg_dump", 18)
    assert older.tool.bundled and "older than the server" in older.reason
    same = pgtools.choose("pg_dump", on_path[0].major)
    assert not same.tool.bundled and "on PATH" in same.reason
    with pytest.raises(pgtools.ToolMissing, match="No pg_dump can handle this PostgreSQL 99 server"):
        pgtools.choose("pg_dump", 99)


def test_backup_over_tls_of_a_version_15_server_uses_path_pg_dump(debian_pg: DebianPg, tmp_path: Path) -> None:
    url = debian_pg.create_database(f"bk_{uuid.uuid4().hex[:8]}", DATA / "independent_app_schema.sql")
    target = parse_url(url)
    with connect(target) as conn:
        result = run_backup(conn, target, lambda e: None, output=tmp_path)
    assert not result.tool.bundled and result.tool.major == 15
    assert "public.attachments" in result.tables


@pytest.fixture
def locked_users(db: TestDatabase) -> Iterator[psycopg.Connection[Any]]:
    """pg_dump waits for this lock, so the test can look at it while it runs; rollback() releases it."""
    holder = psycopg.connect(db.url)
    holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
    yield holder
    holder.close()


def _pg_dump_process(timeout: float = 20) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in psutil.process_iter(["name"]):
            if process.info["name"] == "pg_dump":
                return process
        time.sleep(0.05)
    raise AssertionError("pg_dump did not start")


def test_the_password_is_never_on_pg_dumps_command_line(
    db: TestDatabase, tmp_path: Path, locked_users: psycopg.Connection[Any]
) -> None:
    secret = "ArgvSecret55"
    target = parse_url(db.url.replace("postgres:@", f"postgres:{secret}@"))
    outcome: dict[str, Any] = {}

    def backup() -> None:
        with connect(target) as conn:
            outcome["result"] = run_backup(conn, target, lambda e: None, output=tmp_path)

    thread = threading.Thread(target=backup)
    with _children_watched() as seen:
        thread.start()
        _pg_dump_process()  # the dump itself waits for the locked table: it is certainly seen
        time.sleep(0.3)
        locked_users.rollback()
        thread.join(60)
    assert outcome["result"].path.exists()
    dumps = [child for child in seen.values() if "--file" in child.argv and Path(child.argv[0]).name == "pg_dump"]
    assert dumps, f"the dump was not seen among {[c.argv for c in seen.values()]}"
    for child in seen.values():  # the --version probes and pg_restore --list too
        assert secret not in " ".join(child.argv) and "PGPASSWORD" not in " ".join(child.argv), child.argv
    assert all(child.environ.get("PGPASSWORD") == secret for child in dumps)  # handed over privately


@dataclass
class _Child:
    argv: list[str]
    environ: dict[str, str]


@contextlib.contextmanager
def _children_watched() -> Iterator[dict[tuple[int, tuple[str, ...]], _Child]]:
    """Every child process of this one (and theirs) while the block runs, polled every 5 ms; a
    child is seen again when its command line changes (between fork and exec it is Python's)."""
    seen: dict[tuple[int, tuple[str, ...]], _Child] = {}
    stop = threading.Event()
    me = psutil.Process()

    def watch() -> None:
        while not stop.is_set():
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    argv = child.cmdline()
                    if (child.pid, tuple(argv)) not in seen:
                        seen[child.pid, tuple(argv)] = _Child(argv, child.environ())
            stop.wait(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join(5)


def test_cancel_mid_dump_leaves_no_file(
    db: TestDatabase, tmp_path: Path, locked_users: psycopg.Connection[Any]
) -> None:
    cancel = threading.Event()
    failure: dict[str, BaseException] = {}

    def backup() -> None:
        try:
            with connect(db.target) as conn:
                run_backup(conn, db.target, lambda e: None, output=tmp_path, cancel=cancel)
        except BaseException as error:
            failure["error"] = error

    thread = threading.Thread(target=backup)
    thread.start()
    _pg_dump_process()
    cancel.set()
    thread.join(30)
    assert isinstance(failure.get("error"), Cancelled)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        skip_or_fail(f"cannot mount a small tmpfs here to fill a disk: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], capture_output=True)


def test_a_full_disk_is_reported_with_its_fix_and_nothing_is_left(db: TestDatabase, tiny_disk: Path) -> None:
    with connect(db.target) as conn, pytest.raises(BackupFailed) as failure:
        run_backup(conn, db.target, lambda e: None, output=tiny_disk)
    assert "No space left on device" in failure.value.message + failure.value.detail
    assert any("Free space" in step or "space" in step.lower() for step in failure.value.fix)
    assert list(tiny_disk.iterdir()) == []


def test_a_custom_archive_is_compressed_at_level_1(db: TestDatabase, tmp_path: Path) -> None:
    """gzip level 1, not pg_dump's default 6: about a third of the CPU for a slightly larger file.
    The archive is the size pg_dump -Z1 makes of the same data, not -Z6's or an uncompressed one's."""
    db.execute("CREATE TABLE notes (id int, body text)")
    db.execute(
        "INSERT INTO notes SELECT i, repeat(md5(i::text) || ' likes ' || (i % 97)::text || ' pictures of cats; ', 20)"
        " FROM generate_series(1, 4000) AS i"
    )
    with connect(db.target) as conn:
        result = run_backup(conn, db.target, lambda e: None, output=tmp_path / "wizard.dump")
    sizes = {}
    for level in (0, 1, 6):
        archive = tmp_path / f"z{level}.dump"
        done = subprocess.run(
            [str(result.tool.path), "-Fc", f"-Z{level}", "--file", str(archive), db.url], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        sizes[level] = archive.stat().st_size
    assert sizes[6] < sizes[1] < sizes[0]  # the data compresses, and level 6 more than level 1
    assert abs(result.bytes - sizes[1]) < (sizes[1] - sizes[6]) / 4, (result.bytes, sizes)
