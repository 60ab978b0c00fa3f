"""`migration-wizard backup`, including through a TLS-only front of a server newer than PATH's pg_dump."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.cli_runner import run
from tests.conftest import TestDatabase
from tests.pgbouncer import PASSWORD, TlsFront


def test_backup_json_has_the_documented_shape(db: TestDatabase, tmp_path: Path) -> None:
    result = run("backup", "--json", "--output", str(tmp_path), "--database-url", db.url)
    assert result.code == 0, result.text
    data = result.result
    assert set(data) >= {"ok", "path", "bytes", "format", "tables", "pg_dump"}
    assert data["ok"] is True and data["format"] == "custom" and Path(data["path"]).is_absolute()
    assert Path(data["path"]).name.startswith(f"{db.name}-") and data["path"].endswith(".dump")
    assert set(data["pg_dump"]) == {"path", "version"} and "public.attachments" in data["tables"]


def test_backup_prints_the_absolute_path_last(db: TestDatabase, tmp_path: Path) -> None:
    result = run(
        "backup", "--format", "plain", "--table", "attachments", "--output", str(tmp_path), "--database-url", db.url
    )
    assert result.code == 0
    last = Path(result.out.strip().splitlines()[-1])
    assert last.is_absolute() and last.suffix == ".sql" and last.exists()


def test_a_missing_output_folder_is_a_clear_error(db: TestDatabase) -> None:
    result = run("backup", "--output", "/no/such/folder/x.dump", "--database-url", db.url)
    assert result.code == 1 and "does not exist" in result.err and "Traceback" not in result.text


def test_backup_through_a_tls_only_front_of_postgresql_18(
    tls_front: TlsFront, db: TestDatabase, tmp_path: Path
) -> None:
    url = tls_front.url(db.name)
    with psycopg.connect(url) as conn:  # the front really is TLS: plain is refused
        assert conn.info.server_version // 10000 == 18
    assert run("status", "--database-url", tls_front.url(db.name, sslmode="disable")).code == 3
    result = run("backup", "--json", "--output", str(tmp_path), env={"DATABASE_URL": url})
    assert result.code == 0, result.text
    data = result.result
    assert data["pg_dump"]["version"].startswith("18") and len(data["tables"]) == 12
    assert PASSWORD not in result.text
