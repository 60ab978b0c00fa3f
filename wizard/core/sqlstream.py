"""A dump's SQL as it is read: lines for the statements, large blocks for COPY data.

A thread reads ahead (at most READ_AHEAD chunks of CHUNK bytes), so pg_restore keeps
decompressing while the wizard sends the previous block to the server: with one
process waiting on the other, a restore took ~1.3x pg_restore's time on two cores.
COPY data is passed on in whole chunks, found by its end line, never row by row: a
Python loop over rows cost ~1.4 s per million rows (measured, benchmarks/restore_speed.py).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import IO

CHUNK = 1 << 20
READ_AHEAD = 8  # chunks: the memory a restore holds stays near 10 MB whatever the file's size
_END = b"\\."  # COPY's end-of-data line; data escapes a backslash, so no row starts with it


class SqlStream:
    """`readline()` for SQL, `copy_data()` for the rows after a COPY ... FROM stdin line.
    `finish` runs when the source is exhausted (it may raise: a tool that failed)."""

    def __init__(self, source: IO[bytes], finish: Callable[[], None] = lambda: None) -> None:
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(READ_AHEAD)
        self._finish = finish
        self._buf = b""
        self._pos = 0
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(source,), name="sql-read-ahead", daemon=True)
        self._thread.start()

    def _read(self, source: IO[bytes]) -> None:
        try:
            while not self._stop.is_set():
                # Whole chunks: a pipe hands over ~16 KB at a time, and each piece sent on its
                # own cost ~0.3 s per 100 MB in round trips and thread switches (measured).
                chunk = source.read(CHUNK)
                self._put(chunk)
                if not chunk:
                    return
        except BaseException as error:  # handed to the reader's thread, raised there
            self._put(error)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Stop reading ahead (the source is closed by its owner)."""
        self._stop.set()
        self._thread.join(5)

    def _more(self) -> bool:
        if self._done:
            return False
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        if not item:
            self._done = True
            self._finish()
            return False
        self._buf = self._buf[self._pos :] + item
        self._pos = 0
        return True

    def readline(self) -> bytes:
        """The next line, its newline kept; b"" at the end."""
        while True:
            end = self._buf.find(b"\n", self._pos)
            if end >= 0:
                line = self._buf[self._pos : end + 1]
                self._pos = end + 1
                return line
            if not self._more():
                line = self._buf[self._pos :]
                self._pos = len(self._buf)
                return line

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def copy_data(self) -> Iterator[bytes]:
        """The rows of a COPY, in blocks of whole lines, up to its end line (consumed, not given)."""
        while True:
            buf, start = self._buf, self._pos
            if buf.startswith(_END, start):
                end = start
            else:
                found = buf.find(b"\n" + _END, start)
                end = found + 1 if found >= 0 else -1  # the end line starts after the newline
            if end >= 0:
                newline = buf.find(b"\n", end)
                if newline < 0 and self._more():
                    continue  # the end line is not all here yet
                if end > start:
                    yield buf[start:end]
                self._pos = len(self._buf) if newline < 0 else newline + 1
                return
            last = buf.rfind(b"\n", start)
            if last >= start:
                yield buf[start : last + 1]
                self._pos = last + 1
            if not self._more():  # the file ends inside the COPY: give what there is
                if self._pos < len(self._buf):
                    yield self._buf[self._pos :]
                    self._pos = len(self._buf)
                return
