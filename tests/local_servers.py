"""What the test servers started on this machine share: a free TCP port and a self-signed
certificate for a TLS-only listener."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def self_signed_certificate(key: Path, crt: Path) -> None:
    """A certificate for localhost, valid two days, and its key (openssl must be installed)."""
    subprocess.run(
        ["openssl", "req", "-new", "-x509", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(crt)],
        capture_output=True,
        check=True,
    )  # fmt: skip
