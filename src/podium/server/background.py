"""A server in a background thread of this process: for notebooks, tests and the docs.

>>> server = podium.server.start(db="runs.db", agents="agents.yaml", insecure_no_auth=True)
>>> client = podium.Client(server.url)
>>> server.stop()
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

from .config import ServerConfig

__all__ = ["BackgroundServer", "bind", "start"]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (``port`` 0: a free one), made before the server starts so its
    address is known at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class BackgroundServer:
    """A running server; ``url`` is where it listens. `stop` ends it (runs are handed over)."""

    def __init__(self, config: ServerConfig) -> None:
        import uvicorn

        from .app import create_app

        self.config = config
        self.app = create_app(config)
        self._sock = bind(config.host, config.port)
        host, port = self._sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        )
        self._thread = threading.Thread(target=self._run, name="podium-server", daemon=True)
        self._error: BaseException | None = None
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            self._thread.join(0.01)
        if not self._server.started:
            raise RuntimeError(f"the server did not start: {self._error!r}")

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:
            self._error = exc

    @property
    def service(self) -> Any:
        return self.app.state.service

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(30)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(**options: Any) -> BackgroundServer:
    """Start a server in a thread with `ServerConfig` options (``port=0`` by default: a free
    port on 127.0.0.1); returns once it listens."""
    options.setdefault("port", 0)
    return BackgroundServer(ServerConfig(**options))
