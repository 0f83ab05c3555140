"""A TCP proxy to a real service (PostgreSQL, Redis) that a test can cut: every connection
through it drops and new ones are refused, as when the service stops or the network goes,
without stopping the service other tests share."""

from __future__ import annotations

import asyncio
import threading
from typing import Any


class Proxy:
    """``with Proxy("127.0.0.1", 5432) as p:`` listens on ``p.port``; ``p.cut()`` drops
    everything."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Proxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""

        async def cut() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                transport = w.transport
                transport.abort()
            self._writers.clear()

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(cut(), self._loop).result(10)
