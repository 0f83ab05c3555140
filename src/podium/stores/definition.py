"""What a store keeps of a run's workflow so that `resume` can rebuild it: a JSON document.

A workflow loaded from a file is kept as the file's path and its parsed mapping; rebuilding it
parses the mapping again with the path as its source, so handlers are imported relative to the
original file's folder (the file may have changed or gone since). A workflow built in code is
kept as its tasks, column by column (ids and routes as lists, every other field only where it
differs from the default), because runs of 100,000 tasks describe themselves before they start;
its agents live in code, so resuming it needs an orchestrator that registers them again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..errors import StoreError, ValidationError
from ..spec.workflow import NO_RETRY, Retry, Task, Workflow

__all__ = ["describe", "graph", "priorities", "rebuild", "task_ids"]

FORMAT = 1
# fields kept only where they differ from their defaults
_SPARSE = (
    "agent",
    "input",
    "depends_on",
    "timeout",
    "cache_key",
    "pattern",
    "options",
    "concurrency",
    "resources",
)


def describe(wf: Workflow, agents: Iterable[Any] = ()) -> dict[str, Any]:
    """The JSON document that `rebuild` turns back into ``wf``."""
    info = [
        {"name": a.name, "capabilities": list(a.capabilities), "capacity": a.capacity}
        for a in agents
    ]
    submitted = getattr(wf, "submitted", None)  # a mapping sent to `podium serve`
    if isinstance(submitted, dict):
        return {"format": FORMAT, "kind": "file", "source": None, "spec": submitted, "agents": info}
    if wf.source:
        from ..spec.loader import read_file

        try:
            data = read_file(wf.source)
        except ValidationError:
            data = None
        tasks = data.get("tasks") if data else None
        if isinstance(tasks, list) and len(tasks) == len(wf.tasks):
            ids = {t.get("id") for t in tasks if isinstance(t, dict)}
            if ids == wf.tasks.keys():
                return {
                    "format": FORMAT,
                    "kind": "file",
                    "source": os.path.abspath(wf.source),
                    "spec": data,
                    "agents": info,
                }
    ts = list(wf.tasks.values())
    cols: dict[str, Any] = {
        "id": list(wf.tasks),
        "capability": [t.capability for t in ts],
    }
    for name in _SPARSE:
        values = [getattr(t, name) for t in ts]
        if name == "input":  # {} is the default; 0, "" and [] are inputs too
            col = {str(i): v for i, v in enumerate(values) if type(v) is not dict or v}
        elif name == "depends_on":
            col = {str(i): list(v) for i, v in enumerate(values) if v}
        else:
            col = {str(i): v for i, v in enumerate(values) if v is not None}
        if col:
            cols[name] = col
    prio = {str(i): p for i, p in enumerate([t.priority for t in ts]) if p != 5}
    if prio:
        cols["priority"] = prio
    retry = {str(i): _retry(t.retry) for i, t in enumerate(ts) if t.retry is not NO_RETRY}
    if retry:
        cols["retry"] = retry
    cache = [i for i, c in enumerate([t.cache for t in ts]) if c]
    if cache:
        cols["cache"] = cache
    return {
        "format": FORMAT,
        "kind": "code",
        "name": wf.name,
        "on_failure": wf.on_failure,
        "max_concurrency": wf.max_concurrency,
        "strategy": wf.strategy if isinstance(wf.strategy, str) else None,
        "budget": wf.budget,
        "rate_limit": wf.rate_limit,
        "capabilities": wf.capabilities or None,
        "tasks": cols,
        "agents": info,
    }


def _retry(r: Retry) -> dict[str, Any]:
    return {
        "max_attempts": r.max_attempts,
        "backoff": r.backoff,
        "initial_delay": r.initial_delay,
        "max_delay": r.max_delay,
        "jitter": r.jitter,
    }


def rebuild(definition: dict[str, Any] | None, *, run_id: str = "") -> Workflow:
    """The workflow a stored definition describes; file workflows import their handlers."""
    if not definition or definition.get("format") != FORMAT:
        raise StoreError(
            f"run {run_id!r} has no workflow definition this podium can read. Resume it from "
            "Python and pass the workflow: orch.resume(run_id, workflow=wf).",
            field="definition",
        )
    if definition["kind"] == "file":
        from ..spec.loader import parse_workflow

        return parse_workflow(definition["spec"], source=definition["source"])
    wf = Workflow(
        definition["name"],
        on_failure=definition.get("on_failure") or "fail_fast",
        max_concurrency=definition.get("max_concurrency"),
        strategy=definition.get("strategy"),
        budget=definition.get("budget"),
        rate_limit=definition.get("rate_limit"),
        capabilities=definition.get("capabilities"),
    )
    cols = definition["tasks"]
    sparse = {name: cols.get(name, {}) for name in (*_SPARSE, "priority", "retry")}
    cached = set(cols.get("cache", ()))
    for i, (tid, cap) in enumerate(zip(cols["id"], cols["capability"], strict=True)):
        k = str(i)
        wf.add(
            Task(
                tid,
                capability=cap,
                agent=sparse["agent"].get(k),
                input=sparse["input"].get(k),
                depends_on=sparse["depends_on"].get(k, ()),
                priority=sparse["priority"].get(k, 5),
                timeout=sparse["timeout"].get(k),
                retry=sparse["retry"].get(k),
                cache=i in cached,
                cache_key=sparse["cache_key"].get(k),
                pattern=sparse["pattern"].get(k),
                options=sparse["options"].get(k),
                concurrency=sparse["concurrency"].get(k),
                resources=sparse["resources"].get(k),
            )
        )
    return wf


def task_ids(definition: dict[str, Any] | None) -> list[str] | None:
    """The ids of the tasks a stored definition describes (None when it cannot tell)."""
    if not definition or definition.get("format") != FORMAT:
        return None
    if definition["kind"] == "file":
        tasks = definition["spec"].get("tasks") or []
        return [t.get("id") for t in tasks if isinstance(t, dict)]
    return list(definition["tasks"]["id"])


def graph(definition: dict[str, Any] | None) -> list[tuple[str, list[str], str]]:
    """``(id, depends_on, route)`` of every task, without importing any handler."""
    if not definition:
        return []
    out: list[tuple[str, list[str], str]] = []
    if definition.get("kind") == "file":
        for t in definition.get("spec", {}).get("tasks", []):
            if not isinstance(t, dict) or "id" not in t:
                continue
            route = t.get("capability") or f"agent:{t.get('agent')}"
            out.append((str(t["id"]), [str(d) for d in t.get("depends_on") or []], route))
        return out
    cols = definition.get("tasks", {})
    deps = cols.get("depends_on", {})
    agents = cols.get("agent", {})
    ids, caps = cols.get("id", []), cols.get("capability", [])
    for i, (tid, cap) in enumerate(zip(ids, caps, strict=False)):
        k = str(i)
        route = cap if cap is not None else f"agent:{agents.get(k)}"
        out.append((tid, list(deps.get(k, ())), route))
    return out


def priorities(definition: dict[str, Any] | None) -> dict[str, int]:
    """Each task's priority (1-10) as recorded, without importing any handler."""
    from ..spec.workflow import PRIORITIES

    if not definition:
        return {}
    out: dict[str, int] = {}
    if definition.get("kind") == "file":
        for t in definition.get("spec", {}).get("tasks", []):
            if isinstance(t, dict) and "id" in t:
                p = t.get("priority", 5)
                out[str(t["id"])] = PRIORITIES.get(p, 5) if isinstance(p, str) else int(p)
        return out
    cols = definition.get("tasks", {})
    given = cols.get("priority", {})
    return {tid: int(given.get(str(i), 5)) for i, tid in enumerate(cols.get("id", []))}
