"""The FastAPI application: `create_app(config)` wires the service, the routes, the limits and
the error handlers; `serve(config)` runs it under uvicorn."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from .config import ServerConfig
from .service import Service

__all__ = ["create_app", "serve"]


def create_app(config: ServerConfig | None = None) -> Any:
    from fastapi import FastAPI

    from .. import __version__
    from . import api_agents, api_dashboard, api_runs, api_system, errors
    from .limits import BodyLimit
    from .models import Error

    config = config or ServerConfig()
    config.check()
    svc = Service(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    app = FastAPI(
        title="podium",
        version=__version__,
        description="Orchestrate many agents: runs, tasks, agents, workers, events.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served by api_system behind credentials
        lifespan=lifespan,
    )
    app.state.service = svc
    errors.install(app)
    app.include_router(api_system.router)
    app.include_router(api_runs.router)
    app.include_router(api_agents.router)
    app.include_router(api_dashboard.router)
    try:
        import swagger_ui_bundle
        from starlette.staticfiles import StaticFiles

        app.mount(
            "/docs/static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs"
        )
    except ImportError:
        pass
    _schema(app, Error)
    from .fastpath import FastRoutes

    app.add_middleware(FastRoutes, service=svc)
    app.add_middleware(BodyLimit, limit=config.max_body)
    return app


def _schema(app: Any, error_model: Any) -> None:
    """The OpenAPI schema, with the shared error body as a component."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            comps["Error"] = error_model.model_json_schema()
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def serve(config: ServerConfig) -> None:
    """Run the server until SIGINT/SIGTERM (then its runs are handed over, see `Service.stop`)."""
    import uvicorn

    app = create_app(config)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        loop="auto",
        http="auto",
        timeout_graceful_shutdown=5,
    )
