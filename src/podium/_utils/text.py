"""Small helpers for text shown to people."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["describe_exception", "did_you_mean", "plural"]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 task``, ``2 tasks``, ``0 tasks`` (``many`` when the plural is not ``word + "s"``)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices`` to ``word``, or ``""``."""
    hint = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {hint[0]!r}?" if hint else ""


def describe_exception(exc: BaseException) -> str:
    """``Name: message`` for a task's error; never raises, whatever the exception does (its
    ``__str__`` may raise or return something that is not a string)."""
    try:
        name = type(exc).__name__
    except Exception:  # pragma: no cover - a metaclass that breaks __name__
        name = "an exception"
    try:
        text = str(exc)
    except Exception as problem:
        text = f"<its message could not be read: str() raised {type(problem).__name__}>"
    return f"{name}: {text}" if text else name
