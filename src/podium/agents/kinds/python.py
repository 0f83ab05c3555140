"""``kind: python`` (the default): a Python function or class, run in this process.

``handler: module:function`` names an ``async def`` (run on the engine's loop), a plain
``def`` (run in a thread, or on the loop with ``executor: inline``), an `Agent` subclass, or a
class with ``handle(self, ctx)``. The module is looked up next to the workflow file first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..._utils.code import import_ref, where
from ...errors import HandlerError, ValidationError
from ..agent import Agent
from .base import AgentKind, AgentSpec, Origin

__all__ = ["PythonAgentSpec", "PythonKind", "resolve_handler"]


class PythonAgentSpec(AgentSpec):
    handler: str = Field(min_length=1)
    executor: Literal["async", "thread", "inline"] | None = None


class PythonKind(AgentKind):
    name = "python"
    spec = PythonAgentSpec

    def build(self, spec: PythonAgentSpec, origin: Origin) -> Agent:
        source = origin.file
        obj = resolve_handler(spec.handler, base=origin.base, source=source, agent=spec.name)
        options = spec.agent_options()
        options["executor"] = spec.executor
        if isinstance(obj, type) and issubclass(obj, Agent):
            return _instantiate(obj, spec, source, **options)
        if isinstance(obj, type):
            if not callable(getattr(obj, "handle", None)):
                raise HandlerError(
                    f"{source}: agent {spec.name!r}: handler {spec.handler!r} is a class without "
                    "a handle(self, ctx) method.",
                    file=source,
                    field="handler",
                )
            return Agent(handler=_instantiate(obj, spec, source).handle, **options)
        return Agent(handler=obj, **options)


def _instantiate(cls: type, a: PythonAgentSpec, source: str | None, **options: Any) -> Any:
    """An instance of a handler class; a HandlerError naming the agent when it cannot be made."""
    try:
        return cls(**options)
    except (ValidationError, HandlerError):
        raise
    except Exception as exc:
        call = (
            f"{cls.__name__}(name=..., capabilities=..., ...)" if options else f"{cls.__name__}()"
        )
        raise HandlerError(
            f"{source}: agent {a.name!r}: handler {a.handler!r}: {call} raised "
            f"{type(exc).__name__}: {exc}",
            file=source,
            field="handler",
        ) from None


def resolve_handler(
    ref: str,
    *,
    base: Path | None = None,
    source: str | None = None,
    agent: str | None = None,
) -> Any:
    """Import ``module:attr`` (``attr`` may be dotted); ``base`` is searched first."""
    obj = import_ref(
        ref, label=f"handler {ref!r}", base=base, file=source, agent=agent, field="handler"
    )
    if not callable(obj):
        raise HandlerError(
            f"{where(source, agent=agent)}handler {ref!r} is a {type(obj).__name__}, not a "
            "function or class.",
            file=source,
            field="handler",
        )
    return obj
