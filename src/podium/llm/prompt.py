"""The prompt an LLM task starts from: a template over the task's input and its dependencies'
results, or a default that shows both.

A template is text with ``{{ path }}`` fields: ``{{input}}`` (the whole input), ``{{input.
question}}`` (one field, dots go deeper, numbers index lists), ``{{deps}}`` (every dependency's
result), ``{{deps.research}}`` (one), ``{{task.id}}`` and ``{{agent}}``. Strings are inserted
as they are, anything else as JSON. A field that names nothing fails the task with an error
that says which field and what there is.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import ValidationError

__all__ = ["check_template", "default_prompt", "render"]

_FIELD = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")
ROOTS = ("input", "deps", "task", "agent")
TEXT_KEYS = ("task", "prompt", "question", "goal", "text")  # input keys read as the request
MAX_CHARS = 20_000  # of one inserted value, so a huge dependency result cannot blow the prompt


def check_template(template: str, *, agent: str) -> None:
    """A ValidationError when a field starts with something other than the four roots."""
    for m in _FIELD.finditer(template):
        root = m.group(1).split(".", 1)[0]
        if root not in ROOTS:
            raise ValidationError(
                f"agent {agent!r}: prompt field {{{{{m.group(1)}}}}} starts with {root!r}; "
                f"fields start with one of {', '.join(ROOTS)} (e.g. {{{{input.question}}}}).",
                field="prompt",
            )


def show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + f"\n[... {len(text) - MAX_CHARS} more characters cut]"
    return text


def render(template: str, scope: dict[str, Any], *, agent: str, task: str) -> str:
    """``template`` with its fields filled from ``scope`` (input, deps, task, agent)."""

    def fill(m: re.Match[str]) -> str:
        path = m.group(1).split(".")
        value: Any = scope
        for i, key in enumerate(path):
            if isinstance(value, dict) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                here = ".".join(path[:i]) or "the prompt"
                have = (
                    ", ".join(sorted(map(str, value))[:20])
                    if isinstance(value, dict)
                    else type(value).__name__
                )
                raise ValidationError(
                    f"task {task!r}: agent {agent!r}: prompt field {{{{{m.group(1)}}}}}: "
                    f"{here} has no {key!r} (it has: {have or 'nothing'}).",
                    task=task,
                    field="prompt",
                )
        return show(value)

    return _FIELD.sub(fill, template)


def default_prompt(input: Any, deps: dict[str, Any]) -> str:
    """The task's request (``input.task``, ``prompt``, ``question``... or the input), the rest
    of its input, and its dependencies' results, each under a heading."""
    parts = []
    rest = input
    if isinstance(input, str):
        parts.append(input)
        rest = None
    elif isinstance(input, dict):
        key = next((k for k in TEXT_KEYS if isinstance(input.get(k), str)), None)
        if key is not None:
            parts.append(input[key])
            rest = {k: v for k, v in input.items() if k != key}
    if rest:
        parts.append("Input:\n" + show(rest))
    for tid, result in deps.items():
        parts.append(f"Result of task {tid!r}:\n{show(result)}")
    return "\n\n".join(parts) or "Do the task."
