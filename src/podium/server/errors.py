"""Every failure as a JSON response with a status that says whose fault it is, and never a
traceback: the message names the field (and the task, the file) and what to do.

    401  no, wrong, expired or revoked credentials        403  a role that may not act
    404  no such run, task or agent                        409  clashes with a run's state
    413  a body over the server's limit (before parsing)   422  an invalid request or workflow
    429  over the key's rate limit (Retry-After)           503  the store is unreachable
    500  a bug: logged with its traceback on the server, only an id in the response
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from ..errors import (
    CapabilityError,
    HandlerError,
    PodiumError,
    ResultError,
    StoreError,
    ValidationError,
)
from .auth import AuthError, retry_after
from .service import Conflict, NotFound

log = logging.getLogger("podium.server")

__all__ = ["RateLimited", "body", "install", "status_of"]


class RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.wait = wait


def body(error: str, message: str, **where: Any) -> dict[str, Any]:
    return {
        "error": error,
        "message": message,
        "field": where.get("field"),
        "task": where.get("task"),
        "file": where.get("file"),
    }


def status_of(exc: PodiumError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, ValidationError | CapabilityError | HandlerError | ResultError):
        return 422
    if isinstance(exc, StoreError):
        return 404 if exc.field == "run_id" else 503
    return 400


def install(app: Any) -> None:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse

    @app.exception_handler(PodiumError)
    async def podium_error(request: Any, exc: PodiumError) -> Any:
        d = exc.to_dict()
        return JSONResponse(d, status_code=status_of(exc))

    @app.exception_handler(AuthError)
    async def auth_error(request: Any, exc: AuthError) -> Any:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        kind = "unauthorized" if exc.status == 401 else "forbidden"
        return JSONResponse(body(kind, exc.message), status_code=exc.status, headers=headers)

    @app.exception_handler(PermissionError)
    async def permission(request: Any, exc: PermissionError) -> Any:
        return JSONResponse(body("forbidden", str(exc)), status_code=403)

    @app.exception_handler(RateLimited)
    async def limited(request: Any, exc: RateLimited) -> Any:
        after = retry_after(exc.wait)
        return JSONResponse(
            body("rate_limited", f"too many requests for this key: retry in {after} s."),
            status_code=429,
            headers={"Retry-After": after},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Any, exc: RequestValidationError) -> Any:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or None
        shown = f"field {field!r}: " if field else ""
        msg = f"{shown}{first.get('msg', 'invalid request')}"
        if "input" in first and first.get("type") != "missing":
            msg += f" (got {str(first['input'])[:100]!r})"
        return JSONResponse(body("ValidationError", msg + ".", field=field), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Any, exc: HTTPException) -> Any:
        names = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return JSONResponse(
            body(names.get(exc.status_code, "error"), str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def crashed(request: Any, exc: Exception) -> Any:
        ref = secrets.token_hex(4)
        log.error("request %s %s failed (ref %s)", request.method, request.url.path, ref,
                  exc_info=exc)  # fmt: skip
        return JSONResponse(
            body("internal", f"the server failed on this request (ref {ref}); see its log."),
            status_code=500,
        )
