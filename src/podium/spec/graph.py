"""The workflow DAG, analysed without running anything: structure checks, topological order,
cycles (with their path) and critical-path ranks.

Everything here is O(tasks + dependencies) and allocation-light, because workflows of a
million tasks go through it before they run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ..errors import CycleError, ValidationError
from .workflow import Task, Workflow

__all__ = ["check_structure", "critical_path", "find_cycle", "ranks", "topological_order"]


def check_structure(wf: Workflow) -> None:
    """Duplicate ids and dependencies that name no task or repeat; raises `ValidationError`."""
    check_ids(wf)
    tasks = wf.tasks
    for t in tasks.values():
        deps = t.depends_on
        if not deps:
            continue
        for dep in deps:
            if dep not in tasks:
                raise missing_dependency(wf, t.id, dep)
        if len(deps) > 1 and len(set(deps)) != len(deps):
            raise repeated_dependency(wf, t)


def check_ids(wf: Workflow) -> None:
    """A workflow has tasks, each id once."""
    src = wf.source
    prefix = f"{src}: " if src else ""
    if wf._duplicates:
        tid = wf._duplicates[0]
        raise ValidationError(
            f"{prefix}task id {tid!r} is used more than once. Give each task its own id.",
            file=src,
            task=tid,
            field="id",
        )
    if not wf.tasks:
        raise ValidationError(
            f"{prefix}workflow {wf.name!r} has no tasks. Add at least one under 'tasks:'.",
            file=src,
            field="tasks",
        )


def missing_dependency(wf: Workflow, tid: str, dep: str) -> ValidationError:
    src = wf.source
    prefix = f"{src}: " if src else ""
    return ValidationError(
        f"{prefix}task {tid!r}: depends_on names {dep!r}, which is not a task. "
        "Add it or remove it from depends_on.",
        file=src,
        task=tid,
        field="depends_on",
    )


def repeated_dependency(wf: Workflow, t: Task) -> ValidationError:
    src = wf.source
    prefix = f"{src}: " if src else ""
    dup = next(d for d in t.depends_on if t.depends_on.count(d) > 1)
    return ValidationError(
        f"{prefix}task {t.id!r}: depends_on lists {dup!r} more than once.",
        file=src,
        task=t.id,
        field="depends_on",
    )


def cycle_error(tasks: Mapping[str, Task], left: Iterable[str], source: str | None) -> CycleError:
    """The error for tasks that Kahn's algorithm could not release: names one cycle."""
    cycle = find_cycle(tasks, left)
    path = " -> ".join(repr(c) for c in cycle)
    prefix = f"{source}: " if source else ""
    return CycleError(
        f"{prefix}the dependencies form a cycle: {path} (each task depends on the next). "
        "Remove one of these depends_on entries.",
        cycle=cycle,
        file=source,
        task=cycle[0],
        field="depends_on",
    )


def topological_order(tasks: Mapping[str, Task], source: str | None = None) -> list[Task]:
    """Tasks ordered so that each comes after its dependencies (Kahn; stable for ties).

    Raises `CycleError` with the cycle's path when there is none.
    """
    indegree = {tid: len(t.depends_on) for tid, t in tasks.items()}
    children: dict[str, list[str]] = {}
    for t in tasks.values():
        for dep in t.depends_on:
            kids = children.get(dep)
            if kids is None:
                children[dep] = [t.id]
            else:
                kids.append(t.id)
    order = [t for tid, t in tasks.items() if indegree[tid] == 0]
    i = 0
    while i < len(order):
        kids = children.get(order[i].id)
        i += 1
        if kids:
            for kid in kids:
                n = indegree[kid] - 1
                indegree[kid] = n
                if n == 0:
                    order.append(tasks[kid])
    if len(order) != len(tasks):
        raise cycle_error(tasks, [tid for tid, n in indegree.items() if n > 0], source)
    return order


def find_cycle(tasks: Mapping[str, Task], candidates: Iterable[str]) -> list[str]:
    """A cycle among ``candidates`` (tasks left over by Kahn), first id repeated last."""
    left = set(candidates)
    start = min(left)  # deterministic messages
    seen: dict[str, int] = {}
    path: list[str] = []
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        # every leftover task has a leftover dependency, or Kahn would have released it
        node = min(d for d in tasks[node].depends_on if d in left)
    cycle = path[seen[node] :]
    cycle.append(node)
    return cycle


def ranks(order: list[Task], weight: Callable[[Task], float]) -> dict[str, float]:
    """Critical-path rank of each task: the weighted length of the longest path from it to the
    end of the DAG, itself included. Higher ranks run first among equal priorities."""
    best_child: dict[str, float] = {}
    out: dict[str, float] = {}
    for t in reversed(order):
        r = weight(t) + best_child.get(t.id, 0.0)
        out[t.id] = r
        for dep in t.depends_on:
            if r > best_child.get(dep, 0.0):
                best_child[dep] = r
    return out


def critical_path(order: list[Task], duration: Callable[[Task], float]) -> tuple[list[str], float]:
    """The longest path through the DAG by ``duration`` (ids from first to last) and its length."""
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for t in order:
        start, prev = 0.0, None
        for dep in t.depends_on:
            f = finish.get(dep, 0.0)
            if f > start or prev is None:
                start, prev = max(start, f), dep
        finish[t.id] = start + duration(t)
        via[t.id] = prev
    if not finish:
        return [], 0.0
    end = max(finish, key=finish.__getitem__)
    path = [end]
    while (p := via[path[-1]]) is not None:
        path.append(p)
    path.reverse()
    return path, finish[end]
