"""A connection opened in a thread of its own as soon as the target is known.

Over a slow link, connecting takes several round trips (TCP, TLS, the password exchange):
about 0.3 s at a 50 ms round trip. A headless command starts connecting right after it has
read its arguments, and loads what it needs meanwhile (its modules, the migrations), then
takes the connection (`wait`) where it would have opened one. Nothing is said or shown from
the thread: its error is explained, without the password, where it is taken, the same way as
connection.connect() explains it. A connection that is never taken is closed (`drop`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from wizard.core import connection
from wizard.core.connection import SLOW_CONNECT_AFTER, Target

Conn = psycopg.Connection[tuple[Any, ...]]


class Opening:
    def __init__(self, target: Target, *, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._started = time.monotonic()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._conn: Conn | None = None
        self._error: BaseException | None = None
        self._dropped = False
        threading.Thread(target=self._run, name="wizard-connect", daemon=True).start()

    def _run(self) -> None:
        try:
            conn = connection.open_raw(self.target, self.timeout)
        except BaseException as exc:  # taken to the caller's thread by wait()
            self._error = exc
        else:
            with self._lock:
                dropped = self._dropped
                if not dropped:
                    self._conn = conn
            if dropped:
                conn.close()
        finally:
            self._done.set()

    def wait(self, *, on_slow: Callable[[], None] | None = None, slow_after: float = SLOW_CONNECT_AFTER) -> Conn:
        """The connection, once open (raises ConnectError, explained, if it could not be).
        `on_slow` is called once if it is still opening `slow_after` seconds after it began."""
        while not self._done.wait(0.1):  # in short waits: Ctrl+C stops them on every platform
            if on_slow is not None and time.monotonic() - self._started >= slow_after:
                on_slow()
                on_slow = None
        if isinstance(self._error, psycopg.Error):
            raise connection.explained(self.target, self._error) from None
        if self._error is not None:
            raise self._error
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is None:
            raise RuntimeError("the early connection was already taken or dropped")
        return conn

    def drop(self) -> None:
        """Close the connection if nobody took it (now, or when it opens)."""
        with self._lock:
            self._dropped = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
