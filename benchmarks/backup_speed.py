"""Time and peak memory of `migration-wizard backup` next to pg_dump -Fc on the same database
(target: within 1.05x of pg_dump's time).

It starts its own embedded PostgreSQL 18 in a temp folder and fills it with restore_speed.py's
generator (the application's baseline schema, most of the volume in messages, attachments
and kb_entries) until pg_database_size reaches --size-mb. Then it alternates, on the same
server and database:

- the reference: `pg_dump -Fc --file FILE URL`, the bundled pg_dump 18 (the one the wizard
  picks for an 18 server), at pg_dump's default compression (gzip level 6);
- the same work: `pg_dump -Fc -Z1`, the level the wizard asks for (backup.CUSTOM_COMPRESSION),
  to show what the wizard's own steps cost apart from the level it chose;
- the wizard: `python -m wizard backup --output DIR --database-url URL` as a child process,
  from start to exit (so its start-up, its checks, pg_dump --verbose, and reading the
  finished archive back to verify it are all counted).

One warm-up pair is discarded, then --runs pairs, the order alternating, each after a
CHECKPOINT and with the previous run's file deleted. Wall-clock times are medians; memory is
the wizard's own process (polled every 20 ms, and the kernel's high-water mark VmHWM), its
pg_dump child apart. The server and the temp folder are removed at the end, also on Ctrl+C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _servers
import psycopg
import restore_speed
from restore_speed import Run, checkpoint
from sample_database import MB, database_mb, fill

from wizard.core.backup import CUSTOM_COMPRESSION

RATIO_TARGET = 1.05
DATABASE = "bench"


def archive_of(folder: Path) -> Path:
    """The one archive the run wrote in `folder`."""
    found = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    if len(found) != 1:
        raise SystemExit(f"expected one backup file in {folder}, found {len(found)}")
    return found[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size-mb", type=float, default=188, help="database size to generate (pg_database_size) (default %(default)s)"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="measured pairs, after one warm-up pair (default %(default)s)"
    )
    args = parser.parse_args()

    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="backup-bench-"))
    server = None
    _servers.on_sigterm_interrupt()
    try:
        server = _servers.embedded_18(work)
        bin_dir = Path(server.bin_path)
        with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        uri = server.get_uri(DATABASE)
        version = subprocess.run([bin_dir / "pg_dump", "--version"], capture_output=True, text=True).stdout.split()[-1]

        print(f"Generating a database of about {args.size_mb:.0f} MB on an embedded PostgreSQL 18 ...", flush=True)
        t = time.perf_counter()
        fill(uri, args.size_mb)
        size = database_mb(uri)
        print(f"  {size:.1f} MB (pg_database_size) in {time.perf_counter() - t:.1f} s", flush=True)
        print(f"  {os.cpu_count()} CPUs; load average (1 min) before the runs: {os.getloadavg()[0]:.2f}")
        print(f"  the wizard measured: {_servers.wizard_location()} (as `python -m wizard` finds it here)")
        # The wizard's reports go to the temp folder, not the user's own data folder.
        os.environ["XDG_DATA_HOME"] = str(work / "xdg-data")
        os.environ.pop("DATABASE_URL", None)
        # An installed wizard has its bytecode compiled (pip does it); with PYTHONDONTWRITEBYTECODE
        # a checkout's would be compiled again on every start (see _servers.child_env).
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

        out = work / "out"
        reference = [str(bin_dir / "pg_dump"), "-Fc", "--file", str(out / "reference.dump"), uri]
        level = f"-Z{CUSTOM_COMPRESSION}"
        same = [str(bin_dir / "pg_dump"), "-Fc", level, "--file", str(out / "same.dump"), uri]
        wizard = [sys.executable, "-m", "wizard", "backup", "--output", str(out), "--database-url", uri]
        print(f"\n  reference: pg_dump {version} -Fc --file FILE URL (its default level, gzip 6)")
        print(f"  same work: pg_dump {version} -Fc {level} --file FILE URL (the wizard's level)")
        print("  wizard:    python -m wizard backup --output DIR --database-url URL")

        def one(which: str, i: int) -> tuple[Run, int]:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            checkpoint(uri)
            command = {"ref": reference, "same": same, "wiz": wizard}[which]
            run = restore_speed.measure(command, work / f"{which}-{i}.log")
            return run, archive_of(out).stat().st_size

        ref_runs: list[Run] = []
        wiz_runs: list[Run] = []
        same_runs: list[Run] = []
        sizes: dict[str, int] = {}
        for i in range(args.runs + 1):
            order = ("ref", "same", "wiz") if i % 2 == 0 else ("wiz", "same", "ref")
            got = {}
            for which in order:
                got[which], sizes[which] = one(which, i)
            r, same_run, w = got["ref"], got["same"], got["wiz"]
            tag = "warm-up (discarded)" if i == 0 else f"run {i}"
            print(
                f"  {tag:>19}: pg_dump {r.seconds:6.2f} s, {level} {same_run.seconds:6.2f} s |"
                f" wizard {w.seconds:6.2f} s ({w.seconds / r.seconds:.2f}x;"
                f" {w.seconds / same_run.seconds:.2f}x {level}),"
                f" peak RSS {w.peak_mb:5.1f} MB (VmHWM {w.hwm_mb:5.1f} MB), its pg_dump {w.children_mb:5.1f} MB;"
                f" CPU: pg_dump {r.cpu + r.cpu_children:4.1f} s, wizard {w.cpu:4.1f} s + its children"
                f" {w.cpu_children:4.1f} s",
                flush=True,
            )
            if i:
                ref_runs.append(r)
                wiz_runs.append(w)
                same_runs.append(same_run)
        ref = statistics.median(r.seconds for r in ref_runs)
        wiz = statistics.median(w.seconds for w in wiz_runs)
        ratio = wiz / ref
        same_median = statistics.median(r.seconds for r in same_runs)
        pairs = sorted(w.seconds / r.seconds for r, w in zip(ref_runs, wiz_runs, strict=True))
        rss = max(max(w.peak_mb, w.hwm_mb) for w in wiz_runs)
        kids = max(max(w.children_mb, w.children_hwm_mb) for w in wiz_runs)
        print(f"\nLoad average (1 min) after the runs: {os.getloadavg()[0]:.2f} (other work skews the times)")
        print(f"\nSummary ({size:.0f} MB database; archives: pg_dump {sizes['ref'] / MB:.1f} MB,"
              f" {level} {sizes['same'] / MB:.1f} MB, wizard {sizes['wiz'] / MB:.1f} MB;"
              f" median of {args.runs} rounds after a warm-up):")  # fmt: skip
        print(f"  pg_dump -Fc {ref:.2f} s, wizard {wiz:.2f} s -> {ratio:.2f}x"
              f" ({'met' if ratio <= RATIO_TARGET else 'NOT met'}: <= {RATIO_TARGET}x);"
              f" within each pair: median {statistics.median(pairs):.2f},"
              f" {pairs[0]:.2f} to {pairs[-1]:.2f}")  # fmt: skip
        print(f"  at the same level: pg_dump -Fc {level} {same_median:.2f} s -> the wizard's own steps"
              f" {wiz / same_median:.2f}x ({wiz - same_median:+.2f} s)")  # fmt: skip
        print(f"  wizard peak RSS {rss:.1f} MB, its pg_dump {kids:.1f} MB")
        print(f"Total time of this script: {time.perf_counter() - began:.0f} s")
    except KeyboardInterrupt:
        print("\nInterrupted: stopping the server and removing the temp folder.", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        _servers.ignore_signals_for_cleanup()
        running = restore_speed._running
        if running is not None and running.returncode is None:
            running.kill()
            running.wait()
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
