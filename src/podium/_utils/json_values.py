"""Checks that a value is JSON: results and inputs cross process and machine boundaries.

JSON here also means what every later step can handle: no integer of more than
``MAX_INT_DIGITS`` digits (Python cannot even print one) and no nesting deeper than
``MAX_DEPTH`` levels, so a value accepted now never breaks ``--json`` or a store later.
"""

from __future__ import annotations

import math
from typing import Any

from .limits import MAX_DEPTH, MAX_INT_DIGITS, big_int, excerpt

# float and int are not here: NaN and the infinities are not JSON (PostgreSQL and JSON.parse
# reject them), and an integer may be too long to write
_ATOMS = frozenset((str, bool, type(None)))
_BOUND = 10**MAX_INT_DIGITS  # an int inside it is fine (checked inline in the loops below)


def json_problem(value: Any) -> str | None:
    """Where ``value`` stops being JSON (``"['items'][2]: a set"``), or None when it is JSON."""
    try:
        problem = _problem(value, MAX_DEPTH)
    except RecursionError:
        return f"a value nested deeper than {MAX_DEPTH} levels"
    if problem is not None and len(problem) > 200:  # a long path: keep its end
        problem = "..." + problem[-197:]
    return problem


def _problem(value: Any, room: int) -> str | None:
    t = type(value)
    if t in _ATOMS:
        return None
    if t is int:
        return _int_problem(value)
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} (not a JSON number)"
    if isinstance(value, dict | list) and room <= 0:
        return f"a value nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"a key {excerpt(k)} ({type(k).__name__}; JSON keys are strings)"
            tv = type(v)
            if tv not in _ATOMS and not (tv is int and -_BOUND < v < _BOUND):
                p = _problem(v, room - 1)
                if p is not None:
                    return f"[{excerpt(k, 40)}]" + (p if p.startswith("[") else f": {p}")
        return None
    if isinstance(value, list):
        for i, v in enumerate(value):
            tv = type(v)
            if tv not in _ATOMS and not (tv is int and -_BOUND < v < _BOUND):
                p = _problem(v, room - 1)
                if p is not None:
                    return f"[{i}]" + (p if p.startswith("[") else f": {p}")
        return None
    if isinstance(value, int):  # subclasses: bool-free enums, numpy-free int types
        return _int_problem(value)
    if isinstance(value, str):
        return None
    if isinstance(value, tuple):
        return "a tuple (return a list instead)"
    return f"a {type(value).__name__}"


def _int_problem(value: int) -> str | None:
    if big_int(value):
        return f"an integer with more than {MAX_INT_DIGITS:,} digits (podium's limit)"
    return None
