"""An MCP server for the tests, written with the SDK: ``python _mcp_server.py`` speaks stdio;
``python _mcp_server.py http [PORT]`` serves streamable HTTP on 127.0.0.1 (a free port unless
given) and prints its URL on the first line of stdout."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

mcp = MCPServer("testing", log_level="WARNING")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@mcp.tool()
def describe(text: str, deps: dict | None = None) -> str:
    """Say what the text is (and what came before it)."""
    before = f" after {sorted(deps)}" if deps else ""
    return f"{len(text.split())} words{before}"


@mcp.tool()
def profile(name: str) -> dict:
    """A JSON object returned as text (no output schema)."""
    return {"name": name, "pid": os.getpid()}


@mcp.tool()
async def slow(marker: str, seconds: float = 120.0) -> int:
    """The first call writes our pid to ``marker`` (the call is in flight: kill us now) and
    takes ``seconds``; once ``marker`` exists, a call answers at once."""
    path = Path(marker)
    if path.exists():
        return os.getpid()
    path.write_text(str(os.getpid()))
    await asyncio.sleep(seconds)
    return os.getpid()


@mcp.tool()
def pid() -> int:
    return os.getpid()


@mcp.tool()
def fail(message: str) -> str:
    raise ToolError(message)  # the message reaches the client (other errors are hidden)


def serve_http(port: int) -> None:
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    server = uvicorn.Server(uvicorn.Config(mcp.streamable_http_app(), log_level="warning"))
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        serve_http(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    else:
        mcp.run()
