"""Checks for the scheduler's rules that tasks, capabilities, agents and workflows declare:
``concurrency: {key, max}`` and ``rate_limit: {requests, tokens, per}``.

They live at the bottom layer because `Agent`, `Task` and `Workflow` (three layers) all take
them; the engine's gates (``podium.engine.gates``) enforce them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError

__all__ = ["check_concurrency", "check_rate_limit", "resolve_key"]

_FIELD = re.compile(r"\{([^{}]*)\}")
_ROOTS = ("input", "id", "capability", "agent")


def _where(owner: str) -> str:
    return f"{owner}: " if owner else ""


def check_concurrency(value: Any, *, owner: str = "", task: str | None = None) -> dict | None:
    """``{"key": "{input.tenant}", "max": 5}`` checked, or None.

    ``key`` is a template: ``{input.a.b}`` is a field of the task's input, ``{id}``,
    ``{capability}`` and ``{agent}`` the task's own; the rest is literal text.
    """
    if value is None:
        return None
    w = _where(owner)
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{w}concurrency must be a mapping like {{key: '{{input.tenant}}', max: 5}}, "
            f"not {value!r}.",
            task=task,
            field="concurrency",
        )
    extra = set(value) - {"key", "max"}
    if extra:
        raise ValidationError(
            f"{w}concurrency: unknown field {sorted(extra)[0]!r}. Allowed: key, max.",
            task=task,
            field=f"concurrency.{sorted(extra)[0]}",
        )
    key, most = value.get("key"), value.get("max")
    if not isinstance(key, str) or not key:
        raise ValidationError(
            f"{w}concurrency: key must be a non-empty string such as '{{input.tenant}}', "
            f"not {key!r}.",
            task=task,
            field="concurrency.key",
        )
    for name in _FIELD.findall(key):
        if name.split(".")[0] not in _ROOTS:
            raise ValidationError(
                f"{w}concurrency: key {key!r} names {{{name}}}; a field must start with "
                f"{', '.join(_ROOTS)} (e.g. {{input.tenant}}).",
                task=task,
                field="concurrency.key",
            )
    if isinstance(most, bool) or not isinstance(most, int) or most < 1:
        raise ValidationError(
            f"{w}concurrency: max must be a whole number of at least 1, not {most!r}.",
            task=task,
            field="concurrency.max",
        )
    return {"key": key, "max": most}


def check_rate_limit(value: Any, *, owner: str = "") -> dict | None:
    """``{"requests": 500, "tokens": 200000, "per": 60}`` checked (requests or tokens may be
    left out, not both; ``per`` defaults to 1 second), or None."""
    if value is None:
        return None
    w = _where(owner)
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{w}rate_limit must be a mapping like {{requests: 500, tokens: 200000, per: 60}}, "
            f"not {value!r}.",
            field="rate_limit",
        )
    extra = set(value) - {"requests", "tokens", "per"}
    if extra:
        raise ValidationError(
            f"{w}rate_limit: unknown field {sorted(extra)[0]!r}. Allowed: requests, tokens, per.",
            field=f"rate_limit.{sorted(extra)[0]}",
        )
    out: dict[str, Any] = {"requests": None, "tokens": None, "per": 1.0}
    for name in ("requests", "tokens"):
        n = value.get(name)
        if n is None:
            continue
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValidationError(
                f"{w}rate_limit: {name} must be a whole number of at least 1, not {n!r}.",
                field=f"rate_limit.{name}",
            )
        out[name] = n
    per = value.get("per", 1.0)
    if isinstance(per, bool) or not isinstance(per, int | float) or not per > 0:
        raise ValidationError(
            f"{w}rate_limit: per must be a positive number of seconds, not {per!r}.",
            field="rate_limit.per",
        )
    out["per"] = float(per)
    if out["requests"] is None and out["tokens"] is None:
        raise ValidationError(
            f"{w}rate_limit: give requests, tokens or both (per {per:g}s).",
            field="rate_limit",
        )
    return out


def resolve_key(template: str, task: Any) -> str:
    """The concurrency key of ``task``: its template with each ``{field}`` filled in (a
    missing input field reads as an empty string)."""
    if "{" not in template:
        return template

    def one(m: re.Match[str]) -> str:
        path = m.group(1).split(".")
        value: Any = getattr(task, path[0], None)
        for part in path[1:]:
            value = value.get(part) if isinstance(value, Mapping) else None
        return "" if value is None else str(value)

    return _FIELD.sub(one, template)
