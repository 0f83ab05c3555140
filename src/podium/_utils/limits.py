"""The limits podium puts on what files and handlers give it, in one place (docs/safety.md
lists them). Each keeps a careless or hostile value from costing unbounded time or memory, or
from breaking a later step (``--json``, a store) after it was accepted.
"""

from __future__ import annotations

import reprlib

__all__ = [
    "MAX_AGENTS",
    "MAX_ALIAS_NODES",
    "MAX_BREAKER_FAILURES",
    "MAX_CAPACITY",
    "MAX_CONCURRENCY",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_INT_DIGITS",
    "MAX_NAME_CHARS",
    "MAX_PATTERN_ITEMS",
    "MAX_REPLICAS",
    "MAX_TASKS",
    "big_int",
    "excerpt",
]

MAX_FILE_BYTES = 128 * 1024 * 1024  # a workflow file (100,000 tasks take about 10 MB)
MAX_DEPTH = 100  # levels of nesting in a file, an input or a result
MAX_ALIAS_NODES = 10_000  # values YAML aliases (*name) may add to a file in all
MAX_INT_DIGITS = 4300  # Python's own limit for turning an integer into text
MAX_TASKS = 1_000_000
MAX_AGENTS = 10_000
MAX_NAME_CHARS = 1000  # a task id, an agent name, a capability
MAX_CAPACITY = 1_000_000  # tasks one agent runs at once
MAX_REPLICAS = 1000  # copies of one agent
MAX_CONCURRENCY = 1_000_000
MAX_BREAKER_FAILURES = 1_000_000
MAX_PATTERN_ITEMS = 1000  # voters, bidders, stages, subtasks, swarm members, rounds

# an int is too big when it has more than MAX_INT_DIGITS decimal digits
_INT_BOUND = 10**MAX_INT_DIGITS


def big_int(value: int) -> bool:
    """Whether ``value`` has more digits than podium accepts (its text form would fail)."""
    return not -_INT_BOUND < value < _INT_BOUND


_REPR = reprlib.Repr()
_REPR.maxstring = 80
_REPR.maxother = 80
_REPR.maxlong = 40
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4


def excerpt(value: object, width: int = 80) -> str:
    """``repr(value)`` cut to about ``width`` characters, in bounded time and memory whatever
    the value (a 1 MB string, a deeply nested or self-repeating structure, a huge integer)."""
    if isinstance(value, int) and not isinstance(value, bool) and big_int(value):
        return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
    try:
        text = _REPR.repr(value)
    except Exception:  # a __repr__ that raises
        return f"<a {type(value).__name__}>"
    if len(text) > width:
        text = text[: width - 3] + "..."
    return text
