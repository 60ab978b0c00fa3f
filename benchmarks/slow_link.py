"""How the wizard's headless commands fare over a slow network link: verify, status and
migrate through a proxy adding 25 ms each way (a 50 ms round trip), next to one bare
connection (target: a full `verify --json` within 1.3x of `psql -c 'select 1'`).

It starts its own server (Debian's PostgreSQL 15, TLS only with a password, by default; or
`--server 18`, the embedded one, without TLS) and a small asyncio TCP proxy on 127.0.0.1 in
front of it that delays every chunk by --delay-ms in each direction (so it adds latency, not
a bandwidth limit) and counts, per command, the connections, the chunks the client sent,
and the client's turns (a chunk from the client after the server spoke: about one round
trip each). Each command runs as a child process, timed from start to exit, --runs times
(median shown), first with no delay ("local"), then with the delay ("link"):

- `psql -X -c 'select 1'`: one bare connection, the floor;
- the same bare connection from Python: start the interpreter, import psycopg, connect, `select 1`,
  exit: the floor of any Python program (the wizard included) that uses psycopg;
- the guide's six verification calls, one `psql -c` each (the three of its "Step 3: Verify"
  and the three of its all-in-one command), in a row;
- `python -m wizard verify --json` and `python -m wizard status --json`, on a database the
  wizard migrated;
- `python -m wizard migrate --yes --skip-backup` and the guide's `psql -f
  002_phase2_vision_api.sql`, each on a fresh copy of the pre-Phase-2 database (the copy,
  made beforehand, is not timed).

The database holds the baseline schema and the practice sample rows (small: the link's
latency is what is measured). The server, the proxy and the temp folder are removed at the
end, also on Ctrl+C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _servers
import psycopg
from _servers import DEBIAN_BIN, PHASE2, Redactor
from psycopg import sql
from slow_proxy import SlowProxy

VERIFY_TARGET = 1.3
TEMPLATE = "link_base"
MIGRATED = "link_migrated"
FRESH = "link_fresh"

# The guide (../shared/seed/phase2-migration-guide.md): "Step 3: Verify migration succeeded"
# (three calls), then steps 4-6 of its all-in-one command.
GUIDE_CHECKS = (
    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name='attachments'"
    " ORDER BY ordinal_position;",
    "SELECT * FROM information_schema.tables WHERE table_name='image_analyses';",
    "SELECT indexname FROM pg_indexes WHERE tablename IN ('attachments', 'image_analyses');",
    "SELECT column_name FROM information_schema.columns WHERE table_name='attachments' AND column_name IN"
    " ('storage_key', 'public_url', 'vision_analysis', 'analyzed_at') ORDER BY column_name;",
    "SELECT COUNT(*) as tables_found FROM information_schema.tables WHERE table_name='image_analyses';",
    "SELECT COUNT(*) as indexes_found FROM pg_indexes WHERE tablename IN ('attachments', 'image_analyses');",
)


# ---------------------------------------------------------------------------------------------
# The servers: Debian's 15 with TLS, or the embedded 18 without
# ---------------------------------------------------------------------------------------------


@dataclass
class Target:
    """How the commands reach the server through the proxy, and how the script reaches it directly."""

    version: int
    psql: Path
    admin_url: str  # direct, for setting up
    proxy: SlowProxy
    url_through_proxy: Callable[[str, bool], str]  # (dbname, with_password) -> URL
    password: str  # "" for the embedded server (trust)
    data_home: Path  # the wizard's data folder (session reports), in the temp folder

    def url(self, dbname: str, *, with_password: bool = True) -> str:
        return self.url_through_proxy(dbname, with_password)

    def direct(self, dbname: str) -> str:
        """A database's URL without the proxy (both servers' URLs read `.../postgres?...`)."""
        return self.admin_url.replace("/postgres?", f"/{dbname}?", 1)


def start_target(version: int, work: Path, stack: list[Any]) -> Target:
    if version == 15:
        server = _servers.start_debian_15(work)
        stack.append(server.stop)
        proxy = SlowProxy(tcp=("127.0.0.1", server.port))
        port = proxy.start()
        stack.append(proxy.stop)
        return Target(
            15, DEBIAN_BIN / "psql", server.url("postgres"), proxy,
            lambda db, pw: server.url(db, port=port, with_password=pw), server.password, work / "xdg-data",
        )  # fmt: skip
    embedded = _servers.embedded_18(work)
    stack.append(embedded.cleanup)
    info = embedded.get_postmaster_info()
    proxy = SlowProxy(unix=str(Path(info.socket_dir) / f".s.PGSQL.{info.port}"))
    port = proxy.start()
    stack.append(proxy.stop)
    return Target(
        18, Path(embedded.bin_path) / "psql", embedded.get_uri("postgres"), proxy,
        lambda db, _pw: f"postgresql://postgres@127.0.0.1:{port}/{db}?sslmode=disable", "", work / "xdg-data",
    )  # fmt: skip


def admin(target: Target) -> psycopg.Connection[Any]:
    return psycopg.connect(target.admin_url, autocommit=True)


def copy_database(target: Target, name: str, template: str) -> None:
    with admin(target) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))


def prepare(target: Target) -> None:
    """The pre-Phase-2 database (template), and a copy of it the wizard migrated."""
    from wizard.core.practice import load_application

    with admin(target) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    with psycopg.connect(target.direct(TEMPLATE), autocommit=True) as conn:
        load_application(conn)
    copy_database(target, MIGRATED, TEMPLATE)
    done = _servers.run_timed(wizard("migrate", "--yes", "--skip-backup"), env=env(target, MIGRATED))
    if done.returncode:
        tail = "\n  ".join(Redactor(target.password)(done.output).strip().splitlines()[-10:])
        raise SystemExit(
            f"The wizard could not migrate the database verify runs on (exit {done.returncode}):\n  {tail}"
        )


# ---------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------


def wizard(*args: str) -> list[str]:
    return [sys.executable, "-m", "wizard", *args]


def env(target: Target, dbname: str) -> dict[str, str]:
    """The password reaches psql and the wizard through the environment, never a command line."""
    extra = {"DATABASE_URL": target.url(dbname)}
    if target.password:
        extra["PGPASSWORD"] = target.password
    return _servers.child_env(target.data_home, **extra)


# One bare connection from Python (the URL from the environment, like the wizard's).
PYTHON_FLOOR = [
    sys.executable,
    "-c",
    "import os, psycopg; psycopg.connect(os.environ['DATABASE_URL'], autocommit=True).execute('select 1').fetchone()",
]


def psql(target: Target, dbname: str, *args: str) -> list[str]:
    return [str(target.psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target.url(dbname, with_password=False), *args]


@dataclass
class Command:
    label: str
    steps: list[list[str]]  # run in a row, timed together
    dbname: str
    fresh: bool = False  # on a fresh copy of the pre-Phase-2 database


@dataclass
class Measured:
    local: list[float]
    link: list[float]
    connections: int = 0
    chunks: int = 0
    turns: int = 0


def commands(target: Target) -> list[Command]:
    return [
        Command("psql -c 'select 1' (one bare connection)", [psql(target, MIGRATED, "-c", "select 1")], MIGRATED),
        Command("python: import psycopg, connect, select 1 (Python's floor)", [PYTHON_FLOOR], MIGRATED),
        Command(
            "the guide's six psql verification calls", [psql(target, MIGRATED, "-c", q) for q in GUIDE_CHECKS], MIGRATED
        ),
        Command("wizard verify --json", [wizard("verify", "--json")], MIGRATED),
        Command("wizard status --json", [wizard("status", "--json")], MIGRATED),
        Command("guide's psql -f 002 (fresh copy)", [psql(target, FRESH, "-f", str(PHASE2))], FRESH, fresh=True),
        Command(
            "wizard migrate --yes --skip-backup (fresh copy)",
            [wizard("migrate", "--yes", "--skip-backup")],
            FRESH,
            fresh=True,
        ),
    ]


def run_command(target: Target, command: Command, redact: Redactor) -> float:
    if command.fresh:
        copy_database(target, FRESH, TEMPLATE)
    target.proxy.reset()
    started = time.perf_counter()
    for step in command.steps:
        done = _servers.run_timed(step, env=env(target, command.dbname))
        if done.returncode:
            tail = "\n  ".join(redact(done.output).strip().splitlines()[-10:])
            raise SystemExit(f"{command.label} failed (exit {done.returncode}):\n  {tail}")
    return time.perf_counter() - started


def measure(target: Target, command: Command, runs: int, delay: float, redact: Redactor) -> Measured:
    result = Measured([], [])
    for which, seconds in (("local", 0.0), ("link", delay)):
        target.proxy.delay = seconds
        run_command(target, command, redact)  # warm-up (page cache, .pyc files), not counted
        for _ in range(runs):
            getattr(result, which).append(run_command(target, command, redact))
    # the last run's counts (the same every run, give or take a chunk split differently)
    result.connections, result.chunks, result.turns = target.proxy.connections, target.proxy.chunks, target.proxy.turns
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server", type=int, choices=(15, 18), default=15,
        help="15: Debian's, TLS and a password; 18: the embedded one, no TLS (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--delay-ms", type=float, default=25, help="added to each chunk in each direction (default %(default)s)"
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="timed runs of each command, after one warm-up (default %(default)s)"
    )
    args = parser.parse_args()
    if args.server == 15:
        _servers.check_debian_15()

    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="slow-link-"))
    stack: list[Any] = []  # clean-up steps, run last first
    _servers.on_sigterm_interrupt()
    try:
        what = "Debian's PostgreSQL 15 (TLS only)" if args.server == 15 else "the embedded PostgreSQL 18 (no TLS)"
        print(f"Starting {what} and a proxy adding {args.delay_ms:g} ms each way ...", flush=True)
        target = start_target(args.server, work, stack)
        redact = Redactor(target.password)
        prepare(target)
        with psycopg.connect(target.url(MIGRATED), autocommit=True) as conn:
            row = conn.execute("SELECT current_setting('server_version'),"
                               " (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())").fetchone()  # fmt: skip
        assert row is not None
        print(f"  PostgreSQL {row[0]}, TLS: {'yes' if row[1] else 'no'}; psql: {target.psql};"
              f" the wizard measured: {_servers.wizard_location()}")  # fmt: skip
        print(f"  {os.cpu_count()} CPUs; load average (1 min): {os.getloadavg()[0]:.2f}\n", flush=True)

        results: dict[str, Measured] = {}
        for command in commands(target):
            m = measure(target, command, args.runs, args.delay_ms / 1000, redact)
            results[command.label] = m
            print(f"  {command.label}: local {statistics.median(m.local):.3f} s,"
                  f" link {statistics.median(m.link):.3f} s"
                  f" ({', '.join(f'{s:.2f}' for s in m.link)})", flush=True)  # fmt: skip

        bare = statistics.median(next(iter(results.values())).link)
        bare_local = statistics.median(next(iter(results.values())).local)
        header = ("command", "conns", "chunks", "turns", "local", f"{2 * args.delay_ms:g} ms RTT", "x bare",
                  "local x bare")  # fmt: skip
        lines = [header]
        for label, m in results.items():
            link, local = statistics.median(m.link), statistics.median(m.local)
            lines.append((label, str(m.connections), str(m.chunks), str(m.turns), f"{local:.3f} s",
                          f"{link:.3f} s", f"{link / bare:.2f}", f"{local / bare_local:.2f}"))  # fmt: skip
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        print(f"\nMedian of {args.runs} runs each; turns: the client's turns to speak, about one round trip each")
        for n, line in enumerate(lines):
            print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(line, widths, strict=True))))  # fmt: skip
            if n == 0:
                print("  " + "  ".join("-" * w for w in widths))
        verify = statistics.median(results["wizard verify --json"].link) / bare
        print(f"\n  target: verify --json <= {VERIFY_TARGET}x one bare connection over the link:"
              f" {verify:.2f}x, {'met' if verify <= VERIFY_TARGET else 'NOT met'}")  # fmt: skip
        print(f"\nLoad average (1 min) at the end: {os.getloadavg()[0]:.2f};"
              f" total time of this script: {time.perf_counter() - began:.0f} s")  # fmt: skip
    except KeyboardInterrupt:
        print("\nInterrupted: stopping the server and the proxy, removing the temp folder.", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        _servers.ignore_signals_for_cleanup()
        _servers.stop_children()
        for step in reversed(stack):
            try:
                step()
            except Exception as exc:  # clean-up goes on
                print(f"clean-up: {exc}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
