"""A body-size limit applied before anything reads the body: 413 for a ``Content-Length`` over
the limit, and for a chunked body as soon as it passes it."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["BodyLimit"]


class _TooLarge(BaseException):  # not Exception: frameworks turn those into 400s
    pass


class BodyLimit:
    """ASGI middleware: requests with bodies over ``limit`` bytes get 413."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = 0
                if size > self.limit:
                    await self._refuse(send)
                    return
                break
        seen = 0
        started = False

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        doc = {
            "error": "too_large",
            "message": f"the request body is over this server's limit of {self.limit} bytes.",
            "field": "body",
            "task": None,
            "file": None,
        }
        data = json.dumps(doc).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
