"""PostgreSQL 16 (embedded) as well as 18: the same migrate, verify and rollback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_runner import run
from tests.conftest import TEMPLATE, EmbeddedServer, start_embedded


@pytest.fixture(scope="module")
def pg16(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = start_embedded(Path(tmp_path_factory.mktemp("embedded16")), 16)
    yield server
    server.handle.cleanup()


def test_migrate_verify_and_rollback_on_postgresql_16(pg16: EmbeddedServer) -> None:
    name = pg16.create_database(TEMPLATE)
    url = pg16.url(name)
    status = run("status", "--json", "--database-url", url)
    assert status.code == 0 and '"server_version": "16.' in status.out
    migrated = run("migrate", "--yes", "--skip-backup", "--database-url", url)
    assert migrated.code == 0, migrated.text
    assert "Verify: OK" in migrated.out
    assert run("rollback", "--yes", "--database-url", url).code == 0
    assert run("verify", "--database-url", url).code == 1
    pg16.drop_database(name)
