"""Routes about runs and tasks: start, list, read, cancel, resume, graph, logs, report; and
one task for a capability (a one-task run, the orchestrator's ``delegate``)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Header, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from ..errors import ValidationError
from .deps import ERRORS, need, service
from .models import RunAction, RunCreated, TaskIn

router = APIRouter(prefix="/api/v1", responses=ERRORS)

_WORKFLOW_SCHEMA = {
    "type": "object",
    "required": ["name", "tasks"],
    "description": "A workflow in the file format (README: Workflow files), as JSON. Its tasks "
    "go to agents registered on the server; `handler:` is refused unless the server allows "
    "its module.",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "on_failure": {"enum": ["fail_fast", "continue"]},
        "max_concurrency": {"type": "integer", "minimum": 1},
        "strategy": {"enum": ["score", "least_loaded", "round_robin"]},
        "agents": {"type": "array", "items": {"type": "object"}},
        "tasks": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "capability": {"type": "string"},
                    "agent": {"type": "string"},
                    "input": {},
                    "depends_on": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
_LOOSE = {"type": "object", "additionalProperties": True}


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValidationError(f"the body is not JSON: {exc}.", field="body") from None


def _created(run_id: str, created: bool) -> JSONResponse:
    doc = {
        "run_id": run_id,
        "status": "running" if created else "submitted",
        "created": created,
        "url": f"/api/v1/runs/{run_id}",
    }
    return JSONResponse(doc, status_code=201 if created else 200)


def _idem(request: Request, key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= 200:
        raise ValidationError("Idempotency-Key must be 1-200 characters.", field="Idempotency-Key")
    return f"{request.state.who.id}:{key}"


@router.post(
    "/runs",
    status_code=201,
    response_model=RunCreated,
    summary="Start a run of a workflow sent as JSON",
    responses={200: {"model": RunCreated, "description": "seen Idempotency-Key: the first run"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _WORKFLOW_SCHEMA}},
        }
    },
)
async def start_run(
    request: Request,
    _who: Any = need("operate"),
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    data = _decode(await request.body())
    svc = service(request)
    run_id, created = await svc.submit(data, idempotency=_idem(request, idempotency_key))
    return _created(run_id, created)


@router.post(
    "/runs/upload",
    status_code=201,
    response_model=RunCreated,
    summary="Start a run of an uploaded workflow file (YAML or JSON)",
    responses={200: {"model": RunCreated, "description": "seen Idempotency-Key: the first run"}},
)
async def upload_run(
    request: Request,
    file: Annotated[UploadFile, File(description="the workflow file")],
    _who: Any = need("operate"),
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    from ..spec.files import parse_json, parse_yaml

    name = (file.filename or "workflow.yaml").rsplit("/", 1)[-1]
    raw = await file.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{name}: is not UTF-8 text.", file=name, field="file") from None
    data = parse_json(text, name) if name.endswith(".json") else parse_yaml(text, name)
    svc = service(request)
    run_id, created = await svc.submit(data, idempotency=_idem(request, idempotency_key))
    return _created(run_id, created)


def _when(value: str | None, field: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise ValidationError(
            f"{field} {value[:50]!r} is not a Unix time or an ISO 8601 date.", field=field
        ) from None


@router.get(
    "/runs",
    summary="List runs, newest first",
    response_model=dict[str, Any],
    responses={200: {"content": {"application/json": {"schema": _LOOSE}}}},
)
async def list_runs(
    request: Request,
    _who: Any = need("read"),
    status: Annotated[str | None, Query(max_length=16)] = None,
    workflow: Annotated[str | None, Query(max_length=500)] = None,
    since: Annotated[str | None, Query(description="Unix time or ISO 8601")] = None,
    until: Annotated[str | None, Query(description="Unix time or ISO 8601")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Any:
    svc = service(request)
    found = await svc.store.list_runs(
        limit + 1,
        offset=offset,
        status=status,
        workflow=workflow,
        since=_when(since, "since"),
        until=_when(until, "until"),
    )
    more = len(found) > limit
    return {
        "runs": [r.to_dict() for r in found[:limit]],
        "next_offset": offset + limit if more else None,
    }


@router.get(
    "/runs/{run_id}", summary="A run: status, progress, every task", response_model=dict[str, Any]
)
async def get_run(
    request: Request,
    run_id: str,
    _who: Any = need("read"),
    tasks: bool = True,
    wait: Annotated[float, Query(ge=0, le=300, description="seconds to wait for the end")] = 0,
) -> Any:
    svc = service(request)
    if wait:
        job = svc.jobs.get(run_id)
        if job is not None:
            await asyncio.wait([job], timeout=wait)
    return await svc.document(run_id, tasks=tasks)


@router.post("/runs/{run_id}/cancel", response_model=RunAction, summary="Cancel a run")
async def cancel_run(request: Request, run_id: str, _who: Any = need("operate")) -> Any:
    status = await service(request).cancel(run_id)
    return {"run_id": run_id, "status": status}


@router.post(
    "/runs/{run_id}/resume",
    response_model=RunAction,
    summary="Resume a run that failed, was cancelled or lost its server",
)
async def resume_run(request: Request, run_id: str, _who: Any = need("operate")) -> Any:
    status = await service(request).resume(run_id)
    return {"run_id": run_id, "status": status}


@router.get(
    "/runs/{run_id}/graph",
    response_class=PlainTextResponse,
    summary="The run's DAG as a Mermaid flowchart, coloured by task status",
)
async def run_graph(request: Request, run_id: str, _who: Any = need("read")) -> Any:
    from types import SimpleNamespace

    from ..spec.diagram import to_mermaid
    from ..spec.workflow import Task, Workflow
    from ..stores.definition import graph

    svc = service(request)
    saved = await svc._saved(run_id)
    states = await svc.store.task_states(run_id)
    wf = Workflow(saved.workflow)
    for tid, deps, route in graph(saved.definition):
        if route.startswith("agent:"):
            wf.add(Task(tid, agent=route[6:], depends_on=deps))
        else:
            wf.add(Task(tid, capability=route, depends_on=deps))
    return PlainTextResponse(to_mermaid(wf, SimpleNamespace(tasks=states)))  # type: ignore[arg-type]


@router.get(
    "/runs/{run_id}/logs", summary="The run's ordered history", response_model=list[dict[str, Any]]
)
async def run_logs(
    request: Request,
    run_id: str,
    _who: Any = need("read"),
    task: Annotated[list[str] | None, Query()] = None,
) -> Any:
    from ..report.documents import history

    svc = service(request)
    await svc._saved(run_id)
    events = history(await svc.store.transitions(run_id))
    if task:
        wanted = set(task)
        events = [e for e in events if e["task"] in wanted]
    return events


@router.get(
    "/runs/{run_id}/report",
    response_class=HTMLResponse,
    summary="A self-contained HTML report of the run",
)
async def run_report(request: Request, run_id: str, _who: Any = need("read")) -> Any:
    from ..report.documents import ordered_states
    from ..report.html import render_report

    svc = service(request)
    saved = await svc._saved(run_id)
    states = await svc.store.task_states(run_id)
    transitions = await svc.store.transitions(run_id)
    return HTMLResponse(render_report(saved, ordered_states(saved, states), transitions))


# -- tasks: one task for a capability --------------------------------------------------------


def _task_doc(doc: dict[str, Any]) -> dict[str, Any]:
    t = doc.get("tasks", {}).get("task") or {}
    return {
        "task_id": doc["run_id"],
        "status": t.get("status") or doc["status"],
        "result": t.get("result"),
        "error": t.get("error"),
        "agent": t.get("agent"),
        "attempts": t.get("attempts", 0),
        "run_status": doc["status"],
    }


@router.post(
    "/tasks",
    status_code=201,
    summary="Submit one task for a capability",
    response_model=dict[str, Any],
)
async def submit_task(
    request: Request,
    body: TaskIn,
    _who: Any = need("operate"),
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    if (body.capability is None) == (body.agent is None):
        raise ValidationError("give exactly one of 'capability' or 'agent'.", field="capability")
    task: dict[str, Any] = {"id": "task", "input": body.input, "priority": body.priority}
    for name in ("capability", "agent", "timeout", "retry"):
        value = getattr(body, name)
        if value is not None:
            task[name] = value
    data = {"name": f"task:{body.capability or body.agent}", "tasks": [task]}
    svc = service(request)
    run_id, created = await svc.submit(data, idempotency=_idem(request, idempotency_key))
    if body.wait:
        job = svc.jobs.get(run_id)
        if job is not None:
            await asyncio.wait([job], timeout=body.wait)
    doc = _task_doc(await svc.document(run_id))
    return JSONResponse(doc, status_code=201 if created else 200)


@router.get(
    "/tasks/{task_id}", summary="A submitted task: status and result", response_model=dict[str, Any]
)
async def get_task(
    request: Request,
    task_id: str,
    _who: Any = need("read"),
    wait: Annotated[float, Query(ge=0, le=300)] = 0,
) -> Any:
    svc = service(request)
    if wait:
        job = svc.jobs.get(task_id)
        if job is not None:
            await asyncio.wait([job], timeout=wait)
    return _task_doc(await svc.document(task_id))


@router.post("/tasks/{task_id}/cancel", response_model=RunAction, summary="Cancel a submitted task")
async def cancel_task(request: Request, task_id: str, _who: Any = need("operate")) -> Any:
    status = await service(request).cancel(task_id)
    return {"run_id": task_id, "status": status}
