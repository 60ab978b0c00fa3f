"""How long the application waits while the Phase 2 migration runs: the guide's `psql -f` next
to `migration-wizard migrate` (target: the longest write and read stall under 150 ms at the
default settings, at 200k and 1M rows in attachments).

It starts its own Debian PostgreSQL 15 with TLS and a password (like Neon: TLS-only, the
password over scram-sha-256), loads migrations/001_baseline.sql and fills attachments (and
its parents: users, conversations, messages) with --rows rows by generate_series, then keeps
that database as a template. Every run starts from a fresh copy of it (CREATE DATABASE ...
TEMPLATE, not timed), and on it, over TLS:

- a writer (its own connection, autocommit: one INSERT or one UPDATE of a random row per
  transaction, alternating) and a reader (SELECT of a random row by id) run on a steady
  schedule (--interval-ms apart), recording each operation's latency;
- a report query (`SELECT pg_sleep(5), count(*) FROM attachments`, holding ACCESS SHARE on
  attachments for about 5 s) starts --report-lead seconds before the migration;
- the migration runs as a child process, timed from start to exit: the guide's way
  (`psql -X -v ON_ERROR_STOP=1 -f migrations/002_phase2_vision_api.sql`, Debian's psql 15)
  or the wizard's (`python -m wizard migrate --yes --skip-backup`, plus the extra runs asked
  for: `--lock-timeout 100` by default, and each --wizard-args);
- the writer and reader go on for a second after it ends; then the migration is checked
  (the four columns, image_analyses and its four indexes, all valid).

Printed per size and tool: total migration time, the longest write and read stall (the
slowest single operation), p99 write and read latency, the number of operations, and the
ratios to the guide. The server and the temp folder are removed at the end, also on Ctrl+C.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import _servers
import pglast
import psycopg
from _servers import DEBIAN_BIN, PHASE2, Debian15, Redactor
from app_load import Report, Worker, p99, parents, wait_until_active
from psycopg import sql

STALL_TARGET_MS = 150.0
TEMPLATE = "stalls_{rows}"
RUN_DB = "stalls_run"
DEFAULT_SIZES = (200_000, 1_000_000)
COLUMNS = ("storage_key", "public_url", "vision_analysis", "analyzed_at")
INDEXES = (
    "idx_attachments_storage_key",
    "idx_attachments_conversation_id",
    "idx_image_analyses_attachment_id",
    "idx_image_analyses_agent_type",
)
# Written into postgresql.conf: no checkpoint in the middle of filling, and lock waits in the log.
SERVER_SETTINGS = "max_wal_size = 4GB\nlog_lock_waits = on\n"


# ---------------------------------------------------------------------------------------------
# The database: the baseline schema, attachments with --rows rows and their parents
# ---------------------------------------------------------------------------------------------

# Ids are md5 of a letter and a number, so the writer and the reader can name existing rows.
# The rows are consistent by construction: the foreign-key triggers are skipped while filling
# (session_replication_role = replica), which makes 1M rows several times faster.
FILL = """
SET session_replication_role = replica;
INSERT INTO users (id, email, display_name, password_hash)
SELECT md5('u' || g)::uuid, 'user' || g || '@example.org', 'User ' || g, md5('pw' || g)
FROM generate_series(1, %(users)s::int) g;
INSERT INTO conversations (id, user_id, title, created_at, updated_at)
SELECT md5('c' || g)::uuid, md5('u' || (1 + g %% %(users)s::int))::uuid, 'Conversation ' || g,
       now() - (g %% 365) * interval '1 day', now() - (g %% 30) * interval '1 day'
FROM generate_series(1, %(conversations)s::int) g;
INSERT INTO messages (id, conversation_id, role, content, token_count, created_at)
SELECT md5('m' || g)::uuid, md5('c' || (1 + g %% %(conversations)s::int))::uuid,
       CASE WHEN g %% 2 = 0 THEN 'user' ELSE 'assistant' END, 'Please look at the screenshot ' || g, 8,
       now() - (g %% 365) * interval '1 day'
FROM generate_series(1, %(messages)s::int) g;
INSERT INTO attachments (id, conversation_id, message_id, filename, mime_type, size, url, uploaded_at)
SELECT md5('a' || g)::uuid, md5('c' || (1 + g %% %(conversations)s::int))::uuid,
       md5('m' || (1 + g %% %(messages)s::int))::uuid, f.name,
       CASE WHEN f.name LIKE '%%.pdf' THEN 'application/pdf' ELSE 'image/' || split_part(f.name, '.', 2) END,
       1000 + (g::bigint * 7919) %% 5000000,
       'https://files.example.org/uploads/' || md5('x' || g) || '/' || f.name,
       now() - (g %% 8760) * interval '1 hour'
FROM generate_series(1, %(rows)s::int) g,
     LATERAL (SELECT (ARRAY['Screenshot ', 'IMG_', 'scan-', 'mockup_v'])[1 + g %% 4] || g
                     || (ARRAY['.png', '.jpg', '.pdf', '.webp'])[1 + (g / 4) %% 4] AS name) f;
SET session_replication_role = DEFAULT
"""


def make_template(server: Debian15, rows: int) -> tuple[str, float]:
    """The filled database, kept as a template; returns its name and its size in MB."""
    name = TEMPLATE.format(rows=rows)
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(server.url(name), autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.execute(_servers.BASELINE.read_text(encoding="utf-8"))  # no parameters: one simple query
        with conn.transaction():
            for statement in pglast.split(FILL, with_parser=False):
                conn.execute(statement, parents(rows))
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert size is not None
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute("CHECKPOINT")
    return name, int(size[0]) / 1024 / 1024


def fresh_copy(server: Debian15, template: str) -> None:
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(RUN_DB)))
        # FILE_COPY: a plain copy of the files (WAL_LOG, 15's default, writes the whole copy to the WAL)
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(RUN_DB), sql.Identifier(template)
            )
        )
        admin.execute("CHECKPOINT")


def drop_copy(server: Debian15) -> None:
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(RUN_DB)))


def applied(url: str) -> str:
    """'yes' if the Phase 2 objects are all there (indexes valid), else what is missing."""
    with psycopg.connect(url, autocommit=True) as conn:
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = 'attachments'"
        ).fetchall()}  # fmt: skip
        table = conn.execute("SELECT to_regclass('public.image_analyses') IS NOT NULL").fetchone()
        valid = {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indisvalid AND c.relname = ANY(%s)", (list(INDEXES),)
        ).fetchall()}  # fmt: skip
    lacking = [c for c in COLUMNS if c not in columns]
    lacking += [] if table and table[0] else ["image_analyses"]
    lacking += [i for i in INDEXES if i not in valid]
    return "yes" if not lacking else f"NO ({len(lacking)} of 9 missing: {', '.join(lacking)})"


# ---------------------------------------------------------------------------------------------
# One run and its figures
# ---------------------------------------------------------------------------------------------


@dataclass
class Tool:
    label: str
    command: list[str]
    env: dict[str, str]


@dataclass
class Result:
    total: float
    write_stall: float
    read_stall: float
    write_p99: float
    read_p99: float
    write_ops: int
    read_ops: int
    exit_status: int
    applied: str


def run_once(
    server: Debian15, template: str, rows: int, tool: Tool, args: argparse.Namespace, work: Path, redact: Redactor
) -> Result:
    fresh_copy(server, template)
    url = server.url(RUN_DB)
    interval = args.interval_ms / 1000
    stop = threading.Event()
    workers = [Worker(kind, url, rows, interval, stop) for kind in ("write", "read")]
    report = Report(url, args.report_seconds)
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    report_thread = threading.Thread(target=report.run, daemon=True)
    try:
        for thread in threads:
            thread.start()
        for worker in workers:
            worker.ready.wait(30)
            if worker.errors:
                raise RuntimeError(f"the {worker.kind}r could not start: {worker.errors[0]}")
        time.sleep(args.warm_up)  # the steady load settles (and warms the cache) before anything else
        report_thread.start()
        wait_until_active(url, "bench-report")
        time.sleep(max(0.0, report.started + args.report_lead - time.perf_counter()))
        finished = _servers.run_timed(tool.command, env=tool.env)
        time.sleep(1.0)  # the load goes on after the migration ends: what it left behind shows too
    finally:
        stop.set()
        for thread in [*threads, report_thread]:
            if thread.is_alive():
                thread.join(30)
    (work / f"{tool.label.replace(' ', '_')}-{rows}.log").write_text(redact(finished.output))
    errors = [f"{w.kind}r: {e}" for w in workers for e in w.errors[:3]] + ([report.error] if report.error else [])
    if errors:
        print("    errors during the run: " + "; ".join(redact(e) for e in errors), flush=True)
    if finished.returncode:
        tail = "\n      ".join(redact(finished.output).strip().splitlines()[-8:])
        print(f"    {tool.label} exited with status {finished.returncode}:\n      {tail}", flush=True)
    window = report.started  # from the report query's start to the end of the load
    writes = [op for op in workers[0].ops if op[0] >= window]
    reads = [op for op in workers[1].ops if op[0] >= window]
    result = Result(
        total=finished.seconds,
        write_stall=max((s for _, s in writes), default=float("nan")),
        read_stall=max((s for _, s in reads), default=float("nan")),
        write_p99=p99(writes, interval),
        read_p99=p99(reads, interval),
        write_ops=len(writes),
        read_ops=len(reads),
        exit_status=finished.returncode,
        applied=applied(url),
    )
    drop_copy(server)
    return result


def median_result(results: list[Result]) -> Result:
    def med(name: str) -> float:
        return float(statistics.median(getattr(r, name) for r in results))

    return Result(
        total=med("total"), write_stall=med("write_stall"), read_stall=med("read_stall"),
        write_p99=med("write_p99"), read_p99=med("read_p99"), write_ops=int(med("write_ops")),
        read_ops=int(med("read_ops")), exit_status=max(r.exit_status for r in results),
        applied=next((r.applied for r in results if r.applied != "yes"), "yes"),
    )  # fmt: skip


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def table(rows: int, size_mb: float, results: dict[str, Result], repeat: int) -> None:
    guide = results.get("guide (psql -f)")
    print(f"\n{rows} rows in attachments ({size_mb:.0f} MB database)"
          + (f", median of {repeat} runs" if repeat > 1 else "") + ":")  # fmt: skip
    header = (
        "tool", "total", "write stall", "read stall", "p99 write", "p99 read", "ops w/r", "exit", "applied",
        "x guide: total / w stall / r stall",
    )  # fmt: skip
    lines = [header]
    for label, r in results.items():
        ratio = "-"
        if guide is not None and label != "guide (psql -f)":
            ratio = (f"{r.total / guide.total:.2f} / {r.write_stall / guide.write_stall:.2f}"
                     f" / {r.read_stall / guide.read_stall:.2f}")  # fmt: skip
        lines.append((
            label, f"{r.total:.2f} s", ms(r.write_stall), ms(r.read_stall), ms(r.write_p99), ms(r.read_p99),
            f"{r.write_ops}/{r.read_ops}", str(r.exit_status), r.applied.split(" (")[0], ratio,
        ))  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        pairs = enumerate(zip(line, widths, strict=True))
        cells = (c.ljust(w) if i in (0, 8, 9) else c.rjust(w) for i, (c, w) in pairs)
        print(("  " + "  ".join(cells)).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))
    for label, r in results.items():
        if label == "wizard (default)":
            met = max(r.write_stall, r.read_stall) * 1000 < STALL_TARGET_MS
            if r.exit_status or r.applied != "yes":
                verdict = "not measured (the migration failed)"
            else:
                verdict = "met" if met else "NOT met"
            print(f"  target: longest write and read stall < {STALL_TARGET_MS:.0f} ms at the default settings:"
                  f" {verdict}")  # fmt: skip


# ---------------------------------------------------------------------------------------------


def tools(server: Debian15, args: argparse.Namespace, work: Path) -> list[Tool]:
    url = server.url(RUN_DB)
    psql = [str(DEBIAN_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(PHASE2), "-d",
            server.url(RUN_DB, with_password=False)]  # fmt: skip
    # The password reaches psql and the wizard through the environment, never a command line (ps).
    found = [Tool("guide (psql -f)", psql, _servers.child_env(PGPASSWORD=server.password))]
    wizard = [sys.executable, "-m", "wizard", "migrate", "--yes", "--skip-backup"]
    env = _servers.child_env(work / "xdg-data", DATABASE_URL=url)
    found.append(Tool("wizard (default)", wizard, env))
    extra = [] if args.no_lock_timeout_run else [["--lock-timeout", "100"]]
    extra += [shlex.split(more) for more in args.wizard_args]
    found += [Tool("wizard " + " ".join(more), [*wizard, *more], env) for more in extra]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, action="append",
                        help="rows in attachments; repeat for several sizes (default: 200000 and 1000000)")  # fmt: skip
    parser.add_argument("--wizard-args", action="append", default=[], metavar="ARGS",
                        help="one more wizard run with these extra migrate flags, e.g. '--lock-timeout 50'"
                             " (repeatable)")  # fmt: skip
    parser.add_argument("--no-lock-timeout-run", action="store_true",
                        help="skip the extra wizard run with --lock-timeout 100")  # fmt: skip
    parser.add_argument("--only-wizard", action="store_true", help="skip the guide's psql -f (no ratios then)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each tool per size (medians printed) (default %(default)s)"
    )
    parser.add_argument(
        "--interval-ms", type=float, default=10, help="the writer's and reader's schedule (default %(default)s)"
    )
    parser.add_argument(
        "--report-seconds", type=float, default=5, help="pg_sleep of the open report query (default %(default)s)"
    )
    parser.add_argument("--report-lead", type=float, default=0.5,
                        help="seconds the report query runs before the migration (default %(default)s)")  # fmt: skip
    parser.add_argument(
        "--warm-up", type=float, default=1.0, help="seconds of load before the report query (default %(default)s)"
    )
    parser.add_argument("--keep-logs", action="store_true", help="copy each migration's output to ./lock_stalls-logs")
    args = parser.parse_args()
    sizes = args.rows or list(DEFAULT_SIZES)

    _servers.check_debian_15()
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="lock-stalls-"))
    server: Debian15 | None = None
    _servers.on_sigterm_interrupt()
    try:
        print("Starting Debian's PostgreSQL 15 (TLS only, scram-sha-256) ...", flush=True)
        server = _servers.start_debian_15(work, SERVER_SETTINGS)
        redact = Redactor(server.password)
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            tls = conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        print(f"  PostgreSQL {version[0] if version else '?'}, connections over TLS: "
              f"{'yes (' + str(tls[1]) + ')' if tls and tls[0] else 'NO'}; the wizard measured:"
              f" {_servers.wizard_location()}")  # fmt: skip
        print(f"  {os.cpu_count()} CPUs; load average (1 min): {os.getloadavg()[0]:.2f}", flush=True)
        chosen = tools(server, args, work)
        if args.only_wizard:
            chosen = chosen[1:]
        for rows in sizes:
            t = time.perf_counter()
            template, size_mb = make_template(server, rows)
            print(f"\nFilled {rows} attachments ({size_mb:.0f} MB) in {time.perf_counter() - t:.1f} s", flush=True)
            runs: dict[str, list[Result]] = {tool.label: [] for tool in chosen}
            for i in range(args.repeat):
                for tool in chosen:
                    r = run_once(server, template, rows, tool, args, work, redact)
                    runs[tool.label].append(r)
                    print(f"  run {i + 1}, {tool.label}: {r.total:.2f} s, stalls write {ms(r.write_stall)}"
                          f" / read {ms(r.read_stall)}, p99 {ms(r.write_p99)} / {ms(r.read_p99)},"
                          f" exit {r.exit_status}, applied: {r.applied}", flush=True)  # fmt: skip
            table(rows, size_mb, {label: median_result(rs) for label, rs in runs.items()}, args.repeat)
            with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(template)))
        if args.keep_logs:
            logs = Path("lock_stalls-logs")
            logs.mkdir(exist_ok=True)
            for log in work.glob("*.log"):
                shutil.copy(log, logs / log.name)
            print(f"\nThe migrations' output is in {logs.resolve()}")
        print(f"\nLoad average (1 min) at the end: {os.getloadavg()[0]:.2f};"
              f" total time of this script: {time.perf_counter() - began:.0f} s")  # fmt: skip
    except KeyboardInterrupt:
        print("\nInterrupted: stopping the server and removing the temp folder.", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        _servers.ignore_signals_for_cleanup()
        _servers.stop_children()
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
