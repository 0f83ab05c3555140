"""podium as a service: the REST API, auth, remote agents and workers, many servers on one
database. ``podium serve`` runs it; `create_app` builds the ASGI app for other servers.

    config.py      ServerConfig: the options of `podium serve`
    app.py         create_app (FastAPI), serve (uvicorn)
    service.py     the orchestrator, its store and the runs this server owns
    auth.py        API keys (scrypt), JWTs, roles, rate limits
    api_*.py       the routes: runs and tasks, agents/workers/keys, system and events
    workers.py     pull workers: leases with a TTL and a fencing token
    ownership.py   run leases in the database: renew, take over a dead server's runs
    events.py      the live event stream (SSE)
    metrics.py     Prometheus metrics
    errors.py      every failure as JSON, never a traceback
    limits.py      the body-size limit (413 before parsing)

fastapi, uvicorn and httpx are imported only here (``pip install 'podium[server]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import ServerConfig as ServerConfig

if TYPE_CHECKING:
    from .app import create_app as create_app
    from .app import serve as serve
    from .background import BackgroundServer as BackgroundServer
    from .background import start as start

__all__ = ["BackgroundServer", "ServerConfig", "create_app", "serve", "start"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "serve"):
        from . import app

        return getattr(app, name)
    if name in ("BackgroundServer", "start"):
        from . import background

        return getattr(background, name)
    raise AttributeError(f"module 'podium.server' has no attribute {name!r}")
