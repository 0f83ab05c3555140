"""``kind: langchain``: a LangChain Runnable (a chain, an agent, a LangGraph compiled graph)
runs as an agent.

``runnable: module:attr`` names the Runnable (looked up next to the workflow file first, like
handlers); a plain function is wrapped in a ``RunnableLambda``. Each task calls
``await runnable.ainvoke(input, config)`` with the task's input (and its dependencies' results
under ``deps``, see `_interop.task_input`) and returns the output made JSON
(`_interop.to_json`: messages, documents, pydantic models converted).

While it runs, a callback handler listens to the models inside the Runnable: their tokens go to
`Context.stream` (shown live under `podium run`'s progress bar) and the ``usage_metadata``
they report is added up (`TokenUsage`). langchain-core is imported when such an agent is
built, never before.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterable
from typing import Any

from pydantic import Field

from ..._utils.code import where
from ...errors import HandlerError
from ..agent import Agent
from ._interop import TokenUsage, task_input, to_json
from .base import AgentKind, AgentSpec, Origin

__all__ = ["LangChainAgent", "LangChainKind", "LangChainSpec"]

_INSTALL = "pip install 'podium[langchain]'"


class LangChainSpec(AgentSpec):
    runnable: str = Field(min_length=1)
    deps_key: str | None = "deps"
    stream: bool = True
    config: dict[str, Any] = Field(default_factory=dict)


class LangChainKind(AgentKind):
    name = "langchain"
    spec = LangChainSpec

    def build(self, spec: LangChainSpec, origin: Origin) -> Agent:
        obj = origin.load(spec, "runnable")
        return LangChainAgent(
            obj,
            deps_key=spec.deps_key,
            stream=spec.stream,
            config=spec.config,
            _source=origin.file,
            _ref=spec.runnable,
            **spec.agent_options(),
        )


class LangChainAgent(Agent):
    """An agent that runs a LangChain Runnable (a chain, an agent, a LangGraph graph).

    >>> from langchain_core.runnables import RunnableLambda
    >>> shout = RunnableLambda(lambda text: text.upper())
    >>> orch.register(LangChainAgent(shout, name="shouter", capabilities=["shout"]))

    ``deps_key`` is the key under which a task's dependencies' results are added to a mapping
    input (``None``: not passed); ``stream`` shows the tokens of the models inside live;
    ``config`` is LangChain's ``RunnableConfig`` for every call (``configurable``,
    ``recursion_limit``, ``tags``...). Token usage the models report is in ``self.usage`` and
    in the agent's ``stats()``.
    """

    def __init__(
        self,
        runnable: Any,
        name: str | None = None,
        capabilities: Iterable[str] | None = None,
        capacity: int | None = None,
        *,
        deps_key: str | None = "deps",
        stream: bool = True,
        config: dict[str, Any] | None = None,
        _source: str | None = None,
        _ref: str | None = None,
        **options: Any,
    ) -> None:
        self.runnable = _as_runnable(runnable, name, _source, _ref)
        self.deps_key = deps_key
        self.stream = stream
        self.config = dict(config or {})
        self.usage = TokenUsage()
        super().__init__(name or self.runnable.get_name(), capabilities, capacity, **options)

    async def handle(self, ctx: Any) -> Any:
        config = dict(self.config)
        watch = _watcher(self.stream)(self, ctx)
        config["callbacks"] = [*(config.get("callbacks") or ()), watch]
        config.setdefault("run_name", f"{ctx.agent}:{ctx.task_id}")
        config["metadata"] = {
            **config.get("metadata", {}),
            "podium_run": ctx.run_id,
            "podium_task": ctx.task_id,
        }
        out = await self.runnable.ainvoke(task_input(ctx, self.deps_key), config)
        return to_json(out)

    def stats(self) -> dict[str, Any]:
        out = super().stats()
        if self.usage.calls:
            out["usage"] = self.usage.to_dict()
        return out

    def clone(self, name: str) -> Agent:
        new = super().clone(name)
        new.usage = TokenUsage()  # type: ignore[attr-defined]
        return new


def _as_runnable(obj: Any, name: str | None, source: str | None, ref: str | None) -> Any:
    try:
        from langchain_core.runnables import Runnable, RunnableLambda
    except ImportError:
        raise HandlerError(
            f"{where(source, agent=name)}kind 'langchain' needs the langchain-core package: "
            f"{_INSTALL}",
            file=source,
            field="runnable",
        ) from None
    if isinstance(obj, Runnable):
        return obj
    if callable(obj) and not isinstance(obj, type):
        return RunnableLambda(obj)
    shown = repr(ref) if ref else repr(obj)[:80]
    raise HandlerError(
        f"{where(source, agent=name)}runnable {shown} is a {type(obj).__name__}, not a "
        "LangChain Runnable (a chain, an agent, a compiled LangGraph graph) or a function.",
        file=source,
        field="runnable",
    )


@functools.cache
def _watcher(stream: bool) -> type:
    """The callback handler class (made once: langchain-core loads only when used)."""
    from langchain_core.callbacks import BaseCallbackHandler

    class Watch(BaseCallbackHandler):
        """Hears the models inside a Runnable: tokens to the live display, usage counted."""

        run_inline = True  # called on the loop, not in a thread of its own (async runnables)

        def __init__(self, agent: LangChainAgent, ctx: Any) -> None:
            self.agent = agent
            self.ctx = ctx
            self.loop = asyncio.get_running_loop()
            self.thread = threading.get_ident()

        def _on_loop(self, fn: Any, *args: Any) -> None:
            # a sync model inside a sync step runs in a worker thread: the run's state is
            # the loop's, so hand the call over instead of touching it from there
            if threading.get_ident() == self.thread:
                fn(*args)
            else:
                self.loop.call_soon_threadsafe(fn, *args)

        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            if stream and isinstance(token, str) and token:
                self._on_loop(self.ctx.stream, token)

        def on_llm_end(self, response: Any, **kwargs: Any) -> None:
            for generations in response.generations:
                for g in generations:
                    message = getattr(g, "message", None)
                    usage = getattr(message, "usage_metadata", None)
                    if usage:
                        meta = getattr(message, "response_metadata", None) or {}
                        model = meta.get("model_name") or meta.get("model")
                        self._on_loop(self.agent.usage.add, self.ctx, usage, model)

    if not stream:
        return Watch

    class StreamingWatch(Watch):
        # The two methods LangChain's own streaming handlers have: with them, chat models
        # stream their tokens into the callbacks even when the Runnable is invoked.
        def tap_output_aiter(self, run_id: Any, output: Any) -> Any:
            return output

        def tap_output_iter(self, run_id: Any, output: Any) -> Any:
            return output

    return StreamingWatch
