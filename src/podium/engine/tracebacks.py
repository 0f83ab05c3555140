"""A failed attempt's traceback as text: bounded, without the engine's own frames, and safe
whatever the exception does (its ``__str__`` may raise or return something odd)."""

from __future__ import annotations

import traceback
from types import TracebackType

__all__ = ["MAX_CHARS", "format_traceback", "last_frames"]

MAX_CHARS = 16_000  # a traceback longer than this keeps its head and its last frames
_ENGINE = ("/podium/engine/", "\\podium\\engine\\")


def format_traceback(exc: BaseException) -> str | None:
    """``exc``'s traceback as ``traceback.format_exception`` prints it, starting at the first
    frame outside the engine, at most `MAX_CHARS` characters; None when it has no frames."""
    tb = _skip_engine(exc.__traceback__)
    if tb is None:
        return None
    try:
        text = "".join(traceback.format_exception(type(exc), exc, tb))
    except BaseException:
        try:
            frames = "".join(traceback.format_tb(tb))
        except BaseException:
            return None
        text = f"Traceback (most recent call last):\n{frames}{_name(exc)}: <unprintable>\n"
    if len(text) > MAX_CHARS:
        head = text[: MAX_CHARS // 4]
        tail = text[-(MAX_CHARS * 3 // 4) :]
        cut = len(text) - len(head) - len(tail)
        text = f"{head}\n  ... {cut} characters cut ...\n{tail}"
    return text


def last_frames(text: str, frames: int = 3) -> str:
    """The last ``frames`` frames of a formatted traceback and its final line(s)."""
    lines = text.rstrip("\n").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    if len(starts) <= frames:
        return "\n".join(lines[1:] if lines and lines[0].startswith("Traceback") else lines)
    return "\n".join(["  ...", *lines[starts[-frames] :]])


def _skip_engine(tb: TracebackType | None) -> TracebackType | None:
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not any(part in name for part in _ENGINE):
            return tb
        tb = tb.tb_next
    return None


def _name(exc: BaseException) -> str:
    try:
        return type(exc).__qualname__
    except BaseException:
        return "Exception"
