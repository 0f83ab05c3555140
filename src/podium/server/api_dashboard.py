"""The dashboard at ``/``, and the routes it needs beyond the rest of the API.

The page and its scripts and styles are static files of the package (``server/ui/``): no CDN,
no build step, no fonts to fetch; they hold no data, so they are served without credentials,
and every call they make carries the API key the user signed in with. Routes here:

- ``GET /api/v1/whoami``: the caller's key id and role (the page offers what the role may do);
- ``POST /api/v1/validate``: a workflow file checked as `podium validate` and `POST /runs/upload`
  check it, the error placed at a line of the text when it names one;
- ``GET /api/v1/runs/{id}/dag``: the run's tasks, dependencies and routes as JSON, for drawing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse, Response

from ..errors import PodiumError, ValidationError
from .deps import ERRORS, need, service

router = APIRouter(responses=ERRORS)
UI = Path(__file__).parent / "ui"
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}
_WHERE = re.compile(r":(\d+):(\d+): ")
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


@router.get("/", include_in_schema=False)
async def index() -> Any:
    return FileResponse(UI / "index.html", media_type="text/html", headers=_NO_STORE)


_NO_STORE = {"Cache-Control": "no-cache"}


@router.get("/ui/{name}", include_in_schema=False)
async def asset(name: str) -> Any:
    path = UI / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in _TYPES:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers=_NO_STORE)


@router.get("/api/v1/whoami", summary="The caller: key id and role", response_model=dict[str, Any])
async def whoami(request: Request, who: Any = need("read")) -> Any:
    from .auth import ACTIONS

    return {"id": who.id, "role": who.role, "may": sorted(ACTIONS.get(who.role, ()))}


@router.get(
    "/api/v1/throughput",
    summary="Tasks completed and failed per 5 seconds over the last 10 minutes",
    response_model=dict[str, Any],
)
async def throughput(request: Request, _who: Any = need("read")) -> Any:
    return service(request).throughput.to_dict()


@router.post(
    "/api/v1/validate",
    summary="Check a workflow file (YAML or JSON) as a submission would, without running it",
    response_model=dict[str, Any],
)
async def validate(
    request: Request,
    file: Annotated[UploadFile, File(description="the workflow file")],
    _who: Any = need("read"),
) -> Any:
    from ..spec import graph as _graph
    from ..spec.files import parse_json, parse_yaml

    name = (file.filename or "workflow.yaml").rsplit("/", 1)[-1]
    raw = await file.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{name}: is not UTF-8 text.", file=name, field="file") from None
    try:
        data = parse_json(text, name) if name.endswith(".json") else parse_yaml(text, name)
        svc = service(request)
        wf = svc.parse(data, name)
        run = svc.orch.prepare(wf)  # dependencies, cycles, capabilities: not started
        order = _graph.topological_order(wf.tasks, wf.source)
    except PodiumError as exc:
        doc = exc.to_dict()
        doc["line"], doc["column"] = locate(text, exc, json_text=name.endswith(".json"))
        return {"valid": False, "file": name, "errors": [doc]}
    path, depth = _graph.critical_path(order, lambda t: 1.0)
    return {
        "valid": True,
        "file": name,
        "workflow": wf.name,
        "tasks": run.total,
        "agents": len(wf.agents),
        "depth": int(depth),
        "critical_path": path,
        "errors": [],
    }


def locate(text: str, exc: PodiumError, *, json_text: bool = False) -> tuple[int | None, int]:
    """The line (1-based) and column an error is about: the one the message names, else the
    task and field it names, found in the YAML text; (None, 0) when neither is known."""
    found = _WHERE.search(exc.message)
    if found:
        return int(found.group(1)), int(found.group(2))
    if json_text:
        return None, 0
    try:
        import yaml

        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except Exception:  # the text parsed as a workflow already; a quirk here costs the line only
        return None, 0
    if not isinstance(root, yaml.MappingNode):
        return None, 0
    top = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    quoted = re.findall(r"'([^']+)'", exc.message)
    node: Any = None
    if exc.task is not None and isinstance(top.get("tasks"), yaml.SequenceNode):
        for item in top["tasks"].value:
            if not isinstance(item, yaml.MappingNode):
                continue
            fields = {k.value: (k, v) for k, v in item.value if isinstance(k, yaml.ScalarNode)}
            if "id" in fields and fields["id"][1].value == exc.task:
                node = fields["id"][0]
                for key in ([exc.field] if exc.field else []) + quoted:
                    if key in fields:
                        node = fields[key][0]
                        if key == "depends_on":
                            node = _item(fields[key][1], quoted) or node
                        break
                break
    elif exc.field:
        head = exc.field.split(".")[0]
        for k, _v in root.value:
            if k.value == head:
                node = k
    if node is None:
        return None, 0
    return node.start_mark.line + 1, node.start_mark.column + 1


def _item(seq: Any, quoted: list[str]) -> Any:
    for item in getattr(seq, "value", []) or []:
        if getattr(item, "value", None) in quoted:
            return item
    return None


@router.get(
    "/api/v1/runs/{run_id}/dag",
    summary="The run's DAG as JSON: each task's dependencies and route",
    response_model=dict[str, Any],
)
async def run_dag(request: Request, run_id: str, _who: Any = need("read")) -> Any:
    from ..stores.definition import graph

    svc = service(request)
    run = svc.live(run_id)
    if run is not None:
        tasks = [
            {
                "id": t.id,
                "deps": list(t.depends_on),
                "route": t.capability if t.capability is not None else f"agent:{t.agent}",
                "pattern": t.pattern,
            }
            for t in run.workflow.tasks.values()
        ]
        states = _states(run.records.values())
        return _json({"run_id": run_id, "workflow": run.workflow.name, "tasks": tasks,
                      "states": states})  # fmt: skip
    saved = await svc._saved(run_id)
    pattern = _patterns(saved.definition)
    tasks = [
        {"id": tid, "deps": deps, "route": route, "pattern": pattern.get(tid)}
        for tid, deps, route in graph(saved.definition)
    ]
    states = _states(await svc.store.task_states(run_id), stored=True)
    return _json({"run_id": run_id, "workflow": saved.workflow, "tasks": tasks, "states": states})


def _states(recs: Any, stored: bool = False) -> list[list[Any]]:
    """``[id, status, agent, attempts, started, finished, error]`` of every task that has one:
    what drawing needs, without results or dates to format (a few times cheaper than the run's
    document, and it is read while the run goes on)."""
    if stored:
        recs = recs.values()
        key = "task_id"
    else:
        key = "id"
    return [
        [getattr(r, key), r.status, r.agent, r.attempts, r.started_at, r.finished_at, r.error]
        for r in recs
    ]


def _json(doc: Any) -> Response:
    """``doc`` encoded once, as it is: the framework's encoder walks every value of a
    10,000-task document again, on the loop that runs the engine."""
    return Response(_dumps(doc), media_type="application/json")


def _patterns(definition: dict[str, Any] | None) -> dict[str, str]:
    if not definition:
        return {}
    if definition.get("kind") == "file":
        return {
            str(t["id"]): str(t["pattern"])
            for t in definition.get("spec", {}).get("tasks", [])
            if isinstance(t, dict) and t.get("pattern") and "id" in t
        }
    cols = definition.get("tasks", {})
    pats = cols.get("pattern", {})
    ids = cols.get("id", [])
    if isinstance(pats, dict):
        return {ids[int(k)]: str(v) for k, v in pats.items() if v and int(k) < len(ids)}
    return {}


@router.get(
    "/api/v1/runs/{run_id}/tasks/{task_id:path}",
    summary="One task of a run: input, result, error, attempts, agent and timings",
    response_model=dict[str, Any],
)
async def run_task(request: Request, run_id: str, task_id: str, _who: Any = need("read")) -> Any:
    from ..report.documents import history
    from ..result import task_dict
    from .service import NotFound

    svc = service(request)
    run = svc.live(run_id)
    definition = None
    if run is not None:
        rec = run.records.get(task_id)
        state: Any = rec
        task = rec.task if rec is not None else None
        spec = (
            {
                "deps": list(task.depends_on),
                "route": task.capability if task.capability is not None else f"agent:{task.agent}",
                "pattern": task.pattern,
                "input": task.input,
            }
            if task is not None
            else {}
        )
    else:
        saved = await svc._saved(run_id)
        definition = saved.definition
        state = (await svc.store.task_states(run_id)).get(task_id)
        spec = _spec_of(definition, task_id)
    if state is None and not spec:
        raise NotFound(f"run {run_id!r} has no task {task_id!r}.", field="task_id")
    doc: dict[str, Any] = {"run_id": run_id, "id": task_id, **spec}
    if state is not None:
        doc.update(task_dict(state))
        tb = getattr(state, "traceback", None)
        if tb:
            doc["traceback"] = tb
    else:
        doc["status"] = "pending"
    events = [e for e in history(await svc.store.transitions(run_id)) if e["task"] == task_id]
    doc["history"] = [e for e in events if "status" in e]
    if "logs" not in doc:  # a finished run: the lines its task wrote, from the history
        logs = [
            {k: e.get(k) for k in ("at", "attempt", "stream", "text")}
            for e in events
            if e.get("event") == "log"
        ]
        if logs:
            doc["logs"] = logs
    prefix = task_id + "/"
    if run is not None:
        subs = {k: v for k, v in run.records.items() if k.startswith(prefix)}
    else:
        subs = {
            k: v for k, v in (await svc.store.task_states(run_id)).items() if k.startswith(prefix)
        }
    doc["participants"] = [
        {"id": k, "status": str(v.status), "agent": v.agent, "error": v.error,
         "result": v.result}
        for k, v in list(subs.items())[:200]
    ]  # fmt: skip
    return _json(doc)


def _spec_of(definition: dict[str, Any] | None, task_id: str) -> dict[str, Any]:
    """A task's dependencies, route, pattern and input as the stored definition has them."""
    if not definition:
        return {}
    if definition.get("kind") == "file":
        for t in definition.get("spec", {}).get("tasks", []):
            if isinstance(t, dict) and str(t.get("id")) == task_id:
                route = t.get("capability") or (
                    f"agent:{t['agent']}" if t.get("agent") else t.get("pattern")
                )
                return {
                    "deps": [str(d) for d in t.get("depends_on") or []],
                    "route": route,
                    "pattern": t.get("pattern"),
                    "input": t.get("input"),
                }
        return {}
    cols = definition.get("tasks", {})
    ids = cols.get("id", [])
    try:
        i = ids.index(task_id)
    except ValueError:
        return {}
    k = str(i)
    cap = cols.get("capability", [None] * len(ids))[i]
    return {
        "deps": list(cols.get("depends_on", {}).get(k, ())),
        "route": cap if cap is not None else f"agent:{cols.get('agent', {}).get(k)}",
        "pattern": cols.get("pattern", {}).get(k),
        "input": cols.get("input", {}).get(k, {}),
    }
