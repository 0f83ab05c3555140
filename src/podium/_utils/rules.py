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

__all__ = ["check_concurrency", "check_rate_limit", "check_resources", "resolve_key"]

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


_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}
_AMOUNT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*")


def _amount(name: str, value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if name == "memory" and isinstance(value, str):
        m = _AMOUNT.fullmatch(value.lower())
        if m is None:
            return None
        number, unit, binary = m.groups()
        scale = 1024 ** "_kmgt".index(unit) if binary and unit else _UNITS[unit]
        return float(number) * scale
    return None


def check_resources(
    value: Any, *, owner: str = "", task: str | None = None
) -> dict[str, float] | None:
    """``{"cpu": 2, "memory": "512MB", "gpu": 1, "<custom>": n}`` checked, memory in bytes
    (``512MB``, ``2GiB`` or a number), every amount a number >= 0; or None."""
    if value is None:
        return None
    w = _where(owner)
    if not isinstance(value, Mapping) or not value:
        raise ValidationError(
            f"{w}resources must be a mapping like {{cpu: 2, memory: 512MB, gpu: 1}}, "
            f"not {value!r}.",
            task=task,
            field="resources",
        )
    out: dict[str, float] = {}
    for name, raw in value.items():
        n = _amount(str(name), raw)
        if n is None:
            want = "an amount such as 512MB or 2GiB" if name == "memory" else "a number >= 0"
            raise ValidationError(
                f"{w}resources: {name} must be {want}, not {raw!r}.",
                task=task,
                field=f"resources.{name}",
            )
        if n:
            out[str(name)] = n
    return out or None
