"""Tools: Python functions an LLM agent may call (``ACTION: TOOL`` or a native tool call).

A tool is a function (sync or async) with keyword arguments; its name, docstring and
signature tell the model what it does. A parameter named ``ctx`` gets the task's `Context`.
Sync tools run in a thread. A tool's result goes back to the model as text (JSON for
anything but a string); an exception goes back as an error, and the task goes on.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from ..errors import ValidationError

__all__ = ["Tool", "as_tool"]

_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}
_JSON_TYPES.update({t.__name__: name for t, name in list(_JSON_TYPES.items())})


class Tool:
    """A function the model may call, with the JSON schema of its arguments."""

    __slots__ = ("description", "fn", "is_async", "name", "parameters", "takes_ctx")

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        doc = inspect.getdoc(fn) or ""
        self.description = doc.split("\n\n", 1)[0][:500] or f"the {self.name} tool"
        self.is_async = inspect.iscoroutinefunction(fn)
        sig = inspect.signature(fn)
        props: dict[str, Any] = {}
        required = []
        self.takes_ctx = "ctx" in sig.parameters
        for p in sig.parameters.values():
            if p.name == "ctx" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            kind = _JSON_TYPES.get(p.annotation) if p.annotation is not p.empty else None
            props[p.name] = {"type": kind} if kind else {}
            if p.default is p.empty:
                required.append(p.name)
        self.parameters = {"type": "object", "properties": props, "required": required}

    def spec(self) -> dict[str, Any]:
        """The tool as the protocol's ``tools`` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def signature(self) -> str:
        args = ", ".join(self.parameters["properties"])
        return f"{self.name}({args}): {self.description}"

    async def call(self, args: dict[str, Any], ctx: Any) -> Any:
        if self.takes_ctx:
            args = {**args, "ctx": ctx}
        if self.is_async:
            return await self.fn(**args)
        return await asyncio.to_thread(self.fn, **args)


def as_tool(obj: Any, *, agent: str) -> Tool:
    if isinstance(obj, Tool):
        return obj
    if not callable(obj):
        raise ValidationError(f"agent {agent!r}: tool {obj!r} is not a function.", field="tools")
    return Tool(obj)
