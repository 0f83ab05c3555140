"""What the report computes from a recorded run before drawing anything: every attempt with
its start and end, the DAG's order and layers, round tick values for time axes, and what
limited the run (the critical path, agent capacity, ``max_concurrency`` or retries).

Pure functions of the stored transitions and task states: no HTML here.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ..spec import graph as _graph

if TYPE_CHECKING:
    from ..stores.base import TaskState, Transition

__all__ = ["Attempt", "Limits", "attempts", "depths", "limits", "order", "round_ticks"]


class Attempt:
    """One attempt of one task, as drawn in the timeline."""

    __slots__ = (
        "agent",
        "attempt",
        "end",
        "error",
        "open",
        "outcome",
        "start",
        "task",
        "traceback",
    )

    def __init__(self, t: Transition, end: float, outcome: str, open_: bool) -> None:
        self.task = t.task_id
        self.agent = t.agent or "?"
        self.attempt = t.attempt
        self.start = t.started_at or end
        self.end = end
        self.outcome = outcome
        self.error = t.error
        # a store that keeps tracebacks gives its transitions one: shown with the error
        self.traceback: str | None = getattr(t, "traceback", None)
        self.open = open_  # no end recorded: still running, or its process died


def attempts(transitions: list[Transition], now: float, alive: bool) -> list[Attempt]:
    """Every attempt that ran, from the transitions. An attempt whose end is not recorded was
    cut short by a crash: it ends at the crashed process's last recorded transition (its last
    sign of life; the time until the resume was nobody's work), or at the run's last event;
    if the run is still going, it runs until now."""
    out: list[Attempt] = []
    running: dict[tuple[str, int | None], Transition] = {}
    for t in transitions:
        if t.task_id is None or t.status == "skipped":
            continue
        key = (t.task_id, t.attempt)
        if t.status == "running":
            running[key] = t
            continue
        running.pop(key, None)
        if t.started_at is None or not t.attempt:
            continue  # never ran (cancelled before start) or came from the cache
        outcome = "retrying" if t.status == "retrying" else t.status
        out.append(Attempt(t, t.finished_at or t.started_at, outcome, False))
    resumes = sorted(
        t.at for t in transitions if t.task_id is None and t.note == "resumed" and t.at
    )
    times = sorted(t.at for t in transitions if t.at is not None)
    last = times[-1] if times else now
    for t in running.values():
        start = t.started_at or last
        i = bisect.bisect_right(resumes, start)
        if i < len(resumes):
            j = bisect.bisect_left(times, resumes[i])  # transitions before that resume
            end = times[j - 1] if j else start
        else:
            end = now if alive else last
        out.append(Attempt(t, max(end, start), "running", True))
    return out


def order(nodes: list[tuple[str, list[str], str]]) -> list[Any]:
    """The tasks in topological order, as objects with ``id`` and ``depends_on``."""
    tasks = {tid: SimpleNamespace(id=tid, depends_on=tuple(deps)) for tid, deps, _ in nodes}
    for t in tasks.values():  # a dependency the definition lost must not break the report
        t.depends_on = tuple(d for d in t.depends_on if d in tasks)
    try:
        return _graph.topological_order(tasks)  # type: ignore[arg-type]
    except Exception:  # a damaged definition: draw it flat rather than not at all
        return [SimpleNamespace(id=t.id, depends_on=()) for t in tasks.values()]


def depths(ordered: list[Any]) -> dict[str, int]:
    """Each task's layer: the length of the longest chain of dependencies above it."""
    depth: dict[str, int] = {}
    for t in ordered:
        depth[t.id] = 1 + max((depth[d] for d in t.depends_on), default=-1)
    return depth


def round_ticks(span: float, target: int = 10) -> list[float]:
    """Tick values from 0 to at most ``span`` at a round step (1, 2 or 5 times a power of
    ten), about ``target`` of them: 0, 0.5 s, 1 s, ... rather than 0, 0.37 s, 0.74 s."""
    if span <= 0:
        return [0.0]
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    n = int(span / step + 1e-9)
    return [round(i * step, 12) for i in range(n + 1)]


@dataclass
class Limits:
    """Why the run took as long as it did (seconds each; see `limits`)."""

    wall: float
    path: float  # the critical path, by the time each task actually took
    waits: dict[str, float] = field(default_factory=dict)  # agent -> time tasks waited for it
    retries: dict[str, float] = field(default_factory=dict)  # task -> first try to last try
    idle: float = 0.0  # wall time with no task running
    peak: int = 0  # most attempts running at once
    max_concurrency: int | None = None


def limits(
    found: list[Attempt],
    ordered: list[Any],
    states: dict[str, TaskState],
    t0: float,
    wall: float,
    path_len: float,
    max_concurrency: int | None = None,
) -> Limits:
    """Measure what limited a run: how long ready tasks waited for a free agent (per agent),
    how long retries held tasks back, how long nothing ran, and the peak concurrency."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for a in found:
        if a.task is None:
            continue
        first[a.task] = min(first.get(a.task, a.start), a.start)
        last[a.task] = max(last.get(a.task, a.start), a.start)
    out = Limits(wall=wall, path=path_len, max_concurrency=max_concurrency)
    ends = {tid: s.finished_at for tid, s in states.items() if s.finished_at is not None}
    for t in ordered:
        if t.id not in first:
            continue
        deps = [ends.get(d) for d in t.depends_on]
        if any(e is None for e in deps):
            continue
        ready = max([t0, *deps])  # type: ignore[list-item]
        wait = first[t.id] - ready
        agent = states[t.id].agent if t.id in states else None
        if wait > 0 and agent:
            out.waits[agent] = out.waits.get(agent, 0.0) + wait
    for tid, start in first.items():
        if last[tid] > start:
            out.retries[tid] = last[tid] - start
    events = sorted([(a.start, 1) for a in found] + [(a.end, -1) for a in found])
    running, idle_since = 0, t0
    for at, step in events:
        if running == 0 and step > 0:
            out.idle += max(0.0, at - idle_since)
        running += step
        out.peak = max(out.peak, running)
        if running == 0:
            idle_since = at
    return out
