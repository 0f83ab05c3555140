"""Recorded runs as JSON documents: what `podium status --json`, `podium logs --json` and the
server's run endpoints print, built from a store's records (no engine needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..stores.base import RunRecord, TaskState, Transition

__all__ = ["history", "ordered_states", "run_document"]


def ordered_states(saved: RunRecord, states: dict[str, TaskState]) -> dict[str, TaskState]:
    """Every task of the run in workflow order (never started: pending), then tasks added
    while it ran (delegated subtasks) in the order they appeared."""
    from ..stores.base import TaskState
    from ..stores.definition import graph

    out = {tid: states.get(tid) or TaskState(tid) for tid, _, _ in graph(saved.definition)}
    for tid, s in states.items():
        out.setdefault(tid, s)
    return out


def _usage_stats(states: dict[str, TaskState]) -> dict[str, Any]:
    """``{"usage": ...}`` summed over the tasks, for a run that has not recorded its stats."""
    from ..result import add_usage, rounded_usage

    total = None
    for s in states.values():
        if s.usage:
            total = add_usage(total, s.usage)
    return {"usage": rounded_usage(total)} if total else {}


def run_document(saved: RunRecord, states: dict[str, TaskState]) -> dict[str, Any]:
    """A recorded run as the JSON document of ``podium run --json`` (`RunResult.to_dict`)."""
    import time

    from ..result import iso
    from ..stores.base import count_states

    tasks = ordered_states(saved, states)
    stats = dict(saved.stats or {})
    if not stats:  # not finished (or interrupted): what the transitions say
        counts = count_states(states, len(tasks))
        finished = counts["completed"] + counts["failed"]
        end = saved.finished_at or time.time()
        stats = {
            "total": len(tasks),
            "completed": counts["completed"],
            "failed": counts["failed"],
            "skipped": counts["skipped"],
            "cancelled": counts["cancelled"],
            "in_progress": counts["running"],
            "attempts": sum(s.attempts for s in states.values()),
            "success_rate": round(counts["completed"] / finished, 4) if finished else None,
            "duration": round(end - saved.started_at, 6),
            "tasks_per_second": None,
            "agents": {},
            **_usage_stats(states),
        }
    return {
        "run_id": saved.run_id,
        "workflow": saved.workflow,
        "status": saved.status,
        "started_at": iso(saved.started_at),
        "finished_at": iso(saved.finished_at),
        "tasks": {tid: s.to_dict() for tid, s in tasks.items()},
        "stats": stats,
    }


def history(transitions: list[Transition]) -> list[dict[str, Any]]:
    """The run's history as events in the order they happened: each attempt's start (also
    when the store folded it into the attempt's end), each state change (a failed attempt
    with its ``traceback``), each line a task wrote (``event: log``, with ``stream`` and
    ``text``) and run-level events."""
    from ..result import iso
    from ..stores.base import link_tracebacks

    link_tracebacks(transitions)
    events: list[tuple[float, int, dict[str, Any]]] = []
    started: set[tuple[str, int | None]] = set()
    last = 0.0  # skipped tasks carry no time: they happened when the row before them did
    for t in transitions:
        base = {"task": t.task_id, "attempt": t.attempt, "agent": t.agent}
        if t.at is not None:
            last = max(last, t.at)
        if t.task_id is None:
            data = t.result if isinstance(t.result, dict) else {}
            if t.note == "traceback":
                continue  # shown with its attempt's failure
            if t.note == "log":
                ev = {
                    "at": iso(t.at),
                    "event": "log",
                    "task": data.get("task"),
                    "attempt": data.get("attempt"),
                    "stream": data.get("stream"),
                    "text": data.get("text"),
                }
                events.append((t.at or last, t.seq, ev))
                continue
            ev = {"at": iso(t.at), "event": t.note, "task": None, "data": t.result}
            events.append((t.at or last, t.seq, ev))
            continue
        key = (t.task_id, t.attempt)
        if t.status == "running":
            started.add(key)
            ev = {"at": iso(t.started_at), **base, "status": "running"}
            events.append((t.started_at or 0.0, t.seq, ev))
            continue
        if t.started_at is not None and key not in started and t.attempt:
            started.add(key)
            ev = {"at": iso(t.started_at), **base, "status": "running"}
            events.append((t.started_at, t.seq, ev))
        took = (
            round(t.finished_at - t.started_at, 6)
            if t.finished_at is not None and t.started_at is not None
            else None
        )
        ev = {
            "at": iso(t.at if t.at is not None else last or None),
            **base,
            "status": t.status,
            "duration": took,
            "error": t.error,
            "note": t.note,
        }
        if t.traceback:
            ev["traceback"] = t.traceback
        events.append((t.at or last, t.seq, ev))
    events.sort(key=lambda e: (e[0], e[1]))
    return [e[2] for e in events]
