"""Run preparation: a workflow's tasks become linked records, in topological order, ranked by
critical path. One pass over the DAG per step, no per-task dicts: runs of a million tasks go
through here before they start.
"""

from __future__ import annotations

from typing import Any

from ..result import TaskResult
from ..spec import graph as _graph
from ..spec.workflow import Workflow
from .scheduler import Scheduler

__all__ = ["build_records", "order_records", "rank_records"]


def build_records(wf: Workflow, sched: Scheduler) -> dict[str, TaskResult]:
    """One record per task, each knowing its route and its dependents. Checks ids and
    dependencies on the way (one pass over the DAG instead of several)."""
    _graph.check_ids(wf)
    records = {tid: TaskResult(t) for tid, t in wf.tasks.items()}
    routes: dict[tuple[str | None, str | None, str | None], Any] = {}
    route_for = sched.route_for
    get = records.get
    for rec in records.values():
        t = rec.task
        key = (t.capability, t.agent, t.pattern)  # a pattern task waits for its coordinator
        route = routes.get(key)
        if route is None:
            route = routes[key] = route_for(t)
        rec.route = route
        deps = t.depends_on
        if deps:
            for dep in deps:
                parent = get(dep)
                if parent is None:
                    raise _graph.missing_dependency(wf, t.id, dep)
                parent.dependents.append(rec)
            if len(deps) > 1 and len(set(deps)) != len(deps):
                raise _graph.repeated_dependency(wf, t)
    return records


def order_records(records: dict[str, TaskResult], wf: Workflow) -> list[TaskResult]:
    """Records in topological order (Kahn); raises `CycleError` with the cycle's path.

    ``rank`` holds each record's count of unreleased dependencies meanwhile; `rank_records` then
    overwrites it."""
    order = []
    for rec in records.values():
        n = len(rec.task.depends_on)
        rec.rank = n
        if not n:
            order.append(rec)
    i = 0
    while i < len(order):
        kids = order[i].dependents
        i += 1
        for kid in kids:
            n = kid.rank - 1
            kid.rank = n
            if not n:
                order.append(kid)
    if len(order) != len(records):
        left = [tid for tid, r in records.items() if r.rank > 0]
        raise _graph.cycle_error(wf.tasks, left, wf.source)
    return order


def rank_records(order: list[TaskResult], sched: Scheduler) -> None:
    """Critical-path rank: the longest path from a task to the end of the DAG, the task
    included, each task weighted by its agents' ``estimated_time`` (1 when unknown)."""
    weights = {
        r: min((a.estimated_time for a in r.agents if a.estimated_time), default=1.0)
        for r in sched.routes.values()
    }
    uniform = len(set(weights.values())) == 1
    w = next(iter(weights.values()), 1.0)
    for rec in reversed(order):
        best = 0.0
        for kid in rec.dependents:
            if kid.rank > best:
                best = kid.rank
        rec.rank = (w if uniform else weights[rec.route]) + best
