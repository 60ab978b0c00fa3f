"""Restore reads the backup as a stream, on any server: a newer pg_dump's settings are left out
where the server lacks them, odd names survive, and a file that breaks off changes nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import TEMPLATE, EmbeddedServer, TestDatabase, start_embedded
from tests.debian_pg import DebianPg
from wizard.core import dumpfile, pgtools, practice, restore, tool_finder
from wizard.core.connection import parse_url

ODD = """
CREATE SCHEMA "Sales Team";
CREATE TABLE "Sales Team"."Big ""Quoted"" Table" (id int PRIMARY KEY, note text);
INSERT INTO "Sales Team"."Big ""Quoted"" Table"
  SELECT g, 'row ' || g || E' tab\\there ünïcode' FROM generate_series(1, 2500) g;
"""

ATTACHMENTS = "SELECT count(*), md5(string_agg(a::text, ',' ORDER BY id)) FROM attachments a"


def _dump(url: str, path: Path, *args: str, version: int = 18) -> Path:
    """pg_dump of the given major version (a bundled one), as a user with only that tool would run it."""
    target = parse_url(url)
    tool = next(t for t in tool_finder.candidates("pg_dump") if t.bundled and t.major == version)
    choice = pgtools.ToolChoice(tool, "the test's choice")
    with pgtools.connection_env(target, choice) as env:
        subprocess.run([str(tool.path), *args, "--file", str(path)], env=env, check=True, capture_output=True)
    return path


def _restore(url: str, path: Path) -> restore.RestoreResult:
    with psycopg.connect(url, autocommit=True) as conn:
        found = restore.plan(conn, restore.read_backup(path), [])
        return restore.run_restore(conn, found)


@pytest.fixture
def db15(debian_pg: DebianPg, request: pytest.FixtureRequest) -> str:
    name = f"stream_{abs(hash(request.node.name)) % 10**8}"
    url = debian_pg.create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        practice.load_application(conn)
    return url


def test_an_archive_from_pg_dump_18_restores_on_postgresql_15(db15: str, tmp_path: Path) -> None:
    archive = _dump(db15, tmp_path / "by18.dump", "--format=custom")
    plain = _dump(db15, tmp_path / "by18.sql", "--format=plain")
    with psycopg.connect(db15, autocommit=True) as conn:
        before = conn.execute(ATTACHMENTS).fetchone()
        conn.execute("DELETE FROM attachments WHERE id IN (SELECT id FROM attachments LIMIT 50)")
        conn.execute("CREATE TABLE made_later (id int)")
        found = restore.plan(conn, restore.read_backup(archive), [])
    assert found.reader is not None and found.reader.tool.major == 18
    assert "made by pg_dump 18" in found.how and "PostgreSQL 15 lacks are left out" in found.how
    for path in (archive, plain):
        result = _restore(db15, path)
        assert result.left_out == ("transaction_timeout",)
        assert "PostgreSQL 15 does not have this setting" in result.left_out_note
        assert result.mismatched == [] and result.counts["public.attachments"][0] == before[0]  # type: ignore[index]
        with psycopg.connect(db15, autocommit=True) as conn:
            assert conn.execute(ATTACHMENTS).fetchone() == before
            assert conn.execute("SELECT to_regclass('public.made_later')").fetchone() == (None,)


@pytest.fixture(scope="module")
def pg16(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = start_embedded(tmp_path_factory.mktemp("embedded16"), 16)
    yield server
    server.handle.cleanup()


def test_an_archive_from_pg_dump_16_is_read_by_pg_restore_16(pg16: EmbeddedServer, tmp_path: Path) -> None:
    url = pg16.url(pg16.create_database(TEMPLATE))
    by16 = _dump(url, tmp_path / "by16.dump", "--format=custom", version=16)
    contents = dumpfile.read(by16)
    assert contents.dumped_by is not None and contents.dumped_by.startswith("16.")
    assert contents.format == "custom" and contents.complete and "public.attachments" in contents.tables
    reader = dumpfile.reader_for(contents, 16)
    assert reader.tool.major == 16  # the oldest that reads it (Debian's 15 cannot; 18 could, but writes more)
    assert "made by pg_dump 16." in reader.reason and "left out" not in reader.reason
    result = _restore(url, by16)
    assert result.left_out == () and result.mismatched == []
    newer = _dump(url, tmp_path / "by18.dump", "--format=custom")
    assert dumpfile.reader_for(dumpfile.read(newer), 16).tool.major == 18
    assert "PostgreSQL 16 lacks are left out" in dumpfile.reader_for(dumpfile.read(newer), 16).reason
    assert _restore(url, newer).left_out == ("transaction_timeout",)


def test_quoted_names_and_tabs_come_back_from_either_format(db: TestDatabase, tmp_path: Path) -> None:
    db.execute(ODD)
    table = '"Sales Team"."Big ""Quoted"" Table"'
    wanted = db.scalar(f"SELECT md5(string_agg(id || note, ',' ORDER BY id)) FROM {table}")
    for fmt in ("custom", "plain"):
        path = _dump(db.url, tmp_path / f"odd.{fmt}", f"--format={fmt}")
        contents = dumpfile.read(path)
        assert 'Sales Team.Big "Quoted" Table' in contents.tables and "Sales Team" in contents.schemas
        db.execute(f"DELETE FROM {table} WHERE id > 10")
        result = _restore(db.url, path)
        assert result.counts['Sales Team.Big "Quoted" Table'] == (2500, 2500)
        assert db.scalar(f"SELECT md5(string_agg(id || note, ',' ORDER BY id)) FROM {table}") == wanted


def test_a_backup_that_breaks_off_is_rolled_back_and_changes_nothing(db: TestDatabase, tmp_path: Path) -> None:
    db.execute("INSERT INTO users (email, display_name) SELECT 'bulk' || g || '@example.com', repeat('x', 200)"
               " FROM generate_series(1, 20000) g")  # fmt: skip
    whole = _dump(db.url, tmp_path / "whole.dump", "--format=custom", "--compress=0")
    cut = tmp_path / "cut.dump"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    db.execute("CREATE TABLE made_later (id int)")
    users = db.scalar("SELECT count(*) FROM users")
    with pytest.raises(restore.RestoreFailed) as failed:
        _restore(db.url, cut)
    assert "rolled back, so nothing changed" in str(failed.value) and "pg_restore could not read all of" in str(
        failed.value
    )
    assert db.scalar("SELECT to_regclass('public.made_later')") is not None  # nothing was dropped
    assert db.scalar("SELECT count(*) FROM users") == users


def test_a_column_option_another_server_build_wrote_is_left_out(db: TestDatabase, tmp_path: Path) -> None:
    # Debian's PostgreSQL 15.20 keeps a build-specific option in every column's attoptions, which
    # newer pg_dumps write out; any other server refuses it ("unrecognized parameter").
    path = _dump(db.url, tmp_path / "options.sql", "--format=plain")
    text = path.read_text()
    create = "CREATE TABLE public.users ("
    end = text.index(");\n", text.index(create)) + 3
    foreign = "ALTER TABLE ONLY public.users ALTER COLUMN email SET (build_marker=3);\n"
    path.write_text(text[:end] + foreign + text[end:])
    db.execute("DELETE FROM users WHERE email LIKE '%1%'")
    result = _restore(db.url, path)
    assert len(result.options_left_out) == 1 and "ALTER TABLE ONLY public.users" in result.options_left_out[0]
    assert "build_marker" in result.options_left_out[0] and result.mismatched == []
    assert db.scalar("SELECT count(*) FROM users") == 20  # the table and its rows came back all the same


def test_an_archive_newer_than_every_pg_restore_here_is_refused_with_what_to_install(tmp_path: Path) -> None:
    from wizard.core.pgtools import ToolMissing

    # An archive's table of contents as a future pg_dump would write it.
    future = dumpfile.DumpFile(tmp_path / "x.dump", "custom", ("public.t",), (), "99.1", "99.1", True)
    with pytest.raises(ToolMissing) as missing:
        dumpfile.reader_for(future, 17)
    assert "made by pg_dump 99.1" in str(missing.value) and "newest pg_restore found is 18" in str(missing.value)
    assert missing.value.fix == ("Install PostgreSQL 99 client tools, or update migration-wizard.",)
