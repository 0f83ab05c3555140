"""Pull workers: agents whose tasks wait on the server until a `podium worker` leases them.

A worker registers as an agent (``kind: worker``) with its capabilities and capacity. The
engine routes tasks to it like to any agent; the agent's handler does not run the task, it
*offers* it: the task waits in the worker's queue until the worker leases it (long polling,
several at a time), then the handler waits for the worker's report.

Every lease carries a fencing token and lasts ``ttl`` seconds, renewed by any call of the
worker (lease, report, heartbeat). The agent's ``heartbeat_timeout`` is that ttl, so a worker
that stops calling (killed, frozen, cut off) goes to state ``error`` through the orchestrator's
supervisor: its tasks are taken away and queued for other capable agents (the next attempt
counts, ``ctx.attempt`` + 1, without using up the task's retries), and their tokens are
forgotten. A report with a token the server no longer knows (the lease ended, the task went
elsewhere, the server restarted) is rejected, so a task completes once. Leases live on the
server that owns the run: only it can accept the result, and a run taken over by another
server runs its unfinished tasks again under new tokens.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from typing import Any

from ..agents.agent import Agent
from ..errors import ValidationError

__all__ = ["WorkerAgent", "WorkerError"]


class WorkerError(Exception):
    """A worker reported that its task failed."""


class _Lease:
    __slots__ = ("ctx", "dead", "fut", "leased_at", "token")

    def __init__(self, token: str, ctx: Any, fut: asyncio.Future[Any]) -> None:
        self.token = token
        self.ctx = ctx
        self.fut = fut
        self.dead = False
        self.leased_at: float | None = None


class WorkerAgent(Agent):
    """An agent served by a remote pull worker (`podium worker`, `podium.Worker`)."""

    def __init__(
        self,
        name: str,
        capabilities: Any,
        capacity: int,
        *,
        ttl: float,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.ttl = ttl
        self._queue: deque[_Lease] = deque()  # offered, not leased yet
        self._leases: dict[str, _Lease] = {}  # every task waiting for this worker, by token
        self._waiters: list[asyncio.Future[None]] = []
        self.registered_at = time.time()
        self.last_seen = time.time()
        super().__init__(
            name,
            capabilities,
            capacity,
            handler=self._offer,
            heartbeat_timeout=ttl,
            metadata=metadata,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "worker",
            "lease_ttl": self.ttl,
            "leased": sum(1 for lease in self._leases.values() if lease.leased_at is not None),
            "queued": len(self._queue),
            "last_seen": self.last_seen,
        }

    async def _offer(self, ctx: Any) -> Any:
        fut = asyncio.get_running_loop().create_future()
        lease = _Lease(secrets.token_urlsafe(12), ctx, fut)
        self._leases[lease.token] = lease
        self._queue.append(lease)
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)
        try:
            return await fut
        finally:  # done, failed, or taken away: the token is no longer good
            lease.dead = True
            self._leases.pop(lease.token, None)

    def seen(self) -> None:
        """The worker called: it is alive, and its leases last another ttl."""
        self.last_seen = time.time()
        self.heartbeat()

    def _take(self, n: int) -> list[_Lease]:
        out = []
        now = time.time()
        queue = self._queue
        while queue and len(out) < n:
            lease = queue.popleft()
            if lease.dead:
                continue
            lease.leased_at = now
            out.append(lease)
        return out

    async def lease(self, n: int, wait: float) -> list[dict[str, Any]]:
        """Up to ``n`` tasks for the worker, waiting up to ``wait`` seconds for the first."""
        self.seen()
        got = self._take(n)
        if not got and wait > 0:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, wait)
            except TimeoutError:
                pass
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            got = self._take(n)
        return [self._payload(lease) for lease in got]

    def _payload(self, lease: _Lease) -> dict[str, Any]:
        ctx = lease.ctx
        task = ctx.task
        return {
            "token": lease.token,
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
            "lease_ttl": self.ttl,
        }

    def report(self, token: str, result: Any = None, error: str | None = None) -> str | None:
        """Settle a leased task; None when accepted, else why it was rejected."""
        lease = self._leases.get(token)
        if lease is None or lease.dead:
            return (
                "the lease is unknown or over (it expired, or the task went to another "
                "worker): this result is not used"
            )
        if lease.leased_at is None:
            return "the task was not leased yet"
        if lease.fut.done():
            return "the task was settled already"
        if error is not None:
            lease.fut.set_exception(WorkerError(error))
        else:
            lease.fut.set_result(result)
        return None

    def valid(self, tokens: list[str]) -> list[str]:
        """Those of ``tokens`` that still hold a lease."""
        return [t for t in tokens if t in self._leases]


def check_worker_fields(capabilities: Any, capacity: Any) -> None:
    if not isinstance(capacity, int) or capacity < 1:
        raise ValidationError("capacity must be a whole number of at least 1.", field="capacity")
    if not capabilities:
        raise ValidationError(
            "a worker needs at least one capability (--capabilities a,b).", field="capabilities"
        )
