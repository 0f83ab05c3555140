"""A chat-completions server for tests: real HTTP on 127.0.0.1, answering from a script.

It speaks enough of the OpenAI chat-completions protocol for the official ``openai`` client
(and any other OpenAI-compatible client) to talk to it: ``POST .../chat/completions`` with a
JSON body, plain answers or streamed Server-Sent Events (``stream: true``, with a usage chunk
when ``stream_options.include_usage`` is set), tool calls, errors with headers (429 with
``Retry-After``), slow answers and answers that never come.

    with ChatServer(["Hello!", Reply(status=429, headers={"Retry-After": "0.1"}), "Again"]) as srv:
        client = openai.AsyncOpenAI(base_url=srv.url, api_key="test")
        ...
        assert srv.requests[0]["body"]["model"] == "m"

A script is a list consumed in order (a string is a plain answer; a `Reply` says more; a
callable gets the request body and returns either), or one callable for every request. When a
list runs out, ``default`` answers (500 "script exhausted" unless given). The server runs in a
thread with its own event loop, so sync tests, async tests and subprocesses can all use it.
Run it alone for benchmarks: ``python tests/llm_fixture.py --delay 0.1`` prints its URL.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChatServer", "Reply", "tool_call"]


@dataclass
class Reply:
    """One scripted answer.

    ``text``: the assistant's content; ``tool_calls``: protocol tool calls (see `tool_call`);
    ``status``/``headers``/``body``: an HTTP error instead; ``delay``: seconds before the
    answer; ``hang``: never answer (until the client gives up); ``chunks``: how many pieces a
    streamed answer comes in, ``chunk_delay`` seconds apart; ``usage``: token counts (by
    default about a quarter of the characters in and out).
    """

    text: str | None = ""
    tool_calls: list[dict[str, Any]] | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    hang: bool = False
    chunks: int = 4
    chunk_delay: float = 0.0
    usage: dict[str, int] | None = None
    finish_reason: str | None = None


def tool_call(name: str, arguments: dict[str, Any] | str, id: str | None = None) -> dict[str, Any]:
    """A protocol tool call, for ``Reply(tool_calls=[...])``."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "id": id or f"call_{name}_{abs(hash(args)) % 10**8}",
        "type": "function",
        "function": {"name": name, "arguments": args},
    }


Script = list[Any] | Callable[[dict[str, Any]], Any]


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ChatServer:
    """A scripted chat-completions endpoint; ``url`` is its base URL (ending in ``/v1``)."""

    def __init__(
        self,
        script: Script | None = None,
        *,
        default: Any = None,
        delay: float = 0.0,
        port: int = 0,
    ) -> None:
        self.script = script if script is not None else []
        self.default = default
        self.delay = delay  # added before every answer
        self.requests: list[dict[str, Any]] = []
        self.port = port
        self.url = ""
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._handlers: set[asyncio.Task[Any]] = set()

    # -- life -----------------------------------------------------------------------------

    def start(self) -> ChatServer:
        self._thread = threading.Thread(target=self._serve, name="chat-fixture", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the chat fixture server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._shutdown)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def main() -> None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.port, backlog=4096, limit=2**20
            )
            self.port = self._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{self.port}/v1"
            self._stopped = loop.create_future()
            self._ready.set()
            await self._stopped

        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for h in list(self._handlers):
            h.cancel()
        if not self._stopped.done():
            self._stopped.set_result(None)

    # -- the script -------------------------------------------------------------------------

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if callable(self.script):
                step: Any = self.script
            elif self.script:
                step = self.script.pop(0)
            else:
                step = self.default
        if callable(step) and not isinstance(step, Reply):
            step = step(body)
        if step is None:
            return Reply(status=500, body={"error": {"message": "script exhausted"}})
        if isinstance(step, str):
            return Reply(text=step)
        return step

    # -- HTTP -------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                size = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(size) if size else b""
                if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
                    await self._send(writer, 404, {"error": {"message": f"no route {path}"}})
                    continue
                body = json.loads(raw or b"{}")
                self.requests.append({"path": path, "headers": headers, "body": body})
                self._in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight)
                try:
                    await self._answer(writer, body)
                finally:
                    self._in_flight -= 1
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, body: dict[str, Any]) -> None:
        reply = self._next(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.hang:
            await asyncio.sleep(3600)
        if reply.status != 200:
            payload = reply.body or {
                "error": {"message": f"scripted {reply.status}", "type": "server_error"}
            }
            await self._send(writer, reply.status, payload, reply.headers)
            return
        model = body.get("model", "fixture")
        prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages", []))
        text = reply.text or ""
        usage = reply.usage or {
            "prompt_tokens": max(1, prompt // 4),
            "completion_tokens": _tokens(text + json.dumps(reply.tool_calls or "")),
        }
        usage = {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        if body.get("stream"):
            await self._stream(writer, reply, model, usage, finish, body)
            return
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if reply.tool_calls:
            message["tool_calls"] = reply.tool_calls
            message["content"] = text or None
        doc = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }
        await self._send(writer, 200, doc, reply.headers)

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        doc: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(doc).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        writer.write(
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(data)}\r\n{extra}\r\n".encode()
            + data
        )
        await writer.drain()

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        reply: Reply,
        model: str,
        usage: dict[str, int],
        finish: str,
        body: dict[str, Any],
    ) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\ncache-control: no-cache\r\n\r\n"
        )
        base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0, "model": model}

        async def event(delta: dict[str, Any], finish_reason: str | None = None, **more: Any):
            doc = {
                **base,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
                **more,
            }
            data = f"data: {json.dumps(doc)}\n\n".encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()

        text = reply.text or ""
        n = max(1, reply.chunks)
        step = max(1, -(-len(text) // n))
        await event({"role": "assistant", "content": ""})
        for i in range(0, len(text), step):
            if reply.chunk_delay and i:
                await asyncio.sleep(reply.chunk_delay)
            await event({"content": text[i : i + step]})
        for k, call in enumerate(reply.tool_calls or []):
            await event(
                {
                    "tool_calls": [
                        {
                            "index": k,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
            await event(
                {
                    "tool_calls": [
                        {"index": k, "function": {"arguments": call["function"]["arguments"]}}
                    ]
                }
            )
        await event({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            doc = {**base, "choices": [], "usage": usage}
            data = f"data: {json.dumps(doc)}\n\n".encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        done = b"data: [DONE]\n\n"
        writer.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
        await writer.drain()


def _main() -> None:
    import argparse
    import sys

    p = argparse.ArgumentParser(description="A chat-completions server answering 'ok'.")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--text", default="ok")
    args = p.parse_args()
    srv = ChatServer(lambda body: Reply(text=args.text), delay=args.delay, port=args.port)
    srv.start()
    print(srv.url, flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        srv.stop()


if __name__ == "__main__":
    _main()
