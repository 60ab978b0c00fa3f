"""Counting what a connection says to its server, from libpq's own trace of the protocol.

A round trip is a time the client waits for the server: a simple Query, or a run of
extended-protocol messages ended by a Sync or a Flush (a pipeline's Sync and the Flush
psycopg sends right after it are one wait). The trace is written by libpq below TLS, so the
count is the same on an encrypted connection, and it does not depend on timing: what the
client sends, in which order, is decided by the code alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import pq

_WAITS = {"Sync", "Flush", "Query"}
_TEXT = re.compile(r'^\s*"(?:[^"]*)" "(.*)" \d+')  # Parse: statement name, then the query text


@dataclass
class Traffic:
    """What the client sent: its messages in order, the statements among them, the waits."""

    messages: list[tuple[str, str]] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        count, pending = 0, False
        for kind, _ in self.messages:
            if kind in _WAITS:
                if not pending or kind == "Query":
                    count += 1
                pending = True
            else:
                pending = False
        return count

    @property
    def statements(self) -> list[str]:
        found: list[str] = []
        for kind, rest in self.messages:
            if kind == "Query":
                found.append(rest.strip().strip('"'))
            elif kind == "Parse":
                match = _TEXT.match(rest)
                found.append(match.group(1) if match else rest)
        return found

    def count(self, word: str) -> int:
        """How many statements start with `word` (BEGIN, SAVEPOINT, RELEASE, ROLLBACK)."""
        return sum(s.lstrip().upper().startswith(word.upper()) for s in self.statements)


def parse_trace(text: str) -> Traffic:
    traffic = Traffic()
    for line in text.splitlines():
        parts = line.split("\t", 3)
        if len(parts) >= 3 and parts[0] == "F":
            traffic.messages.append((parts[2], parts[3] if len(parts) > 3 else ""))
    return traffic


@contextlib.contextmanager
def traced(conn: psycopg.Connection[Any]) -> Iterator[Traffic]:
    """Record what `conn` sends inside the block; the Traffic is filled in when it ends."""
    if sys.platform != "linux":
        pytest.skip("libpq's trace is read through psycopg on Linux only")
    traffic = Traffic()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace"
        with path.open("w") as handle:
            # libpq writes through a FILE* of its own (line-buffered) on a duplicate descriptor,
            # which psycopg never closes: closed here once libpq is done with it.
            duplicate = os.dup(handle.fileno())
            conn.pgconn.trace(duplicate)
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                yield traffic
            finally:
                conn.pgconn.untrace()
                os.close(duplicate)
        traffic.messages = parse_trace(path.read_text()).messages


# --- The same count for another process (the CLI): a TCP proxy that reads what clients send ---

_KINDS = {"Q": "Query", "P": "Parse", "B": "Bind", "D": "Describe", "E": "Execute", "S": "Sync", "H": "Flush"}
_UNTYPED_REQUESTS = {80877103, 80877104}  # SSLRequest, GSSENCRequest: the startup message follows


class _ClientStream:
    """Splits what one client sends into protocol messages (TCP may cut them anywhere)."""

    def __init__(self, traffic: Traffic) -> None:
        self.traffic = traffic
        self.buffer = b""
        self.started = False

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if not self.started:  # untyped: length, then a code
                if len(self.buffer) < 8:
                    return
                length = int.from_bytes(self.buffer[:4], "big")
                code = int.from_bytes(self.buffer[4:8], "big")
                if len(self.buffer) < length:
                    return
                self.buffer = self.buffer[length:]
                self.started = code not in _UNTYPED_REQUESTS
                continue
            if len(self.buffer) < 5:
                return
            kind = chr(self.buffer[0])
            length = int.from_bytes(self.buffer[1:5], "big")
            if len(self.buffer) < 1 + length:
                return
            body, self.buffer = self.buffer[5 : 1 + length], self.buffer[1 + length :]
            if kind in _KINDS:
                text = ""
                if kind == "Q":
                    text = body.split(b"\0", 1)[0].decode(errors="replace")
                elif kind == "P":
                    parts = body.split(b"\0", 2)
                    text = f'"{parts[0].decode()}" "{parts[1].decode(errors="replace")}" 0'
                self.traffic.messages.append((_KINDS[kind], text))


class CountingProxy:
    """127.0.0.1:port in front of a server's Unix socket: each client connection's Traffic."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.connections: list[Traffic] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def reset(self) -> None:
        self.connections = []

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.socket_path)
            traffic = Traffic()
            self.connections.append(traffic)
            stream = _ClientStream(traffic)
            threading.Thread(target=self._pump, args=(client, server, stream.feed), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, seen: Callable[[bytes], None] | None) -> None:
        try:
            while data := source.recv(65536):
                if seen is not None:
                    seen(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
