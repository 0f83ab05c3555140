"""What the kinds that run other frameworks' agents share (``langchain``, ``mcp``, ``crewai``,
``autogen``): the task as one input value (or one message of text), a framework's output made
JSON, and token usage recorded.

Nothing here imports a framework: objects are recognised through the modules already loaded
(``sys.modules``), so a workflow that uses one adapter never loads another's library.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import sys
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["TokenUsage", "describe", "task_input", "task_text", "to_json"]


def describe(obj: Any) -> str:
    """What ``obj`` is, for a message: ``"a int"``, ``"the class AssistantAgent"``."""
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    return f"a {type(obj).__name__}"


def task_input(ctx: Any, deps_key: str | None = "deps") -> Any:
    """The value handed to a framework's agent: the task's input, with the results of its
    dependencies under ``deps_key`` (a mapping of task id to result) when it has any.

    A mapping input gets the key added; any other input is wrapped as
    ``{"input": input, deps_key: {...}}``. ``deps_key=None`` passes the input alone.
    """
    value = ctx.input
    if deps_key is None or not ctx.task.depends_on:
        return value
    deps = ctx.deps
    if value is None:
        return {deps_key: deps}
    if isinstance(value, Mapping):
        return {**value, deps_key: deps}
    return {"input": value, deps_key: deps}


def task_text(ctx: Any, deps_key: str | None = "deps") -> str:
    """The task as one message for a chat agent: a text input as it is, anything else as JSON;
    the dependencies' results (when there are any and ``deps_key`` is set) follow as JSON.

    >>> task_text(ctx)  # input "Summarise the notes", depends on "notes"
    'Summarise the notes\n\nResults of the tasks this one depends on (JSON):\n{"notes": ...}'
    """
    value = ctx.input
    if value is not None and not isinstance(value, str):
        return json.dumps(task_input(ctx, deps_key), ensure_ascii=False, default=str)
    text = value or ""
    if deps_key is not None and ctx.task.depends_on:
        deps = json.dumps(ctx.deps, ensure_ascii=False, default=str)
        text += f"\n\nResults of the tasks this one depends on (JSON):\n{deps}"
    return text.strip()


def to_json(value: Any, _depth: int = 0) -> Any:
    """``value`` as JSON values, converting what frameworks return:

    - LangChain messages: ``{"type": "ai", "content": ..., ...}`` with the fields that are
      set (tool calls, usage, a name), and documents: ``{"page_content", "metadata"}``;
    - pydantic models: ``model_dump(mode="json")``; dataclasses: their fields;
    - tuples and sets: lists; dates and times: ISO 8601 text; UUIDs and paths: text; enums:
      their value.

    Anything else is left as it is, so the engine's check names what is not JSON.
    """
    if value is None or type(value) in (str, int, float, bool):
        return value
    if _depth > 100:  # a cycle (or absurd nesting): let the engine's check say so
        return value
    d = _depth + 1
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else _key(k): to_json(v, d) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v, d) for v in value]
    lc = sys.modules.get("langchain_core.messages")
    if lc is not None and isinstance(value, lc.BaseMessage):
        out = value.model_dump(mode="json", exclude_defaults=True)
        if str(out.get("id", "")).startswith("lc_"):  # an id LangChain made up for the run
            del out["id"]
        return {"type": value.type, **out}
    docs = sys.modules.get("langchain_core.documents")
    if docs is not None and isinstance(value, docs.Document):
        out = {"page_content": value.page_content, "metadata": to_json(value.metadata, d)}
        if value.id is not None:
            out["id"] = value.id
        return out
    pd = sys.modules.get("pydantic")
    if pd is not None and isinstance(value, pd.BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name), d) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_json(value.value, d)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    return value


def _key(k: Any) -> Any:
    return str(k) if isinstance(k, int | float | bool | uuid.UUID | enum.Enum) else k


class TokenUsage:
    """Tokens an agent's model calls used: summed per agent (in its ``stats()``, so in
    ``podium run --json`` and the stored run's statistics) and reported per call with
    `Context.record_usage` (so on the task, in the run's totals and its budget, and stored as
    a run event ``usage``)."""

    __slots__ = ("calls", "input_tokens", "output_tokens", "total_tokens")

    def __init__(self) -> None:
        self.input_tokens = self.output_tokens = self.total_tokens = self.calls = 0

    def add(
        self, ctx: Any, usage: Mapping[str, Any], model: str | None = None, calls: int = 1
    ) -> None:
        """Count one model call's ``usage`` (``input_tokens``, ``output_tokens``,
        ``total_tokens``, as LangChain's ``usage_metadata`` has them) for ``ctx``'s task;
        ``calls`` says how many calls it adds up when a framework reports only totals."""
        i = _int(usage.get("input_tokens"))
        o = _int(usage.get("output_tokens"))
        t = _int(usage.get("total_tokens")) or i + o
        self.input_tokens += i
        self.output_tokens += o
        self.total_tokens += t
        self.calls += calls
        record = getattr(ctx, "record_usage", None)
        if record is not None:  # on the task, the run's totals and budget, and the store
            record(prompt_tokens=i, completion_tokens=o, model=model)

    def to_dict(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
        }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
