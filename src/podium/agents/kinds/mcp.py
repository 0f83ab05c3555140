"""``kind: mcp``: the tools of a Model Context Protocol server become an agent's capabilities.

The server is a command podium starts and talks to over stdio (``command:``), or a
streamable-HTTP endpoint (``url:``). Its tools are the capabilities ``mcp.<tool>`` (all of
them, asked from the server when the file is loaded, or those listed in ``tools:``), or names
of your own (``tools: {capability: tool}``). A task calls one tool with its input as the
arguments and gets the tool's result.

One connection per agent lives for the run: opened in ``setup`` (starting the server's
process), closed in ``teardown`` (stopping it). A handler that finds the connection lost (the
server crashed or was killed mid-call) reconnects, restarting the server, and calls the tool
again once; ``max_restarts`` bounds how often a run does that. The connection belongs to the
loop that opened it, so an agent used by a later ``asyncio.run`` reconnects there.

The official ``mcp`` SDK is imported when such an agent is built, never before.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import shlex
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from ..._utils.code import where
from ...errors import HandlerError, ValidationError
from ..agent import Agent
from ._interop import task_input
from .base import AgentKind, AgentSpec, Origin

__all__ = ["MCPAgent", "MCPKind", "MCPSpec", "ToolError"]

_INSTALL = "pip install 'podium[mcp]'"
_EXCERPT = 300  # characters of a tool's error text quoted in a task's error


class ToolError(Exception):
    """An MCP tool answered with an error (``isError``): the task fails (and is retried by
    its retry policy) with the tool's message."""


class MCPSpec(AgentSpec):
    command: str | list[str] | None = None
    url: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    tools: list[str] | dict[str, str] | None = None
    deps_key: str | None = None
    max_restarts: int = Field(3, ge=0)
    connect_timeout: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _one_server(self) -> MCPSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError(
                "give exactly one of 'command' (a server podium starts, spoken to over "
                "stdio) or 'url' (a streamable-HTTP endpoint)"
            )
        return self


class MCPKind(AgentKind):
    name = "mcp"
    spec = MCPSpec

    def build(self, spec: MCPSpec, origin: Origin) -> Agent:
        cwd = spec.cwd
        if spec.command is not None and origin.base is not None:
            cwd = str(origin.base / cwd) if cwd else str(origin.base)
        return MCPAgent(
            command=spec.command,
            url=spec.url,
            env=spec.env,
            cwd=cwd,
            tools=spec.tools,
            deps_key=spec.deps_key,
            max_restarts=spec.max_restarts,
            connect_timeout=spec.connect_timeout,
            _source=origin.file,
            **spec.agent_options(),
        )


class MCPAgent(Agent):
    """An agent whose capabilities are the tools of an MCP server.

    >>> files = MCPAgent(command=["python", "files_server.py"], name="files")
    >>> files.capabilities  # asked from the server: ('mcp.read', 'mcp.write')
    >>> orch.register(files)

    ``command`` (a list, or a string split like a shell would) starts a server spoken to over
    stdio, in ``cwd`` with the environment plus ``env``; ``url`` connects to a
    streamable-HTTP server. ``tools``: the tools to expose (``["read"]`` gives
    ``mcp.read``; ``{"reading": "read"}`` names the capability), all of them when omitted.
    A task's input is the tool's arguments; with ``deps_key``, its dependencies' results are
    added under that argument. Pinned to the agent without a capability, a task's input is
    ``{"tool": name, "arguments": {...}}``.
    """

    def __init__(
        self,
        command: str | list[str] | None = None,
        url: str | None = None,
        *,
        name: str | None = None,
        capabilities: Iterable[str] | None = None,
        capacity: int | None = None,
        tools: Iterable[str] | Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        deps_key: str | None = None,
        max_restarts: int = 3,
        connect_timeout: float = 60.0,
        _source: str | None = None,
        **options: Any,
    ) -> None:
        if (command is None) == (url is None):
            raise ValidationError(
                f"{where(_source, agent=name)}give exactly one of command= (a server to start, "
                "spoken to over stdio) or url= (a streamable-HTTP endpoint).",
                file=_source,
                field="command",
            )
        argv = shlex.split(command) if isinstance(command, str) else command
        if argv is not None and (not argv or not all(isinstance(a, str) for a in argv)):
            raise ValidationError(
                f"{where(_source, agent=name)}command must be a non-empty list of strings "
                "(or one string), like [python, server.py].",
                file=_source,
                field="command",
            )
        self.command = list(argv) if argv is not None else None
        self.url = url
        self.env = dict(env or {})
        self.cwd = str(cwd) if cwd is not None else None
        self.deps_key = deps_key
        self.max_restarts = max_restarts
        self.connect_timeout = connect_timeout
        self.restarts = 0  # servers restarted after a lost connection, since setup
        self._source = _source
        self._link: _Link | None = None
        self._lock: asyncio.Lock | None = None
        label = name or (Path(self.command[-1]).stem if self.command else "mcp")
        self._label = label
        if tools is None:
            tools = _discover(self, label)
        self.tools: dict[str, str] = (  # capability -> tool
            dict(tools) if isinstance(tools, Mapping) else {f"mcp.{t}": t for t in tools}
        )
        caps = [*self.tools, *(c for c in capabilities or () if c not in self.tools)]
        super().__init__(name or label, caps, capacity, **options)

    # -- lifecycle -----------------------------------------------------------------------

    async def setup(self) -> None:
        """Start the server (or connect to it) and check that it has the tools named."""
        self.restarts = 0
        link = await self._connected()
        listed = await link.tool_names()
        missing = sorted(set(self.tools.values()) - set(listed))
        if missing:
            hint = difflib.get_close_matches(missing[0], listed, n=1)
            fix = f" Did you mean {hint[0]!r}?" if hint else ""
            raise LookupError(
                f"the MCP server {self.server} has no tool {', '.join(map(repr, missing))} "
                f"(its tools: {', '.join(sorted(listed)) or 'none'}).{fix}"
            )

    async def teardown(self) -> None:
        """Close the connection (stopping a server podium started)."""
        link, self._link = self._link, None
        if link is not None and link.loop is _loop():
            await link.close()

    def clone(self, name: str) -> Agent:
        new = super().clone(name)
        new._link = None  # type: ignore[attr-defined]
        new._lock = None  # type: ignore[attr-defined]
        new.restarts = 0  # type: ignore[attr-defined]
        return new

    @property
    def server(self) -> str:
        """How the server is reached, for messages: its command or its URL."""
        return f"`{shlex.join(self.command)}`" if self.command else str(self.url)

    # -- tasks ---------------------------------------------------------------------------

    async def handle(self, ctx: Any) -> Any:
        tool, arguments = self._call(ctx)
        link = await self._connected()
        try:
            result = await link.client.call_tool(tool, arguments)
        except Exception as exc:
            if not link.lost(exc):
                raise
            link = await self._reconnect(link, exc)
            result = await link.client.call_tool(tool, arguments)  # the task, once more
        return _result(result, tool, self)

    def _call(self, ctx: Any) -> tuple[str, dict[str, Any]]:
        cap = ctx.task.capability
        if cap is not None:
            tool = self.tools.get(cap)
            if tool is None:
                raise LookupError(f"agent {self.name!r} has no tool for capability {cap!r}")
            args = task_input(ctx, self.deps_key)
        else:  # pinned to this agent: the input names the tool
            given = ctx.input if isinstance(ctx.input, Mapping) else {}
            tool, args = given.get("tool"), given.get("arguments", {})
            if not isinstance(tool, str):
                raise ValueError(
                    f"task {ctx.task_id!r} is pinned to MCP agent {self.name!r} without a "
                    "capability: its input must be {'tool': NAME, 'arguments': {...}} "
                    "(or give the task capability: mcp.<tool>)"
                )
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            raise TypeError(
                f"the input of task {ctx.task_id!r} is the arguments of MCP tool {tool!r}, a "
                f"mapping of argument names to values, not a {type(args).__name__}"
            )
        return tool, dict(args)

    # -- the connection ------------------------------------------------------------------

    async def _connected(self) -> _Link:
        link = self._link
        if link is not None and link.loop is _loop() and not link.dead:
            return link
        async with self._guard():
            link = self._link
            if link is not None and link.loop is _loop() and not link.dead:
                return link
            if link is not None and link.loop is _loop():
                await link.close()
            self._link = link = await _Link.open(self)  # a new loop (or a dead link): connect
            return link

    async def _reconnect(self, lost: _Link, exc: BaseException) -> _Link:
        async with self._guard():
            if self._link is not lost and self._link is not None and not self._link.dead:
                return self._link  # another task already reconnected
            if self.restarts >= self.max_restarts:
                raise ConnectionError(
                    f"lost the connection to the MCP server {self.server} "
                    f"({_describe(exc)}) after {self.restarts} restart"
                    f"{'s' if self.restarts != 1 else ''}: giving up (max_restarts)"
                ) from None
            self.restarts += 1
            await lost.close()
            self._link = link = await _Link.open(self)
            return link

    def _guard(self) -> asyncio.Lock:
        if self._lock is None or getattr(self._lock, "_podium_loop", None) is not _loop():
            self._lock = asyncio.Lock()
            self._lock._podium_loop = _loop()  # type: ignore[attr-defined]
        return self._lock


class _Link:
    """One open connection: a task of its own holds the SDK's client open (its context must
    be entered and left by the same task) until ``close``."""

    def __init__(self, agent: MCPAgent) -> None:
        self.agent = agent
        self.loop = _loop()
        self.client: Any = None
        self.stop = asyncio.Event()
        self.owner: asyncio.Task[None] | None = None
        self.failed = False

    @classmethod
    async def open(cls, agent: MCPAgent) -> _Link:
        link = cls(agent)
        ready: asyncio.Future[Any] = link.loop.create_future()
        link.owner = link.loop.create_task(link._hold(ready), name=f"podium-mcp-{agent.name}")
        try:
            link.client = await asyncio.wait_for(asyncio.shield(ready), agent.connect_timeout)
        except TimeoutError:
            await link.close()
            raise ConnectionError(
                f"the MCP server {agent.server} did not answer within "
                f"{agent.connect_timeout:g}s (connect_timeout)"
            ) from None
        except Exception as exc:
            await link.close()
            raise ConnectionError(
                f"could not {'start' if agent.command else 'reach'} the MCP server "
                f"{agent.server}: {_describe(exc)}"
            ) from None
        return link

    async def _hold(self, ready: asyncio.Future[Any]) -> None:
        try:
            async with _client(self.agent) as client:
                ready.set_result(client)
                await self.stop.wait()
        except Exception as exc:  # the server went away, or never came
            self.failed = True
            if not ready.done():
                ready.set_exception(exc)

    @property
    def dead(self) -> bool:
        return self.failed or self.owner is None or self.owner.done()

    def lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` from a call means the connection is gone (not a tool's error)."""
        if self.dead:
            return True
        import anyio
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED

        if isinstance(exc, MCPError):
            return exc.code == CONNECTION_CLOSED
        return isinstance(exc, anyio.ClosedResourceError | anyio.BrokenResourceError)

    async def tool_names(self) -> list[str]:
        names: list[str] = []
        cursor = None
        while True:
            page = await self.client.list_tools(cursor=cursor)
            names += [t.name for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                return names

    async def close(self) -> None:
        self.stop.set()
        owner = self.owner
        if owner is None or owner.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(owner), 10)
        except TimeoutError:  # a server that will not stop: the SDK kills it on cancel
            owner.cancel()
            await asyncio.wait([owner])


def _client(agent: MCPAgent) -> Any:
    try:
        from mcp import Client, StdioServerParameters
    except ImportError:
        raise HandlerError(
            f"{where(agent._source, agent=agent._label)}kind 'mcp' needs the mcp package: "
            f"{_INSTALL}",
            file=agent._source,
            field="kind",
        ) from None
    if agent.command is not None:
        target: Any = StdioServerParameters(
            command=agent.command[0],
            args=agent.command[1:],
            env={**os.environ, **agent.env},
            cwd=agent.cwd,
        )
    else:
        target = agent.url
    return Client(target, cache=None)


def _discover(agent: MCPAgent, label: str) -> list[str]:
    """The server's tool names, asked once when the agent is built (its capabilities must be
    known before a run starts). Runs on a loop of its own in a thread, so it works whether or
    not the caller is inside one."""
    _client(agent)  # fails fast when the SDK is missing
    out: list[Any] = []

    async def ask() -> None:
        link = await _Link.open(agent)
        try:
            out.append(await link.tool_names())
        finally:
            await link.close()

    def work() -> None:
        try:
            asyncio.run(ask())
        except BaseException as exc:
            out.append(exc)

    t = threading.Thread(target=work, name=f"podium-mcp-tools-{label}", daemon=True)
    t.start()
    t.join()
    if out and isinstance(out[0], list):
        return out[0]
    exc = out[0] if out else RuntimeError("no answer")
    raise HandlerError(
        f"{where(agent._source, agent=label)}asking the MCP server for its tools failed: "
        f"{_describe(exc)}. Check the command (or URL), or list the tools in 'tools:' so "
        "podium need not ask before the run.",
        file=agent._source,
        field="tools",
    )


def _result(result: Any, tool: str, agent: MCPAgent) -> Any:
    """A tool's result as JSON: its structured content when it has some; else its text (a
    JSON object or array in the text is parsed); else its content blocks."""
    content = list(result.content or ())
    texts = [c.text for c in content if getattr(c, "type", None) == "text"]
    if result.is_error:
        text = " ".join(texts).strip() or "(no message)"
        if len(text) > _EXCERPT:
            text = text[:_EXCERPT] + "..."
        raise ToolError(f"tool {tool!r} of MCP server {agent.server} failed: {text}")
    if result.structured_content is not None:
        return result.structured_content
    if content and len(texts) == len(content):
        text = "\n".join(texts)
        if text.lstrip()[:1] in ("{", "["):
            try:
                return json.loads(text)
            except ValueError:
                pass
        return text
    if not content:
        return None
    return [c.model_dump(mode="json", exclude_none=True, by_alias=True) for c in content]


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # anyio's task groups
        exc = exc.exceptions[0]
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
