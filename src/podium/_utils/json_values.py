"""Checks that a value is JSON: results and inputs cross process and machine boundaries."""

from __future__ import annotations

import math
from typing import Any

# float is not here: NaN and the infinities are not JSON (PostgreSQL and JSON.parse reject them)
_ATOMS = frozenset((str, int, bool, type(None)))


def json_problem(value: Any) -> str | None:
    """Where ``value`` stops being JSON (``"['items'][2]: a set"``), or None when it is JSON."""
    try:
        return _problem(value)
    except RecursionError:
        return "a value nested too deeply to be JSON"


def _problem(value: Any) -> str | None:
    t = type(value)
    if t in _ATOMS:
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} (not a JSON number)"
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"a key {k!r} ({type(k).__name__}; JSON keys are strings)"
            if type(v) not in _ATOMS:
                p = _problem(v)
                if p is not None:
                    return f"[{k!r}]" + (p if p.startswith("[") else f": {p}")
        return None
    if isinstance(value, list):
        for i, v in enumerate(value):
            if type(v) not in _ATOMS:
                p = _problem(v)
                if p is not None:
                    return f"[{i}]" + (p if p.startswith("[") else f": {p}")
        return None
    if isinstance(value, str | int):  # subclasses: enums, numpy-free int types
        return None
    if isinstance(value, tuple):
        return "a tuple (return a list instead)"
    return f"a {type(value).__name__}"
