"""What the client and the worker share: the server's address and key, and its errors as
podium's exceptions (a `ValidationError` stays one across the wire)."""

from __future__ import annotations

import os
from typing import Any

from .. import errors
from ..errors import PodiumError, RemoteError

__all__ = ["check_url", "error_of", "headers", "unreachable"]

_BY_NAME = {
    name: getattr(errors, name)
    for name in ("ValidationError", "CapabilityError", "HandlerError", "ResultError", "StoreError")
}


def check_url(url: str | None) -> str:
    url = url or os.environ.get("PODIUM_SERVER")
    if not url or not url.startswith(("http://", "https://")):
        raise errors.ValidationError(
            f"the server URL {url!r} must start with http:// or https:// (--server, "
            "PODIUM_SERVER).",
            field="server",
        )
    return url.rstrip("/")


def headers(key: str | None) -> dict[str, str]:
    key = key or os.environ.get("PODIUM_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def error_of(resp: Any, url: str) -> PodiumError:
    """The error a response stands for: podium's own class when the server named one."""
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        doc = {"error": "error", "message": resp.text[:300] or resp.reason_phrase}
    where = {k: doc.get(k) for k in ("file", "task", "field")}
    message = str(doc.get("message") or doc.get("error"))
    cls = _BY_NAME.get(str(doc.get("error")))
    if cls is not None and resp.status_code in (404, 409, 422):
        return cls(message, **where)
    if resp.status_code in (401, 403):
        message += " Give an API key with --key or PODIUM_KEY."
    exc = RemoteError(
        f"{url}: HTTP {resp.status_code}: {message}",
        status=resp.status_code,
        error=doc.get("error"),
        **where,
    )
    return exc


def unreachable(url: str, exc: BaseException) -> RemoteError:
    return RemoteError(
        f"cannot reach the podium server at {url}: {type(exc).__name__}: {exc}. Is it "
        "running (podium serve), and is the URL right?",
        field="server",
    )
