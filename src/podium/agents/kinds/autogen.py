"""``kind: autogen``: an AutoGen agent (``autogen-agentchat``: an ``AssistantAgent``, any chat
agent) or team (``RoundRobinGroupChat``, ``SelectorGroupChat``, ...) runs as a podium agent.

``agent: module:attr`` names the agent or team, or a function that returns one (called for
every task). Each task is one AutoGen run: ``run_stream(task=...)`` with the task as one
message (`_interop.task_text`: its input, and its dependencies' results as JSON), and the
result is the last message's content (a ``StructuredMessage``'s model made JSON).

An AutoGen agent or team keeps its conversation between runs, and a team refuses to run twice
at once. So an object runs one task at a time (its capacity is 1), reset before each task
unless ``reset: false`` keeps the conversation going from task to task; a function makes a
fresh one for every task, and those run side by side (capacity 10 by default).

While it runs, the chunks of a streaming model (``model_client_stream=True``) go to
`Context.stream`, shown live by ``podium run``; the ``models_usage`` its messages report is
added up (`TokenUsage`; a streaming OpenAI client reports it with ``stream_options=
{"include_usage": True}``). Cancelling the task cancels the run through its
``CancellationToken``. autogen-agentchat is imported when such an agent is built, never before.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Iterable
from typing import Any

from pydantic import Field

from ..._utils.code import where
from ...errors import HandlerError, ValidationError
from ..agent import Agent
from ._interop import TokenUsage, describe, task_text, to_json
from .base import AgentKind, AgentSpec, Origin

__all__ = ["AutoGenAgent", "AutoGenKind", "AutoGenSpec"]

_INSTALL = "pip install 'podium[autogen]'"


class AutoGenSpec(AgentSpec):
    agent: str = Field(min_length=1)
    deps_key: str | None = "deps"
    reset: bool = True
    stream: bool = True


class AutoGenKind(AgentKind):
    name = "autogen"
    spec = AutoGenSpec

    def build(self, spec: AutoGenSpec, origin: Origin) -> Agent:
        obj = origin.load(spec, "agent")
        options = spec.agent_options()
        if "capacity" not in spec.model_fields_set:
            options["capacity"] = None  # the default for what it names (1 for an object)
        return AutoGenAgent(
            obj,
            deps_key=spec.deps_key,
            reset=spec.reset,
            stream=spec.stream,
            _source=origin.file,
            _ref=spec.agent,
            **options,
        )


class AutoGenAgent(Agent):
    """An agent that runs an AutoGen agent or team (or a function returning one).

    >>> from autogen_agentchat.agents import AssistantAgent
    >>> writer = AssistantAgent("writer", model_client=client, system_message="You write.")
    >>> orch.register(AutoGenAgent(writer, capabilities=["write"]))

    ``deps_key``: the heading under which a task's dependencies' results are given (``None``:
    not given); ``reset``: start every task with a fresh conversation (an object only);
    ``stream``: show a streaming model's chunks live. Token usage the messages report is in
    ``self.usage`` and in the agent's ``stats()``.
    """

    def __init__(
        self,
        agent: Any,
        name: str | None = None,
        capabilities: Iterable[str] | None = None,
        capacity: int | None = None,
        *,
        deps_key: str | None = "deps",
        reset: bool = True,
        stream: bool = True,
        _source: str | None = None,
        _ref: str | None = None,
        **options: Any,
    ) -> None:
        base = _load(_source, name)
        shown = repr(_ref) if _ref else repr(agent)[:80]
        if isinstance(agent, base.ChatAgent | base.Team):
            self.factory = None
            if capacity is not None and capacity > 1:
                raise ValidationError(
                    f"{where(_source, agent=name)}capacity {capacity}: the AutoGen object "
                    f"{shown} keeps one conversation, so it runs one task at a time. Name a "
                    "function that makes one to run tasks at once.",
                    file=_source,
                    field="capacity",
                )
            capacity = 1
        elif inspect.isfunction(agent) or inspect.ismethod(agent):
            self.factory = agent
        else:
            raise HandlerError(
                f"{where(_source, agent=name)}agent {shown} is {describe(agent)}, not an "
                "AutoGen agent or team (autogen-agentchat), or a function that returns one.",
                file=_source,
                field="agent",
            )
        self.agent = agent
        self.deps_key = deps_key
        self.reset = reset
        self.stream = stream
        self.usage = TokenUsage()
        self._shown = shown
        self._source = _source
        self._lock: tuple[Any, asyncio.Lock] | None = None  # (its loop, the lock)
        if name is None:
            name = agent.__name__ if self.factory else getattr(agent, "name", None)
        super().__init__(name or "autogen", capabilities, capacity, **options)

    async def handle(self, ctx: Any) -> Any:
        if self.factory is None:
            async with self._one_at_a_time():  # replicas share the object
                if self.reset:
                    await _reset(self.agent)
                return await self._run(ctx, self.agent)
        obj = self.factory()
        if inspect.isawaitable(obj):
            obj = await obj
        base = _load(self._source, self.name)
        if not isinstance(obj, base.ChatAgent | base.Team):
            raise HandlerError(
                f"{where(self._source, agent=self.name)}agent {self._shown} returned a "
                f"{type(obj).__name__}, not an AutoGen agent or team.",
                file=self._source,
                field="agent",
            )
        return await self._run(ctx, obj)

    def _one_at_a_time(self) -> asyncio.Lock:
        # a lock belongs to one loop, and a later asyncio.run may run this agent again
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    async def _run(self, ctx: Any, runner: Any) -> Any:
        from autogen_agentchat.base import TaskResult
        from autogen_agentchat.messages import BaseChatMessage, ModelClientStreamingChunkEvent
        from autogen_core import CancellationToken

        token = CancellationToken()
        result = None
        try:
            task = task_text(ctx, self.deps_key) or None  # None: go on from where it is
            async for item in runner.run_stream(task=task, cancellation_token=token):
                if isinstance(item, ModelClientStreamingChunkEvent):
                    if self.stream and item.content:
                        ctx.stream(item.content)
                elif isinstance(item, TaskResult):
                    result = item
        except asyncio.CancelledError:
            token.cancel()  # the model calls in flight stop too
            raise
        if result is None:  # pragma: no cover - AutoGen always ends with its TaskResult
            raise HandlerError(f"agent {self.name!r}: the AutoGen run gave no result.")
        models = _models(runner)
        answer = None
        for message in result.messages:
            usage = message.models_usage
            if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
                self.usage.add(
                    ctx,
                    {
                        "input_tokens": usage.prompt_tokens,
                        "output_tokens": usage.completion_tokens,
                    },
                    models.get(message.source),
                )
            if isinstance(message, BaseChatMessage) and message.source != "user":
                answer = message
        if answer is None:
            return None
        return to_json(answer.content)

    def stats(self) -> dict[str, Any]:
        out = super().stats()
        if self.usage.calls:
            out["usage"] = self.usage.to_dict()
        return out

    def clone(self, name: str) -> Agent:
        new = super().clone(name)
        new.usage = TokenUsage()  # type: ignore[attr-defined]
        return new


async def _reset(runner: Any) -> None:
    from autogen_core import CancellationToken

    if isinstance(runner, _import().Team):
        await runner.reset()
    else:
        await runner.on_reset(CancellationToken())


def _models(runner: Any) -> dict[str, str]:
    """Each agent's model name, by agent name (best effort: AutoGen keeps it private)."""
    out = {}
    for agent in getattr(runner, "_participants", None) or [runner]:
        args = getattr(getattr(agent, "_model_client", None), "_create_args", None)
        model = args.get("model") if isinstance(args, dict) else None
        if isinstance(model, str):
            out[getattr(agent, "name", "")] = model
    return out


@functools.cache
def _import() -> Any:
    from autogen_agentchat import base

    return base


def _load(source: str | None, name: str | None) -> Any:
    try:
        return _import()
    except ImportError:
        raise HandlerError(
            f"{where(source, agent=name)}kind 'autogen' needs the autogen-agentchat package: "
            f"{_INSTALL}",
            file=source,
            field="agent",
        ) from None
