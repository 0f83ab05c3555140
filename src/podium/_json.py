"""Checks that a value is JSON: results and inputs cross process and machine boundaries."""

from __future__ import annotations

from typing import Any

_ATOMS = frozenset((str, int, float, bool, type(None)))


def json_problem(value: Any) -> str | None:
    """Where ``value`` stops being JSON (``"['items'][2]: a set"``), or None when it is JSON."""
    t = type(value)
    if t in _ATOMS:
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"a key {k!r} ({type(k).__name__}; JSON keys are strings)"
            if type(v) not in _ATOMS:
                p = json_problem(v)
                if p is not None:
                    return f"[{k!r}]" + (p if p.startswith("[") else f": {p}")
        return None
    if isinstance(value, list):
        for i, v in enumerate(value):
            if type(v) not in _ATOMS:
                p = json_problem(v)
                if p is not None:
                    return f"[{i}]" + (p if p.startswith("[") else f": {p}")
        return None
    if isinstance(value, str | int | float):  # subclasses: enums, numpy-free int types
        return None
    if isinstance(value, tuple):
        return "a tuple (return a list instead)"
    return f"a {type(value).__name__}"
