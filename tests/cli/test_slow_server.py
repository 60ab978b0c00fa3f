"""A server that does not answer: the user is told why they wait, then given a clear error."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.cli_runner import run


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (like a compute still waking)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_slow_server_gets_the_waking_note_then_a_timeout_error(silent_server: int) -> None:
    url = f"postgresql://app@127.0.0.1:{silent_server}/neondb?sslmode=disable"
    started = time.monotonic()
    result = run("status", "--database-url", url, "--connect-timeout", "3")
    took = time.monotonic() - started
    assert result.code == 3
    assert "suspended Neon compute takes a few seconds to wake" in result.err
    assert "did not answer in time" in result.err
    assert 2.5 <= took < 20
