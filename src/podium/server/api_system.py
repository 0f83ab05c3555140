"""Routes about the server itself: health, readiness, metrics, statistics, the event stream,
and the API's own documentation (served from the package: it works offline)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from .deps import ERRORS, need, service

router = APIRouter(responses=ERRORS)


@router.get(
    "/healthz", summary="The process is up (no credentials needed)", response_model=dict[str, Any]
)
async def healthz() -> Any:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The server has opened its store and resumed its runs (no credentials needed)",
    response_model=dict[str, Any],
    responses={503: {"description": "not ready yet, or stopping"}},
)
async def readyz(request: Request) -> Any:
    svc = service(request)
    if not svc.ready:
        return JSONResponse({"status": "starting"}, status_code=503)
    return {"status": "ready", "server": svc.owner}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request, _who: Any = need("read")) -> Any:
    data, content_type = service(request).metrics.render()
    return Response(data, media_type=content_type)


@router.get(
    "/api/v1/stats", summary="Agents, tasks by state, success rate", response_model=dict[str, Any]
)
async def stats(request: Request, _who: Any = need("read")) -> Any:
    svc = service(request)
    doc = svc.orch.stats()
    doc["runs_on_this_server"] = len(svc.jobs)
    doc["server"] = svc.owner
    return doc


@router.get(
    "/api/v1/events",
    summary="Every transition as server-sent events (resumable with Last-Event-ID)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def events(
    request: Request,
    _who: Any = need("read"),
    run: Annotated[str | None, Query(description="only this run's events")] = None,
    agent: Annotated[str | None, Query(description="only this agent's events")] = None,
    format: Annotated[
        Literal["events", "rows"],
        Query(description="rows: task transitions in batches, one JSON array per event"),
    ] = "events",
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Any:
    last = None
    if last_event_id:
        try:
            last = int(last_event_id)
        except ValueError:
            last = None
    stream = service(request).hub.stream(run, agent, last, rows=format == "rows")
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/docs", include_in_schema=False)
async def docs(request: Request) -> Any:
    from fastapi.openapi.docs import get_swagger_ui_html

    svc = service(request)
    if not (svc.config.public_docs or svc.config.insecure_no_auth):
        await svc.auth.authenticate(request.headers.get("authorization"))
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="podium API",
        swagger_js_url="/docs/static/swagger-ui-bundle.js",
        swagger_css_url="/docs/static/swagger-ui.css",
        swagger_favicon_url="/docs/static/favicon-32x32.png",
    )


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> Any:
    svc = service(request)
    if not (svc.config.public_docs or svc.config.insecure_no_auth):
        await svc.auth.authenticate(request.headers.get("authorization"))
    return JSONResponse(request.app.openapi())


def no_docs_page() -> HTMLResponse:
    return HTMLResponse("<p>The API documentation needs swagger-ui-bundle.</p>", status_code=404)
