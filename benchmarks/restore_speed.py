"""Time and peak memory of `migration-wizard restore` next to pg_restore (target: within 1.2x
of pg_restore's time on the same file, and the wizard's peak memory under 150 MB whatever
the database's size).

It starts its own embedded PostgreSQL 18 in a temp folder, loads the application's baseline
schema and fills it with generated rows (most of the volume in messages, attachments and
kb_entries, with believable text widths) until pg_database_size reaches --size-mb. It takes
one custom archive (pg_dump -Fc) and one plain dump (pg_dump -Fp) with the bundled pg_dump
18, then for each file alternates:

- the reference, on the same server, database and file: for the archive,
  `pg_restore --clean --if-exists --single-transaction`; for the plain dump (which
  pg_restore cannot read), `psql --single-transaction` with `DROP SCHEMA public CASCADE;
  CREATE SCHEMA public` run first in the same transaction (the drop that --clean does);
- the wizard: `python -m wizard restore FILE --yes --database-url URL` as a child process,
  from start to exit (so its start-up, plan, row counts and verify are counted too).

Every run starts from the same state: the database holding the backup's content (what the
previous run left), after a CHECKPOINT. The first pair for each file is a warm-up (file in
the page cache, server warmed) and is discarded. Wall-clock times are medians; memory is
that of the wizard's own process (polled every 20 ms, and the kernel's high-water mark
VmHWM), with its child processes (pg_restore turning an archive into SQL) shown apart.
The server and the temp folder are removed at the end, also on Ctrl+C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
from sample_database import MB, database_mb, fill, row_counts

from wizard.core.practice import embedded_server

RATIO_TARGET = 1.2
RSS_TARGET_MB = 150.0
POLL = 0.02
DATABASE = "bench"

# ---------------------------------------------------------------------------------------------
# Running one restore: wall-clock time, and the memory of the process and of its children
# ---------------------------------------------------------------------------------------------

_running: subprocess.Popen[bytes] | None = None  # the child being measured, killed on Ctrl+C


@dataclass
class Run:
    seconds: float
    peak_mb: float  # the process itself, highest of the 20 ms samples
    hwm_mb: float  # the process itself, the kernel's high-water mark (VmHWM) at the last sample
    children_mb: float  # its children (pg_restore ...) together, highest of the samples
    children_hwm_mb: float  # the largest VmHWM of any one child
    cpu: float  # CPU seconds (user + system) of the process itself, at the last sample
    cpu_children: float  # CPU seconds of the children it waited for (from wait4, minus its own)


def _hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(command: list[str], log: Path) -> Run:
    """Run `command`, polling its memory every 20 ms; raise if it fails."""
    global _running
    with log.open("wb") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _running = child
        process = psutil.Process(child.pid)
        name = process.name()
        peak = hwm = children = 0
        cpu = 0.0
        children_hwm: dict[int, int] = {}
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                seconds = time.perf_counter() - started
                child.returncode = os.waitstatus_to_exitcode(status)
                break
            try:
                peak = max(peak, process.memory_info().rss)
                times = process.cpu_times()
                cpu = times.user + times.system
                hwm = max(hwm, _hwm_kb(child.pid) * 1024)
                together = 0
                for kid in process.children(recursive=True):
                    try:
                        if kid.name() == name:
                            continue  # forked but not yet exec'd: its RSS is still the parent's pages
                        together += kid.memory_info().rss
                        children_hwm[kid.pid] = max(children_hwm.get(kid.pid, 0), _hwm_kb(kid.pid) * 1024)
                    except psutil.Error:
                        pass
                children = max(children, together)
            except psutil.Error:
                pass
            time.sleep(POLL)
        _running = None
    text = log.read_text(errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"{command[0]} ... failed (exit status {child.returncode}):\n{text[-3000:]}")
    total_cpu = usage.ru_utime + usage.ru_stime  # the process and every child it waited for
    kids_hwm = max(children_hwm.values(), default=0) / MB
    return Run(seconds, peak / MB, hwm / MB, children / MB, kids_hwm, cpu, max(0.0, total_cpu - cpu))


# ---------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------


def checkpoint(uri: str) -> None:
    """The same starting state for every run: no dirty pages or WAL left over from the last one."""
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def check_rows(uri: str, expected: dict[str, int], who: str) -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        found = row_counts(conn)
    if found != expected:
        differ = sorted(t for t in set(found) | set(expected) if found.get(t) != expected.get(t))
        raise SystemExit(f"after {who}, the rows differ from the generated database in: {', '.join(differ)}")


def compare(
    label: str, reference: tuple[str, list[str]], wizard: list[str], uri: str, runs: int, work: Path,
    expected: dict[str, int],
) -> dict[str, float]:  # fmt: skip
    name, command = reference
    print(f"\n{label}")
    print(f"  reference: {name}")
    print("  wizard:    python -m wizard restore FILE --yes --database-url URL")

    def one(which: str, i: int) -> Run:
        checkpoint(uri)
        run = measure(command if which == "ref" else wizard, work / f"{which}-{i}.log")
        check_rows(uri, expected, name if which == "ref" else "the wizard")
        return run

    ref_runs: list[Run] = []
    wiz_runs: list[Run] = []
    for i in range(runs + 1):
        # alternate which goes first, so neither always follows the other
        order = ("ref", "wiz") if i % 2 == 0 else ("wiz", "ref")
        got = {which: one(which, i) for which in order}
        r, w = got["ref"], got["wiz"]
        tag = "warm-up (discarded)" if i == 0 else f"run {i}"
        print(
            f"  {tag:>19}: reference {r.seconds:6.2f} s | wizard {w.seconds:6.2f} s,"
            f" peak RSS {w.peak_mb:5.1f} MB (VmHWM {w.hwm_mb:5.1f} MB), its children {w.children_mb:5.1f} MB;"
            f" CPU: reference {r.cpu + r.cpu_children:4.1f} s, wizard {w.cpu:4.1f} s + its children"
            f" {w.cpu_children:4.1f} s",
            flush=True,
        )
        if i:
            ref_runs.append(r)
            wiz_runs.append(w)
    ref = statistics.median(r.seconds for r in ref_runs)
    wiz = statistics.median(w.seconds for w in wiz_runs)
    ratio = wiz / ref
    # each pair ran back to back, under the same load: their ratios are steadier on a busy machine
    pairs = sorted(w.seconds / r.seconds for r, w in zip(ref_runs, wiz_runs, strict=True))
    best = min(w.seconds for w in wiz_runs) / min(r.seconds for r in ref_runs)
    rss = max(max(w.peak_mb, w.hwm_mb) for w in wiz_runs)
    kids = max(max(w.children_mb, w.children_hwm_mb) for w in wiz_runs)
    ref_rss = max(max(r.peak_mb, r.hwm_mb) for r in ref_runs)
    print(f"  median of {runs}: reference {ref:.2f} s, wizard {wiz:.2f} s -> ratio {ratio:.2f}"
          f" (target <= {RATIO_TARGET}: {'met' if ratio <= RATIO_TARGET else 'NOT met'});"
          f" within each pair: median {statistics.median(pairs):.2f}, {pairs[0]:.2f} to {pairs[-1]:.2f};"
          f" best of each: {best:.2f}")  # fmt: skip
    print(f"  wizard's own peak RSS {rss:.1f} MB (target < {RSS_TARGET_MB:.0f} MB:"
          f" {'met' if rss < RSS_TARGET_MB else 'NOT met'}); its children (pg_restore) {kids:.1f} MB;"
          f" the reference's peak RSS {ref_rss:.1f} MB")  # fmt: skip
    return {"ref": ref, "wiz": wiz, "ratio": ratio, "pair": statistics.median(pairs), "rss": rss, "kids": kids}


def profile(wizard: list[str], uri: str, work: Path, label: str) -> None:
    """One extra wizard run under cProfile (not counted in the figures): where its time goes."""
    import pstats

    out = work / "wizard.prof"
    checkpoint(uri)
    command = [wizard[0], "-m", "cProfile", "-o", str(out), *wizard[1:]]
    run = measure(command, work / "profile.log")
    print(f"\n{label} under cProfile ({run.seconds:.2f} s, slower than unprofiled): by cumulative, then own time")
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats(r"wizard/", 12)
    stats.sort_stats("tottime").print_stats(10)


def _interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=188, help="database size to generate (pg_database_size)")
    parser.add_argument("--runs", type=int, default=3, help="measured runs of each, after one warm-up")
    parser.add_argument("--profile", action="store_true", help="also one wizard run per file under cProfile")
    args = parser.parse_args()

    began = time.perf_counter()
    # An installed wizard has its bytecode compiled (pip does it); with PYTHONDONTWRITEBYTECODE a
    # checkout's would be compiled again on every start of the measured child.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    work = Path(tempfile.mkdtemp(prefix="restore-bench-"))
    server = None
    # Ctrl+C and kill end the same way: the measured child is stopped, the server and folder removed.
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        server = embedded_server(work / "pgdata", 18, cleanup_mode="delete")
        bin_dir = Path(server.bin_path)
        with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        uri = server.get_uri(DATABASE)
        version = subprocess.run([bin_dir / "pg_dump", "--version"], capture_output=True, text=True).stdout.split()[-1]

        print(f"Generating a database of about {args.size_mb:.0f} MB on an embedded PostgreSQL 18 ...", flush=True)
        t = time.perf_counter()
        expected = fill(uri, args.size_mb)
        print(f"  {database_mb(uri):.1f} MB (pg_database_size) in {time.perf_counter() - t:.1f} s; rows: "
              + ", ".join(f"{k.split('.')[-1]} {v}" for k, v in expected.items() if v >= 1000))  # fmt: skip

        custom, plain = work / "bench.dump", work / "bench.sql"
        for path, fmt in ((custom, "custom"), (plain, "plain")):
            t = time.perf_counter()
            subprocess.run([bin_dir / "pg_dump", f"--format={fmt}", "--file", path, uri], check=True)
            print(f"  {fmt} dump by pg_dump {version}: {path.stat().st_size / MB:.1f} MB"
                  f" in {time.perf_counter() - t:.1f} s")  # fmt: skip

        load = os.getloadavg()[0]
        print(f"  {os.cpu_count()} CPUs; load average (1 min) before the runs: {load:.2f}")
        wizard = [sys.executable, "-m", "wizard", "restore"]
        where = subprocess.run(
            [sys.executable, "-c", "import wizard; print(wizard.__version__, wizard.__file__)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        print(
            f"  the wizard measured: {where[0]} at {Path(where[1]).parent.parent} (as `python -m wizard` finds it here)"
        )
        url = ["--yes", "--database-url", uri]
        custom_mb, plain_mb = custom.stat().st_size / MB, plain.stat().st_size / MB
        pg_restore = [str(bin_dir / "pg_restore"), "--clean", "--if-exists", "--single-transaction", "-d", uri]
        psql = [str(bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", uri]
        # what pg_restore --clean does for an archive, psql does first for the plain file, in the same transaction
        clean = ["-c", "DROP SCHEMA public CASCADE", "-c", "CREATE SCHEMA public AUTHORIZATION pg_database_owner"]
        results = {
            "custom": compare(
                f"Custom archive ({custom_mb:.1f} MB)",
                (f"pg_restore {version} --clean --if-exists --single-transaction", [*pg_restore, str(custom)]),
                [*wizard, str(custom), *url],
                uri,
                args.runs,
                work,
                expected,
            ),
            "plain": compare(
                f"Plain dump ({plain_mb:.1f} MB; pg_restore cannot read it: the reference is psql)",
                (
                    f"psql {version} -X -q -v ON_ERROR_STOP=1 --single-transaction"
                    " (DROP SCHEMA public CASCADE; CREATE SCHEMA public, then the file)",
                    [*psql, *clean, "-f", str(plain)],
                ),
                [*wizard, str(plain), *url],
                uri,
                args.runs,
                work,
                expected,
            ),
        }
        load = os.getloadavg()[0]
        print(f"\nLoad average (1 min) after the runs: {load:.2f} (other work on the machine skews the times)")
        if args.profile:
            profile([*wizard, str(custom), *url], uri, work, "The wizard on the custom archive")
            profile([*wizard, str(plain), *url], uri, work, "The wizard on the plain dump")

        print(f"\nSummary ({database_mb(uri):.0f} MB database, median of {args.runs} runs after a warm-up):")
        for fmt, r in results.items():
            print(f"  {fmt:>6}: wizard {r['wiz']:.2f} s vs {r['ref']:.2f} s = {r['ratio']:.2f}x"
                  f" (pairs {r['pair']:.2f}x)"
                  f" ({'met' if r['ratio'] <= RATIO_TARGET else 'NOT met'}: <= {RATIO_TARGET}x);"
                  f" wizard peak RSS {r['rss']:.1f} MB ({'met' if r['rss'] < RSS_TARGET_MB else 'NOT met'}:"
                  f" < {RSS_TARGET_MB:.0f} MB), pg_restore child {r['kids']:.1f} MB")  # fmt: skip
        print(f"Total time of this script: {time.perf_counter() - began:.0f} s")
    except KeyboardInterrupt:
        print("\nInterrupted: stopping the server and removing the temp folder.", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not cut the clean-up short
        if _running is not None and _running.returncode is None:
            _running.kill()
            _running.wait()
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
