"""The application's load in lock_stalls.py: a writer and a reader on attachments, each on a
steady schedule in its own connection, a long report query, and the p99 latency they saw. Row
ids are those the benchmark's fill gave (md5 of a letter and a number)."""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg


def row_id(letter: str, number: int) -> uuid.UUID:
    """The id the fill gave row `number` of a table: md5(letter || number)::uuid."""
    return uuid.UUID(hashlib.md5(f"{letter}{number}".encode()).hexdigest())


def parents(rows: int) -> dict[str, int]:
    return {"rows": rows, "users": 1000, "conversations": max(100, rows // 20), "messages": max(100, rows // 2)}


@dataclass
class Worker:
    """One connection doing one operation every `interval` seconds, timing each."""

    kind: str  # "write" or "read"
    url: str
    rows: int
    interval: float
    stop: threading.Event
    ops: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds), perf_counter
    errors: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        rng = random.Random(self.kind)
        try:
            with psycopg.connect(self.url, autocommit=True, application_name=f"bench-{self.kind}") as conn:
                conn.execute("SELECT 1")
                self.ready.set()
                n = 0
                tick = time.perf_counter()
                while not self.stop.is_set():
                    n += 1
                    started = time.perf_counter()
                    try:
                        self.one(conn, rng, n)
                    except psycopg.Error as exc:
                        self.errors.append(str(exc).strip().splitlines()[0])
                    self.ops.append((started, time.perf_counter() - started))
                    # a steady schedule: the next one at the next tick, at once if it is already late
                    tick = max(tick + self.interval, time.perf_counter())
                    self.stop.wait(max(0.0, tick - time.perf_counter()))
        except psycopg.Error as exc:
            self.errors.append(str(exc).strip().splitlines()[0])
            self.ready.set()

    def one(self, conn: psycopg.Connection[Any], rng: random.Random, n: int) -> None:
        target = row_id("a", rng.randint(1, self.rows))
        if self.kind == "read":
            # named columns: `SELECT *` in a prepared statement fails once the table has new columns
            # ("cached plan must not change result type"), which is the application's problem, not a stall
            conn.execute("SELECT id, filename, size, url FROM attachments WHERE id = %s", (target,)).fetchall()
        elif n % 2:
            conversation = row_id("c", rng.randint(1, parents(self.rows)["conversations"]))
            conn.execute(
                "INSERT INTO attachments (conversation_id, filename, mime_type, size, url)"
                " VALUES (%s, %s, 'image/png', %s, %s)",
                (conversation, f"upload-{n}.png", 1000 + n, f"https://files.example.org/new/{n}.png"),
            )
        else:
            conn.execute("UPDATE attachments SET size = size + 1 WHERE id = %s", (target,))


@dataclass
class Report:
    """A long read (ACCESS SHARE on attachments for about `seconds`) in its own connection."""

    url: str
    seconds: float
    started: float = 0.0
    ended: float = 0.0
    error: str = ""

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True, application_name="bench-report") as conn:
                self.started = time.perf_counter()
                conn.execute("SELECT pg_sleep(%s), count(*) FROM attachments", (self.seconds,)).fetchall()
                self.ended = time.perf_counter()
        except psycopg.Error as exc:
            self.error = str(exc).strip().splitlines()[0]


def wait_until_active(url: str, application_name: str, timeout: float = 10) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active'",
                (application_name,),
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.01)
    raise RuntimeError(f"the {application_name} query did not start within {timeout:.0f} s")


def p99(ops: list[tuple[float, float]], interval: float) -> float:
    """The 99th percentile of latency as the application sees it: an operation that took longer
    than the schedule's interval also delayed the ones due meanwhile (counted, each waiting for
    the rest of it), so a 4 s stall weighs like the 400 requests that would have queued."""
    samples: list[float] = []
    for _, seconds in ops:
        samples.append(seconds)
        late = seconds - interval
        while late > 0:
            samples.append(late)
            late -= interval
    if not samples:
        return float("nan")
    samples.sort()
    return samples[min(len(samples) - 1, int(0.99 * len(samples)))]
