"""Agent kinds: every way of running an agent, behind one small interface (see `base`).

``kind: python`` (the default) runs a Python function or class in this process; ``kind:
langchain`` a LangChain Runnable; ``kind: mcp`` the tools of an MCP server; ``kind: crewai`` a
CrewAI crew or agent; ``kind: autogen`` an AutoGen agent or team; ``kind: llm`` (`podium.llm`)
a chat model behind an OpenAI-compatible endpoint; ``kind: ray`` a Python handler whose
replicas are Ray actors. More kinds register here; each is imported only when a workflow uses
it (and its library only then).
"""

from __future__ import annotations

import difflib
import importlib

from ...errors import ValidationError
from .base import AgentKind, AgentSpec, BreakerSpec, Origin, ReplicasSpec

__all__ = [
    "AgentKind",
    "AgentSpec",
    "BreakerSpec",
    "Origin",
    "ReplicasSpec",
    "get_kind",
    "kind_names",
    "register_kind",
]

# name -> a kind, or "module:Class" of one still to import (podium's own, never from data)
_KINDS: dict[str, AgentKind | str] = {
    "python": "podium.agents.kinds.python:PythonKind",
    "langchain": "podium.agents.kinds.langchain:LangChainKind",
    "mcp": "podium.agents.kinds.mcp:MCPKind",
    "crewai": "podium.agents.kinds.crewai:CrewAIKind",
    "autogen": "podium.agents.kinds.autogen:AutoGenKind",
    "llm": "podium.llm.kind:LLMKind",
    "http": "podium.agents.kinds.http:HttpKind",
    "ray": "podium.agents.kinds.ray:RayKind",
}


def register_kind(kind: AgentKind | type[AgentKind]) -> AgentKind:
    """Make ``kind: <kind.name>`` available in workflow files (replacing one of that name)."""
    if isinstance(kind, type):
        kind = kind()
    name = getattr(kind, "name", None)
    if not isinstance(name, str) or not name:
        raise ValidationError(f"agent kind {kind!r} has no name.", field="kind")
    _KINDS[name] = kind
    return kind


def kind_names() -> list[str]:
    return sorted(_KINDS)


def get_kind(name: str, *, file: str | None = None, agent: str | None = None) -> AgentKind:
    """The kind called ``name``; a ValidationError naming the file and agent if none is."""
    entry = _KINDS.get(name) if isinstance(name, str) else None
    if entry is None:
        prefix = f"{file}: " if file else ""
        if agent is not None:
            prefix += f"agent {agent!r}: "
        names = kind_names()
        hint = difflib.get_close_matches(str(name), names, n=1)
        fix = f"Did you mean {hint[0]!r}?" if hint else f"Use one of: {', '.join(names)}."
        raise ValidationError(
            f"{prefix}kind {name!r} is not an agent kind. {fix}", file=file, field="kind"
        )
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = _KINDS[name] = getattr(importlib.import_module(module), attr)()
    return entry
