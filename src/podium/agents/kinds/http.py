"""``kind: http``: a push agent, a service that receives each task as an HTTP POST.

The request body is one JSON object::

    {"task_id": "summary", "run_id": "3f2a9c1d04b7", "attempt": 1, "agent": "writer",
     "capability": "write", "input": {...}, "deps": {"fetch": ...}, "options": {},
     "idempotency_key": "3f2a9c1d04b7:summary", "timeout": 30.0}

and the agent answers ``200`` with ``{"result": <any JSON>}``, or with ``{"error": "why"}`` to
fail the attempt. Any other status, a body that is not such an object, a connection error and
a timeout fail the attempt too, so they count for the agent's circuit breaker and the task's
retries like a Python handler's exceptions. The answer must come within the task's
``timeout`` (the engine cancels the request then) and the agent's own ``timeout`` (30 s).

Agents that a server builds from a request are checked against its `NetGuard`: the URL, the
address it resolves to (which is the one connected to) and every redirect.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..._utils.netguard import NetGuard, active_guard
from ...errors import ValidationError
from ..agent import Agent
from .base import AgentKind, AgentSpec, Origin

__all__ = ["HttpAgent", "HttpAgentSpec", "HttpKind", "RemoteTaskError"]

MAX_REDIRECTS = 5


class RemoteTaskError(Exception):
    """A push agent answered with an error, a bad status or a body that is not a result."""


class HttpAgent(Agent):
    """An agent that is a web service: each task is POSTed to ``url`` as JSON.

    >>> orch.register(podium.HttpAgent("translator", "https://agents.example/translate",
    ...                                capabilities=["translate"], capacity=8))
    """

    def __init__(
        self,
        name: str,
        url: str,
        capabilities: Any = None,
        capacity: int | None = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        guard: NetGuard | None = None,
        **options: Any,
    ) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.guard = guard if guard is not None else active_guard()
        if self.guard is not None:
            self.guard.check(url)
        self._client: Any = None
        super().__init__(name, capabilities, capacity, handler=self._post, **options)

    async def setup(self) -> None:
        self._client = _client()

    async def teardown(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def describe(self) -> dict[str, Any]:
        """What to store to build this agent again (`podium serve` keeps it)."""
        return {"kind": "http", "url": self.url, "headers": self.headers, "timeout": self.timeout}

    async def _post(self, ctx: Any) -> Any:
        client = self._client
        if client is None:  # used without setup(): a client for this task alone
            client = self._client = _client()
        task = ctx.task
        body = {
            "task_id": ctx.task_id,
            "run_id": ctx.run_id,
            "attempt": ctx.attempt,
            "agent": ctx.agent,
            "capability": task.capability,
            "input": task.input,
            "deps": ctx.deps,
            "options": ctx.options,
            "idempotency_key": ctx.idempotency_key,
            "timeout": task.timeout,
        }
        url = self.url
        for _ in range(MAX_REDIRECTS + 1):
            target, extra = await self._target(url)
            resp = await client.post(
                target,
                json=body,
                headers={**self.headers, **extra.pop("headers", {})},
                timeout=self.timeout,
                extensions=extra,
            )
            if resp.status_code in (301, 302, 303, 307, 308) and "location" in resp.headers:
                url = _join(url, resp.headers["location"])  # checked again at the loop's top
                continue
            return _answer(self.name, resp)
        raise RemoteTaskError(f"agent {self.name!r}: more than {MAX_REDIRECTS} redirects")

    async def _target(self, url: str) -> tuple[str, dict[str, Any]]:
        """The URL to connect to: the checked address in place of the host (so DNS cannot
        change its mind between the check and the connection), with Host and TLS name kept."""
        if self.guard is None:
            return url, {}
        try:
            host, address = await self.guard.acheck(url)
        except ValidationError as exc:
            raise RemoteTaskError(f"agent {self.name!r}: {exc.message}") from None
        if address == host:
            return url, {}
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        shown = f"[{address}]" if ":" in address else address
        netloc = f"{shown}:{parts.port}" if parts.port else shown
        extra: dict[str, Any] = {"headers": {"Host": parts.netloc.rpartition("@")[2]}}
        if parts.scheme == "https":
            extra["sni_hostname"] = host
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), extra


def _join(base: str, location: str) -> str:
    from urllib.parse import urljoin

    return urljoin(base, location)


def _client() -> Any:
    try:
        import httpx
    except ImportError:
        raise ValidationError(
            "kind: http needs httpx: pip install 'podium[server]'.", field="kind"
        ) from None
    return httpx.AsyncClient(follow_redirects=False, limits=httpx.Limits(max_connections=1000))


def _answer(name: str, resp: Any) -> Any:
    code = resp.status_code
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if code != 200:
        detail = doc.get("error") if isinstance(doc, dict) else resp.text[:200]
        raise RemoteTaskError(f"agent {name!r} answered HTTP {code}: {detail}")
    if isinstance(doc, dict) and "error" in doc and doc["error"] is not None:
        raise RemoteTaskError(f"agent {name!r}: {str(doc['error'])[:500]}")
    if not isinstance(doc, dict) or "result" not in doc:
        raise RemoteTaskError(
            f"agent {name!r} answered {resp.text[:200]!r}: expected a JSON object with "
            "'result' (or 'error')."
        )
    return doc["result"]


class HttpAgentSpec(AgentSpec):
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(30.0, gt=0)


class HttpKind(AgentKind):
    name = "http"
    spec = HttpAgentSpec

    def build(self, spec: HttpAgentSpec, origin: Origin) -> Agent:
        try:
            return HttpAgent(
                url=spec.url, headers=spec.headers, timeout=spec.timeout, **spec.agent_options()
            )
        except ValidationError as exc:
            raise ValidationError(
                f"{origin.prefix}agent {spec.name!r}: {exc.message}",
                file=origin.file,
                field=exc.field,
            ) from None
