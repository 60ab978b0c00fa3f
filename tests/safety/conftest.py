"""The servers the fault tests run on: `any_version` gives an application database on each
version the suite can start, 15 and 17 TLS-only with a password (a cancel request travels over
its own encrypted connection there), 16 and 18 embedded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import TEMPLATE, EmbeddedServer, TestDatabase, start_embedded
from tests.local_servers import TlsCluster
from wizard.core import practice

VERSIONS = ("15-tls", "16", "17-tls", "18")


@pytest.fixture(scope="package")
def pg16(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = start_embedded(Path(tmp_path_factory.mktemp("safety16")), 16)
    yield server
    server.handle.cleanup()


@pytest.fixture(params=VERSIONS)
def any_version(request: pytest.FixtureRequest, db: TestDatabase) -> Iterator[TestDatabase]:
    """An application database on one server version (the `db` fixture's for 18)."""
    if request.param == "18":
        yield db
        return
    if request.param == "16":
        server: EmbeddedServer = request.getfixturevalue("pg16")
        name = server.create_database(TEMPLATE)
        yield TestDatabase(name, server.url(name), server)
        server.drop_database(name)
        return
    cluster: TlsCluster = request.getfixturevalue("debian_pg" if request.param == "15-tls" else "celerp_pg")
    name = f"safety_{uuid.uuid4().hex[:10]}"
    url = cluster.create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        practice.load_application(conn)
    yield TestDatabase(name, url, db.server)  # its methods use only the URL
    cluster.drop_database(name)
