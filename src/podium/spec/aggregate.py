"""Ways to combine the results of several delegated tasks into one."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..errors import ValidationError

__all__ = ["AGGREGATES", "aggregate", "canonical"]


def canonical(value: Any) -> str:
    """A JSON value as a canonical string: equal values give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _concat(results: list[Any]) -> list[Any]:
    """Lists are joined, other values appended, in the order the subtasks were given."""
    out: list[Any] = []
    for r in results:
        if isinstance(r, list):
            out.extend(r)
        else:
            out.append(r)
    return out


def _vote(results: list[Any]) -> Any:
    """The most common result (ties go to the one given first)."""
    counts: dict[str, int] = {}
    first: dict[str, Any] = {}
    for r in results:
        k = canonical(r)
        counts[k] = counts.get(k, 0) + 1
        first.setdefault(k, r)
    best = max(counts, key=lambda k: counts[k])  # max keeps the first of equal counts
    return first[best]


def _merge(results: list[Any]) -> dict[str, Any]:
    """Dicts merged left to right (later keys win)."""
    out: dict[str, Any] = {}
    for i, r in enumerate(results):
        if not isinstance(r, dict):
            raise ValidationError(
                f"aggregate 'merge' needs every result to be an object; result {i + 1} is "
                f"{type(r).__name__}. Use 'concat' or a function instead.",
                field="aggregate",
            )
        out.update(r)
    return out


AGGREGATES: dict[str, Callable[[list[Any]], Any]] = {
    "concat": _concat,
    "vote": _vote,
    "merge": _merge,
}


def aggregate(results: list[Any], how: str | Callable[[list[Any]], Any] | None) -> Any:
    """Combine ``results`` by ``how``: None (the list as is), a name in `AGGREGATES`, or a
    function of the list."""
    if how is None:
        return results
    if callable(how):
        return how(results)
    try:
        fn = AGGREGATES[how]
    except KeyError:
        raise ValidationError(
            f"aggregate {how!r} is not one of {', '.join(AGGREGATES)} (or pass a function).",
            field="aggregate",
        ) from None
    return fn(results)
