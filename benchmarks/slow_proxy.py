"""The slow link of slow_link.py: a TCP proxy on 127.0.0.1 that delivers each chunk `delay`
seconds after it arrived, in order, in both directions, in a thread of its own, and counts the
connections, chunks and client turns that cross it."""

from __future__ import annotations

import asyncio
import threading


class SlowProxy:
    """127.0.0.1:<port> -> the server (TCP or Unix socket), each chunk delivered `delay`
    seconds after it arrived, in order, in both directions."""

    def __init__(self, *, tcp: tuple[str, int] | None = None, unix: str | None = None) -> None:
        self.tcp, self.unix = tcp, unix
        self.delay = 0.0
        self.connections = self.chunks = self.turns = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> int:
        self.thread.start()
        started = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._handle, "127.0.0.1", 0), self.loop)
        self.server = started.result(10)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    def reset(self) -> None:
        self.connections = self.chunks = self.turns = 0

    def stop(self) -> None:
        """Close the listener and every open connection, then the loop."""
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            if not self.thread.is_alive():
                self.loop.close()

    async def _shutdown(self) -> None:
        if self.server is not None:
            self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.unix is not None:
                up_reader, up_writer = await asyncio.open_unix_connection(self.unix)
            else:
                assert self.tcp is not None
                up_reader, up_writer = await asyncio.open_connection(*self.tcp)
        except OSError:
            writer.close()
            return
        self.connections += 1
        last = ["server"]  # who spoke last on this connection
        try:
            await asyncio.gather(self._pump(reader, up_writer, last, True), self._pump(up_reader, writer, last, False))
        except asyncio.CancelledError:  # the proxy is stopping: end quietly (asyncio would report it)
            writer.close()
            up_writer.close()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, last: list[str], from_client: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def deliver() -> None:
            try:
                while (item := await queue.get()) is not None:
                    due, data = item
                    if due > loop.time():
                        await asyncio.sleep(due - loop.time())
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        sender = asyncio.create_task(deliver())
        try:
            while data := await source.read(65536):
                if from_client:
                    self.chunks += 1
                    if last[0] != "client":
                        self.turns += 1
                        last[0] = "client"
                else:
                    last[0] = "server"
                queue.put_nowait((loop.time() + self.delay, data))
        except (ConnectionError, OSError):
            pass
        queue.put_nowait(None)
        await sender
