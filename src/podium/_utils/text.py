"""Small helpers for text shown to people."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean", "plural"]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 task``, ``2 tasks``, ``0 tasks`` (``many`` when the plural is not ``word + "s"``)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices`` to ``word``, or ``""``."""
    hint = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {hint[0]!r}?" if hint else ""
