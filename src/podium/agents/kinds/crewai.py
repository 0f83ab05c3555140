"""``kind: crewai``: a CrewAI crew, or a single CrewAI agent, runs as a podium agent.

``crew: module:attr`` names a ``Crew``, an ``Agent``, or a function that returns one (called
for every task). A task kicks off a copy of it, so tasks run side by side without sharing
state: a crew gets the task's input as its ``inputs`` (the values its task descriptions
interpolate, ``{topic}``), with the dependencies' results as JSON text under ``deps``; an
agent gets one message (`_interop.task_text`). The result is the final answer: the last
task's structured output when it has one (``output_pydantic``, ``output_json``), its text
otherwise.

A crew made with ``stream=True`` streams its models' text: it goes to `Context.stream`, shown
live under ``podium run``'s progress bar.

Token usage: CrewAI counts tokens on each LLM object, for every call it ever made, and a copy
of a crew shares its agents' LLMs; so each task's copy gets LLMs of its own, counting from
zero, and what they report is the task's usage. crewai is imported when such an agent is
built, never before.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import Field

from ..._utils.code import where
from ...errors import HandlerError
from ..agent import Agent
from ._interop import TokenUsage, describe, task_text, to_json
from .base import AgentKind, AgentSpec, Origin

__all__ = ["CrewAIAgent", "CrewAIKind", "CrewAISpec"]

_INSTALL = "pip install 'podium[crewai]'"


class CrewAISpec(AgentSpec):
    crew: str = Field(min_length=1)
    deps_key: str | None = "deps"


class CrewAIKind(AgentKind):
    name = "crewai"
    spec = CrewAISpec

    def build(self, spec: CrewAISpec, origin: Origin) -> Agent:
        obj = origin.load(spec, "crew")
        return CrewAIAgent(
            obj,
            deps_key=spec.deps_key,
            _source=origin.file,
            _ref=spec.crew,
            **spec.agent_options(),
        )


class CrewAIAgent(Agent):
    """An agent that runs a CrewAI ``Crew`` or ``Agent`` (or a function returning one).

    >>> from crewai import Agent, Crew, Task
    >>> writer = Agent(role="Writer", goal="Write clearly", backstory="...", llm=llm)
    >>> crew = Crew(agents=[writer], tasks=[Task(description="Write about {topic}",
    ...     expected_output="a paragraph", agent=writer)])
    >>> orch.register(CrewAIAgent(crew, name="writers", capabilities=["write"]))

    ``deps_key`` is the key under which a task's dependencies' results are added to the
    crew's inputs (``None``: not passed). Token usage the LLMs report is in ``self.usage`` and
    in the agent's ``stats()``.
    """

    def __init__(
        self,
        crew: Any,
        name: str | None = None,
        capabilities: Iterable[str] | None = None,
        capacity: int | None = None,
        *,
        deps_key: str | None = "deps",
        _source: str | None = None,
        _ref: str | None = None,
        **options: Any,
    ) -> None:
        crewai = _crewai(_source, name)
        shown = repr(_ref) if _ref else repr(crew)[:80]
        if isinstance(crew, crewai.Crew | crewai.Agent):
            self.factory = None
        elif inspect.isfunction(crew) or inspect.ismethod(crew):
            self.factory = crew
        else:
            raise HandlerError(
                f"{where(_source, agent=name)}crew {shown} is {describe(crew)}, not a CrewAI "
                "Crew or Agent, or a function that returns one.",
                file=_source,
                field="crew",
            )
        self.crew = crew
        self.deps_key = deps_key
        self.usage = TokenUsage()
        self._shown = shown
        self._source = _source
        if name is None and self.factory is not None:
            name = crew.__name__
        elif name is None:
            name = crew.name if isinstance(crew, crewai.Crew) else crew.role
        super().__init__(name or "crew", capabilities, capacity, **options)

    async def handle(self, ctx: Any) -> Any:
        crewai = sys.modules["crewai"]
        obj = self.crew if self.factory is None else self.factory()
        if inspect.isawaitable(obj):
            obj = await obj
        if isinstance(obj, crewai.Crew):
            crew = _private_copy(obj)
            out = await crew.kickoff_async(inputs=self._inputs(ctx))
            if hasattr(out, "__aiter__"):  # Crew(stream=True): the chunks, then the output
                async for chunk in out:
                    if getattr(chunk.chunk_type, "value", None) == "text" and chunk.content:
                        ctx.stream(chunk.content)
                out = out.result
            self._count(ctx, out.token_usage, crew.agents)
            return to_json(_answer(out))
        if isinstance(obj, crewai.Agent):
            agent = _private_agent(obj)
            out = await agent.kickoff_async(task_text(ctx, self.deps_key))
            self._count(ctx, out.usage_metrics, [agent])
            return to_json(out.pydantic if out.pydantic is not None else out.raw)
        raise HandlerError(
            f"{where(self._source, agent=self.name)}crew {self._shown} returned a "
            f"{type(obj).__name__}, not a CrewAI Crew or Agent.",
            file=self._source,
            field="crew",
        )

    def _inputs(self, ctx: Any) -> dict[str, Any]:
        value = ctx.input
        if value is None:
            inputs: dict[str, Any] = {}
        elif isinstance(value, Mapping):
            inputs = {str(k): v for k, v in value.items()}
        else:
            inputs = {"input": value}
        if self.deps_key is not None and ctx.task.depends_on:
            # JSON, not the Python repr CrewAI would interpolate a mapping as
            inputs[self.deps_key] = json.dumps(ctx.deps, ensure_ascii=False, default=str)
        return inputs

    def _count(self, ctx: Any, usage: Any, agents: list[Any]) -> None:
        if usage is None:
            return
        get = usage.get if isinstance(usage, Mapping) else functools.partial(getattr, usage)
        calls = get("successful_requests", 0) or 0
        if not calls:
            return
        models = {getattr(getattr(a, "llm", None), "model", None) for a in agents}
        model = models.pop() if len(models) == 1 else None
        self.usage.add(
            ctx,
            {
                "input_tokens": get("prompt_tokens", 0),
                "output_tokens": get("completion_tokens", 0),
                "total_tokens": get("total_tokens", 0),
            },
            model if isinstance(model, str) else None,
            calls=calls,
        )

    def stats(self) -> dict[str, Any]:
        out = super().stats()
        if self.usage.calls:
            out["usage"] = self.usage.to_dict()
        return out

    def clone(self, name: str) -> Agent:
        new = super().clone(name)
        new.usage = TokenUsage()  # type: ignore[attr-defined]
        return new


def _answer(out: Any) -> Any:
    if getattr(out, "pydantic", None) is not None:
        return out.pydantic
    if getattr(out, "json_dict", None):
        return out.json_dict
    return out.raw


def _private_copy(crew: Any) -> Any:
    """A copy of ``crew`` for one task: CrewAI's own copy (what ``kickoff_for_each`` runs),
    with LLMs that count this task's tokens only."""
    new = crew.copy()
    for agent in new.agents:
        _fresh_llms(agent)
    if new.manager_agent is not None:
        _fresh_llms(new.manager_agent)
    return new


def _private_agent(agent: Any) -> Any:
    new = agent.copy()
    _fresh_llms(new)
    return new


def _fresh_llms(agent: Any) -> None:
    for attr in ("llm", "function_calling_llm"):
        llm = getattr(agent, attr, None)
        usage = getattr(llm, "_token_usage", None)
        if isinstance(usage, dict):
            fresh = copy.copy(llm)
            fresh._token_usage = dict.fromkeys(usage, 0)
            setattr(agent, attr, fresh)


@functools.cache
def _load() -> Any:
    import crewai

    _quiet()
    return crewai


def _crewai(source: str | None, name: str | None) -> Any:
    try:
        return _load()
    except ImportError:
        raise HandlerError(
            f"{where(source, agent=name)}kind 'crewai' needs the crewai package: {_INSTALL}",
            file=source,
            field="crew",
        ) from None


def _quiet() -> None:
    """Keep CrewAI from talking on the terminal during a run. On a first run in a folder it
    asks (on stdout, waiting up to 20 s for an answer on stdin) whether to show its traces, in
    the middle of podium's live display and of what ``podium run --json`` prints; and a
    ``verbose`` crew prints its progress on stdout. The question is not asked, and what a
    verbose crew prints goes to stderr. Best effort: CrewAI's internals move."""
    try:
        from crewai.events.event_listener import event_listener
        from crewai.events.listeners.tracing.trace_listener import TraceCollectionListener
        from rich.console import Console

        TraceCollectionListener().first_time_handler.is_first_time = False
        event_listener.formatter.console = Console(stderr=True, width=None)
    except Exception:  # pragma: no cover - another CrewAI version
        pass
