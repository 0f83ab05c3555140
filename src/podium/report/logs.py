"""The report's view of what tasks wrote: a tail under each failure, and a Logs section."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from ..result import iso

if TYPE_CHECKING:
    from ..stores.base import TaskState

__all__ = ["log_tail", "logs_section"]

TAIL = 20  # lines shown under a failed task
SECTION_LINES = 2000  # lines shown in the Logs section, over all tasks


def _lines(lines: list[tuple[float, int, str, str]]) -> str:
    rows = "\n".join(
        f"{escape((iso(at) or '-')[11:23])}  #{attempt} {escape(stream):<6} {escape(text)}"
        for at, attempt, stream, text in lines
    )
    return f"<pre class='logs'>{rows}</pre>"


def log_tail(state: TaskState) -> str:
    """The last lines a failed task wrote, or ``""``."""
    lines = state.logs or []
    if not lines:
        return ""
    shown = lines[-TAIL:]
    more = len(lines) - len(shown)
    head = f"last {len(shown)} of {len(lines)} lines it wrote" if more else "what it wrote"
    return f"<div class='muted'>{head}:</div>{_lines(shown)}"


def logs_section(states: dict[str, TaskState]) -> str:
    """Every task's lines, one collapsible block per task, or ``""`` when none wrote any."""
    with_logs = [(tid, s.logs) for tid, s in states.items() if s.logs]
    if not with_logs:
        return ""
    out = ["<h2>Logs</h2>"]
    budget = SECTION_LINES
    for tid, lines in with_logs:
        assert lines is not None
        if budget <= 0:
            out.append("<p class='muted'>More tasks wrote lines: see <code>podium logs</code>.</p>")
            break
        shown = lines[:budget]
        budget -= len(shown)
        cut = f", first {len(shown)}" if len(shown) < len(lines) else ""
        out.append(
            f"<details><summary><code>{escape(tid)}</code> ({len(lines)} lines{cut})</summary>"
            f"{_lines(shown)}</details>"
        )
    return "".join(out)
