"""What every route shares: the service, and who the caller is and whether they may act."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from .auth import AuthError, Principal
from .errors import RateLimited, body

__all__ = ["ERRORS", "Caller", "need", "service"]

_bearer = HTTPBearer(auto_error=False, description="An API key (pod_...) or a JWT.")

_VERBS = {
    "read": "read",
    "operate": "start, cancel or steer runs and agents",
    "work": "lease and report tasks",
    "admin": "manage agents and keys",
}


def service(request: Request) -> Any:
    return request.app.state.service


def need(action: str) -> Any:
    """A dependency: the caller, authenticated, allowed ``action``, within its rate limit."""

    async def caller(request: Request, _: Any = Depends(_bearer)) -> Principal:
        svc = request.app.state.service
        who = await svc.auth.authenticate(request.headers.get("authorization"))
        if not who.may(action):
            raise AuthError(403, f"role {who.role!r} may not {_VERBS[action]}.")
        wait = svc.auth.check_rate(who)
        if wait:
            raise RateLimited(wait)
        request.state.who = who
        return who

    return Depends(caller)


Caller = Principal


def _error(description: str) -> dict[str, Any]:
    example = body("error", description)
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": example,
            }
        },
    }


ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("missing, wrong, expired or revoked credentials"),
    403: _error("the caller's role may not do this"),
    413: _error("the body is over the server's limit"),
    422: _error("the request is invalid (the field is named)"),
    429: _error("over the key's rate limit; see Retry-After"),
}
