"""Wall time of the headless commands that need no heavy library: `--help`, `doctor TEXT` and
`status` (target: close to `python -c "import psycopg"`).

Each run is a fresh `python -m wizard ...` process, timed by the parent from start to exit;
`status` reads a database of the application's baseline on an embedded PostgreSQL that the
script starts in a temporary folder (and deletes at the end). The runs go round-robin over the
commands, so that a busy machine slows them all alike. Prints the median and the spread over
N runs of each, next to bare `python -c "import psycopg"` and `python -c "pass"`, the ratio to
the psycopg import, and how many modules each command imported. Python's bytecode cache is
kept in the temporary folder (warmed by one untimed run), as an installed wizard has its own.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

RUNS = 20
DOCTOR_TEXT = 'FATAL:  password authentication failed for user "x"'
# The modules a command imported, counted in a separate, untimed run.
COUNT = """
import sys, wizard.cli
try:
    wizard.cli.main(sys.argv[1:])
except SystemExit:
    pass
print(len(sys.modules), file=sys.stderr)
"""


def start_database(folder: Path) -> tuple[Any, str]:
    """An embedded server in `folder` holding the application's baseline (as the tests' template)."""
    from wizard.core import practice

    server = practice.embedded_server(folder / "pg", practice.POSTGRES_VERSION, cleanup_mode="delete")
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier("bench")))
    url = str(server.get_uri("bench"))
    with psycopg.connect(url, autocommit=True) as conn:
        practice.load_application(conn)
    return server, url


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # doctor exits 1 for a message it does not recognize
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def modules(args: list[str], env: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-c", COUNT, *args], capture_output=True, text=True, env=env)
    return int(done.stderr.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="headless-start-") as folder:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "DATABASE_URL")}
        env["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "pycache")
        server, url = start_database(Path(folder))
        try:
            wizard = [sys.executable, "-m", "wizard"]
            commands: dict[str, tuple[list[str], list[str] | None]] = {
                'python -c "pass"': ([sys.executable, "-c", "pass"], None),
                'python -c "import psycopg"': ([sys.executable, "-c", "import psycopg"], None),
                "--help": ([*wizard, "--help"], ["--help"]),
                "doctor TEXT": ([*wizard, "doctor", DOCTOR_TEXT], ["doctor", DOCTOR_TEXT]),
                "status --database-url URL": (
                    [*wizard, "status", "--database-url", url],
                    ["status", "--database-url", url],
                ),
            }
            for argv, _ in commands.values():  # warm the bytecode cache
                timed(argv, env)
            times: dict[str, list[float]] = {label: [] for label in commands}
            for _ in range(RUNS):
                for label, (argv, _) in commands.items():
                    times[label].append(timed(argv, env))
            counts = {label: modules(args, env) for label, (_, args) in commands.items() if args is not None}
        finally:
            server.cleanup()
    psycopg_median = statistics.median(times['python -c "import psycopg"'])
    print(f"Median wall time of {RUNS} fresh processes each (min .. max), ratio to importing psycopg:")
    for label, found in times.items():
        median = statistics.median(found)
        extra = f", {counts[label]} modules" if label in counts else ""
        print(
            f"  {label:28} {median * 1000:6.0f} ms ({min(found) * 1000:.0f} .. {max(found) * 1000:.0f})"
            f"  x{median / psycopg_median:.2f}{extra}"
        )


if __name__ == "__main__":
    main()
