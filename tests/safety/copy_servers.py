"""The PostgreSQL servers a rehearsal started for its local copy, found by their data folder:
pg_ctl detaches them, so they are not the wizard's children."""

from __future__ import annotations

from pathlib import Path

import psutil


def servers_in(folder: Path) -> list[psutil.Process]:
    """The running postgres processes whose command line names a data folder under `folder`."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            named = process.info["name"] == "postgres" and str(folder) in " ".join(process.info["cmdline"] or ())
            if named and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:  # ended while being read
            continue
    return found
