"""The MCP server: the `Session`'s coroutines as MCP tools, served over stdio or streamable
HTTP with the official SDK (imported here, so only ``podium mcp`` loads it).

Annotations stay evaluated (no ``from __future__ import annotations``): the SDK reads the
tools' signatures to describe their arguments.
"""

import signal
import socket
import sys
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from ..errors import PodiumError
from .tools import Session

__all__ = ["build_server", "serve"]

INSTRUCTIONS = """\
podium orchestrates many agents working together on one goal: a workflow is a DAG of tasks,
each asking for a capability that an agent has; podium runs everything that can run at once,
retries, and records every run. Write a workflow file (YAML: name, agents, tasks), check it
with validate_workflow, start it with run_workflow, then follow_run until it finishes and
read the results; run_report says where the time went and what failed. Paths are relative to
the folder the server runs in (list_agents tells it)."""


def build_server(session: Session) -> MCPServer:
    """An MCP server whose tools drive ``session``."""
    from .. import __version__

    server = MCPServer(
        "podium", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )

    def failed(exc: PodiumError) -> ToolError:
        return ToolError(str(exc))

    @server.tool()
    def validate_workflow(path: str | None = None, workflow: str | None = None) -> dict[str, Any]:
        """Check a workflow without running it: give the path of a workflow file (YAML or
        JSON) or its text. Returns valid, its tasks and agents; or valid false and the error
        (which names the file, task and field, and says what to fix)."""
        return session.validate(path, workflow)

    @server.tool()
    async def run_workflow(
        path: str | None = None,
        workflow: str | None = None,
        wait: bool = False,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Start a run of a workflow (a file's path, or its text) and return its run_id at
        once; with wait true, return its final status instead. Every run is recorded."""
        try:
            return await session.run(path, workflow, wait=wait, run_id=run_id)
        except PodiumError as exc:
            raise failed(exc) from None

    @server.tool()
    async def follow_run(run_id: str, ctx: Context, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until a run finishes, or timeout seconds pass, reporting progress (tasks
        done of the total) meanwhile; returns its status, with finished true or false and
        each task's status, result and error. Call again to keep following."""

        async def progress(done: int, total: int, message: str) -> None:
            await ctx.report_progress(done, total, message)

        try:
            return await session.follow(run_id, timeout, progress)
        except PodiumError as exc:
            raise failed(exc) from None

    @server.tool()
    async def run_status(run_id: str) -> dict[str, Any]:
        """A run's status now: its counts, and each task's status, agent, attempts, result
        and error (long results are cut)."""
        try:
            return await session.status(run_id)
        except PodiumError as exc:
            raise failed(exc) from None

    @server.tool()
    async def run_report(run_id: str, out: str | None = None) -> dict[str, Any]:
        """What happened in a run: its duration, the failures and their errors, the slowest
        tasks and each agent's statistics; with out, also write the HTML report (DAG,
        timeline, critical path) to that path."""
        try:
            return await session.report(run_id, out)
        except PodiumError as exc:
            raise failed(exc) from None

    @server.tool()
    def list_agents(path: str | None = None, workflow: str | None = None) -> dict[str, Any]:
        """The agents a workflow declares (name, capabilities, capacity), or with no
        workflow those of the runs going on now; and the agent kinds a file can use."""
        try:
            return session.agents(path, workflow)
        except PodiumError as exc:
            raise failed(exc) from None

    @server.tool()
    async def list_runs(limit: int = 20) -> dict[str, Any]:
        """The recorded runs, newest first: id, workflow, status, counts, duration."""
        return {"runs": await session.runs(limit)}

    @server.tool()
    def cancel_run(run_id: str) -> dict[str, Any]:
        """Cancel a run this server started: running tasks are cancelled, the rest skipped."""
        try:
            return session.cancel(run_id)
        except PodiumError as exc:
            raise failed(exc) from None

    return server


async def serve(
    transport: str = "stdio",
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    db: str | None = None,
) -> int | None:
    """Serve podium's tools until the client goes away (stdio) or the process is stopped
    (HTTP, where the address is printed on stderr first); returns the signal that stopped
    it, if one did. Runs still going on are cancelled (and recorded so) at the end."""
    session = Session(db)
    await session.open()
    server = build_server(session)
    try:
        if transport == "stdio":
            await server.run_stdio_async()
            return None
        return await _serve_http(server, host, port)
    finally:
        await session.close()


async def _serve_http(server: MCPServer, host: str, port: int) -> int | None:
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"podium mcp: serving at http://{shown}:{bound}/mcp", file=sys.stderr, flush=True)
    app = server.streamable_http_app(host=host)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    # uvicorn shuts down on SIGINT/SIGTERM, then raises the signal again through the handler
    # that was there before it: ours notes it, so the runs and the store close cleanly first
    stopped: list[int] = []
    previous = {s: signal.signal(s, _note(stopped)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return stopped[0] if stopped else None


def _note(stopped: list[int]) -> Any:
    def handler(signum: int, frame: Any) -> None:
        stopped.append(signum)

    return handler
