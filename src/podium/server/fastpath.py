"""The hot routes without the framework's per-request machinery: submitting a run, reading
one, and a worker's lease and report calls.

FastAPI resolves dependencies, validates and serialises through generic layers that cost a
few hundred microseconds a request; at a thousand submissions a second that is most of the
budget. These four routes are served here, as plain ASGI, with the same auth, rate limits,
validation and error bodies as the rest of the API (the routes in ``api_*.py`` still describe
them in the OpenAPI schema, and serve them if this layer is removed).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import pydantic

from ..errors import PodiumError, ValidationError
from .auth import AuthError, Principal, retry_after
from .errors import RateLimited, body, status_of

__all__ = ["FastRoutes"]

log = logging.getLogger("podium.server")
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_RUN = re.compile(r"/api/v1/runs/([^/]+)")
_WORKER = re.compile(r"/api/v1/workers/([^/]+)/(lease|results)")
_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n"}

Reply = tuple[int, Any, dict[str, str] | None]


class _Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class FastRoutes:
    """ASGI middleware: serves the hot routes itself, passes everything else on."""

    def __init__(self, app: Any, service: Any) -> None:
        self.app = app
        self.svc = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            route: Callable[..., Awaitable[Reply]] | None = None
            arg = None
            if method == "POST" and path == "/api/v1/runs":
                route = self._start_run
            elif method == "GET" and (m := _RUN.fullmatch(path)) is not None:
                route, arg = self._get_run, m.group(1)
            elif method == "POST" and (m := _WORKER.fullmatch(path)) is not None:
                route = self._lease if m.group(2) == "lease" else self._report
                arg = m.group(1)
            if route is not None:
                await self._serve(route, arg, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(self, route: Any, arg: Any, scope: Any, receive: Any, send: Any) -> None:
        try:
            status, doc, headers = await route(arg, scope, receive)
        except AuthError as exc:
            extra = {"www-authenticate": "Bearer"} if exc.status == 401 else None
            kind = "unauthorized" if exc.status == 401 else "forbidden"
            status, doc, headers = exc.status, body(kind, exc.message), extra
        except RateLimited as exc:
            after = retry_after(exc.wait)
            msg = f"too many requests for this key: retry in {after} s."
            status, doc, headers = 429, body("rate_limited", msg), {"retry-after": after}
        except _Invalid as exc:
            status, doc, headers = 422, body("ValidationError", exc.message, field=exc.field), None
        except PodiumError as exc:
            status, doc, headers = status_of(exc), exc.to_dict(), None
        except Exception as exc:
            ref = secrets.token_hex(4)
            log.error("request %s %s failed (ref %s)", scope["method"], scope["path"], ref,
                      exc_info=exc)  # fmt: skip
            msg = f"the server failed on this request (ref {ref}); see its log."
            status, doc, headers = 500, body("internal", msg), None
        data = _dumps(doc).encode()
        raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        if headers:
            raw.extend((k.encode(), v.encode()) for k, v in headers.items())
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": data})

    # -- plumbing -------------------------------------------------------------------------------

    async def _caller(self, scope: Any, action: str) -> Principal:
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        svc = self.svc
        who = await svc.auth.authenticate(header)
        if not who.may(action):
            from .deps import _VERBS

            raise AuthError(403, f"role {who.role!r} may not {_VERBS[action]}.")
        wait = svc.auth.check_rate(who)
        if wait:
            raise RateLimited(wait)
        return who

    @staticmethod
    async def _body(receive: Any) -> bytes:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    @staticmethod
    def _header(scope: Any, name: bytes) -> str | None:
        for key, value in scope["headers"]:
            if key == name:
                return value.decode("latin-1")
        return None

    # -- routes ---------------------------------------------------------------------------------

    async def _start_run(self, _: Any, scope: Any, receive: Any) -> Reply:
        who = await self._caller(scope, "operate")
        raw = await self._body(receive)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ValidationError(f"the body is not JSON: {exc}.", field="body") from None
        key = self._header(scope, b"idempotency-key")
        if key is not None:
            if not 1 <= len(key) <= 200:
                raise _Invalid("Idempotency-Key", "Idempotency-Key must be 1-200 characters.")
            key = f"{who.id}:{key}"
        run_id, created = await self.svc.submit(data, idempotency=key)
        doc = {
            "run_id": run_id,
            "status": "running" if created else "submitted",
            "created": created,
            "url": f"/api/v1/runs/{run_id}",
        }
        return (201 if created else 200), doc, None

    async def _get_run(self, run_id: str, scope: Any, receive: Any) -> Reply:
        await self._caller(scope, "read")
        tasks, wait = True, 0.0
        for name, value in parse_qsl(scope["query_string"].decode("latin-1")):
            if name == "tasks":
                low = value.lower()
                if low not in _TRUE and low not in _FALSE:
                    raise _Invalid("tasks", f"field 'tasks': not a boolean (got {value[:50]!r}).")
                tasks = low in _TRUE
            elif name == "wait":
                try:
                    wait = float(value)
                except ValueError:
                    wait = -1.0
                if not 0 <= wait <= 300:
                    raise _Invalid(
                        "wait", f"field 'wait': a number of seconds 0-300 (got {value[:50]!r})."
                    )
        svc = self.svc
        if wait:
            job = svc.jobs.get(run_id)
            if job is not None:
                import asyncio

                await asyncio.wait([job], timeout=wait)
        return 200, await svc.document(run_id, tasks=tasks), None

    async def _lease(self, name: str, scope: Any, receive: Any) -> Reply:
        from .models import LeaseIn

        await self._caller(scope, "work")
        req = _model(LeaseIn, await self._body(receive))
        worker = self.svc.worker(name)
        tasks = await worker.lease(req.max, req.wait)
        return 200, {"tasks": tasks, "lease_ttl": worker.ttl}, None

    async def _report(self, name: str, scope: Any, receive: Any) -> Reply:
        from .._utils.json_values import json_problem
        from .models import ReportIn

        await self._caller(scope, "work")
        req = _model(ReportIn, await self._body(receive))
        worker = self.svc.worker(name)
        worker.seen()
        accepted, rejected = [], []
        for r in req.results:
            if r.error is None and (problem := json_problem(r.result)) is not None:
                raise ValidationError(f"result contains {problem}, not JSON.", field="result")
            why = worker.report(r.token, r.result, r.error)
            if why is None:
                accepted.append(r.token)
            else:
                rejected.append({"token": r.token, "reason": why})
        doc = {"accepted": accepted, "rejected": rejected}
        return (409 if rejected and not accepted else 200), doc, None


def _model(model: Any, raw: bytes) -> Any:
    try:
        return model.model_validate_json(raw or b"{}")
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()) if not isinstance(p, int)) or None
        shown = f"field {field!r}: " if field else ""
        raise _Invalid(field or "body", f"{shown}{first.get('msg', 'invalid')}.") from None
