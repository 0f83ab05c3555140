"""Routes about agents (register, list, get, update, delete, heartbeat, pause, resume, scale,
messages), pull workers (lease, report) and API keys."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..errors import ValidationError
from .deps import ERRORS, need, service
from .models import AgentIn, AgentPatch, HeartbeatIn, KeyIn, LeaseIn, MessageIn, ReportIn, ScaleIn

router = APIRouter(prefix="/api/v1", responses=ERRORS)
_DOC = dict[str, Any]


@router.post(
    "/agents", status_code=201, summary="Register an agent (push or worker)", response_model=_DOC
)
async def register_agent(request: Request, body: AgentIn, who: Any = need("read")) -> Any:
    svc = service(request)
    spec = body.model_dump(exclude_none=True)
    kind = spec.get("kind") or ("http" if "url" in spec else "python")
    needed = "work" if kind == "worker" else "admin"
    if not who.may(needed):
        raise PermissionError(
            f"role {who.role!r} may not register {'workers' if kind == 'worker' else 'agents'}."
        )
    agent = await svc.register(spec, as_worker=who.role == "worker")
    return JSONResponse(svc.describe_agent(agent.name), status_code=201)


@router.get(
    "/agents",
    summary="Every agent: state, load, capacity, capabilities, statistics",
    response_model=list[_DOC],
)
async def list_agents(request: Request, _who: Any = need("read")) -> Any:
    svc = service(request)
    return [svc.describe_agent(name) for name in sorted(svc.orch.live_agents())]


@router.get("/agents/{name}", summary="One agent", response_model=_DOC)
async def get_agent(request: Request, name: str, _who: Any = need("read")) -> Any:
    return service(request).describe_agent(name)


@router.patch(
    "/agents/{name}", summary="Change an agent's capacity or metadata", response_model=_DOC
)
async def update_agent(
    request: Request, name: str, body: AgentPatch, _who: Any = need("admin")
) -> Any:
    svc = service(request)
    agent = svc.agent(name)
    if body.capacity is not None:
        agent.capacity = body.capacity
        for run in svc.orch.active_runs():
            run._dispatch()
    if body.metadata is not None:
        agent.metadata = body.metadata
    return svc.describe_agent(name)


@router.delete("/agents/{name}", status_code=204, summary="Terminate and remove an agent")
async def delete_agent(request: Request, name: str, who: Any = need("read")) -> None:
    from .workers import WorkerAgent

    svc = service(request)
    # a worker may deregister itself when it stops; the rest is for admins
    if not (who.may("admin") or who.may("work")):
        raise PermissionError(f"role {who.role!r} may not manage agents.")
    agent = svc.agent(name)
    if not who.may("admin") and not isinstance(agent, WorkerAgent):
        raise PermissionError(f"role {who.role!r} may not manage agents.")
    await svc.delete_agent(name)


@router.post(
    "/agents/{name}/terminate", status_code=200, summary="Terminate an agent", response_model=_DOC
)
async def terminate_agent(request: Request, name: str, _who: Any = need("operate")) -> Any:
    svc = service(request)
    doc = svc.describe_agent(name)
    await svc.delete_agent(name)
    doc["state"] = "terminated"
    return doc


@router.post("/agents/{name}/pause", summary="Give an agent no new tasks", response_model=_DOC)
async def pause_agent(request: Request, name: str, _who: Any = need("operate")) -> Any:
    svc = service(request)
    svc.agent(name)
    svc.orch.pause_agent(name)
    svc.hub.publish("agent_paused", agent=name)
    return svc.describe_agent(name)


@router.post(
    "/agents/{name}/resume", summary="Let a paused agent take tasks again", response_model=_DOC
)
async def resume_agent(request: Request, name: str, _who: Any = need("operate")) -> Any:
    svc = service(request)
    svc.agent(name)
    svc.orch.resume_agent(name)
    svc.hub.publish("agent_resumed", agent=name)
    return svc.describe_agent(name)


@router.post(
    "/agents/{name}/scale",
    summary="Resize a pool (min, max) or an agent's capacity",
    response_model=_DOC,
)
async def scale_agent(
    request: Request, name: str, body: ScaleIn, _who: Any = need("operate")
) -> Any:
    return await service(request).scale(
        name, min_size=body.min, max_size=body.max, capacity=body.capacity
    )


@router.post("/agents/{name}/heartbeat", summary="Say the agent is alive", response_model=_DOC)
async def heartbeat(
    request: Request, name: str, body: HeartbeatIn | None = None, _who: Any = need("read")
) -> Any:
    svc = service(request)
    agent = svc.agent(name)
    from .workers import WorkerAgent

    if isinstance(agent, WorkerAgent):
        agent.seen()
        return {
            "name": name,
            "state": str(agent.state),
            "valid": agent.valid(body.tokens if body else []),
        }
    agent.heartbeat()
    return {"name": name, "state": str(agent.state), "valid": []}


@router.post(
    "/agents/{name}/messages",
    status_code=202,
    summary="Send a message to the agent's inbox",
    response_model=_DOC,
)
async def send_message(
    request: Request, name: str, body: MessageIn, _who: Any = need("read")
) -> Any:
    svc = service(request)
    svc.agent(name)
    msg = await svc.orch.bus.send(name, body.payload, sender=body.sender)
    return {"id": msg.id, "to": name}


@router.get("/agents/{name}/messages", summary="Read the agent's inbox", response_model=list[_DOC])
async def read_messages(
    request: Request,
    name: str,
    _who: Any = need("read"),
    max: Annotated[int, Query(ge=1, le=1000)] = 100,
    wait: Annotated[float, Query(ge=0, le=60)] = 0,
) -> Any:

    svc = service(request)
    svc.agent(name)
    box = await svc.inbox(name)
    out = []
    msg = box.get_nowait()
    if msg is None and wait:
        try:
            msg = await box.get(timeout=wait)
        except TimeoutError:  # BusTimeout is one
            msg = None
    while msg is not None:
        out.append(
            {
                "id": msg.id,
                "kind": msg.kind,
                "sender": msg.sender,
                "target": msg.target,
                "payload": msg.payload,
                "correlation_id": msg.correlation_id,
                "timestamp": msg.timestamp,
            }
        )
        if len(out) >= max:
            break
        msg = box.get_nowait()
    return out


# -- pull workers ------------------------------------------------------------------------------


@router.post(
    "/workers/{name}/lease", summary="Lease tasks for a worker (long polling)", response_model=_DOC
)
async def lease(request: Request, name: str, body: LeaseIn, _who: Any = need("work")) -> Any:
    worker = service(request).worker(name)
    tasks = await worker.lease(body.max, body.wait)
    return {"tasks": tasks, "lease_ttl": worker.ttl}


@router.post(
    "/workers/{name}/results",
    summary="Report results of leased tasks",
    response_model=_DOC,
    responses={409: {"description": "every result was rejected (leases over)"}},
)
async def report(request: Request, name: str, body: ReportIn, _who: Any = need("work")) -> Any:
    worker = service(request).worker(name)
    worker.seen()
    accepted, rejected = [], []
    for r in body.results:
        if r.error is None:
            from .._utils.json_values import json_problem

            problem = json_problem(r.result)
            if problem is not None:
                raise ValidationError(f"result contains {problem}, not JSON.", field="result")
        why = worker.report(r.token, r.result, r.error)
        if why is None:
            accepted.append(r.token)
        else:
            rejected.append({"token": r.token, "reason": why})
    doc = {"accepted": accepted, "rejected": rejected}
    return JSONResponse(doc, status_code=409 if rejected and not accepted else 200)


# -- API keys ------------------------------------------------------------------------------------


@router.post(
    "/keys", status_code=201, summary="Create an API key (shown once)", response_model=_DOC
)
async def create_key(request: Request, body: KeyIn, _who: Any = need("admin")) -> Any:
    from .auth import new_key

    svc = service(request)
    key, record = new_key(body.role, body.name, body.rate_limit)
    await svc.store.create_key(record)
    return JSONResponse({"key": key, **record.to_dict()}, status_code=201)


@router.get("/keys", summary="API keys (never the keys themselves)", response_model=list[_DOC])
async def list_keys(request: Request, _who: Any = need("admin")) -> Any:
    return [k.to_dict() for k in await service(request).store.list_keys()]


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke an API key")
async def revoke_key(request: Request, key_id: str, _who: Any = need("admin")) -> None:
    from .service import NotFound

    svc = service(request)
    if not await svc.store.revoke_key(key_id, time.time()):
        raise NotFound(f"no API key with id {key_id!r}.", field="key_id")
    svc.auth.forget(key_id)
