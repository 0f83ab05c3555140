"""What runs inside a Ray actor: one replica of an agent, and the context its handler gets.

This module is imported by Ray's worker processes (podium must be installed on every node).
An actor is an async actor: ``run`` is a coroutine, so up to ``max_concurrency`` (the agent's
capacity) tasks run at once on the actor's event loop; a sync handler runs in one of the
actor's ``capacity`` threads, so it cannot block the others.

``run`` returns two objects (``num_returns=2``): a small head the driver awaits, and the result
itself when it is too big to travel in the head. The driver fetches the head only; a big result
stays in the object store and reaches the tasks that depend on it as an object reference.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..._utils.json_values import json_problem

__all__ = ["RemoteContext", "RemoteTask", "Replica", "fits"]


class RemoteTask:
    """``ctx.task`` in an actor: the fields of the task a handler reads (a light copy)."""

    __slots__ = ("capability", "depends_on", "id", "input", "options")

    def __init__(self, id: str, capability: str | None, input: Any, options: Any, deps: Any):
        self.id = id
        self.capability = capability
        self.input = input
        self.options = options
        self.depends_on = deps

    def __repr__(self) -> str:
        return f"<RemoteTask {self.id!r}>"


class RemoteContext:
    """The ``ctx`` of a handler running in a Ray actor: the task's input, its dependencies'
    results and where it stands, as in the engine's `Context`. The run itself (``ctx.run``),
    delegation and the in-memory bus stay in the driver and are not available here; a Redis
    bus is (``ctx.bus``, ``ctx.publish``, ``ctx.subscribe``)."""

    __slots__ = (
        "_bus_spec",
        "_replica",
        "agent",
        "attempt",
        "deps",
        "idempotency_key",
        "input",
        "options",
        "run_id",
        "task",
        "task_id",
        "usage",
    )

    def __init__(self, replica: Replica, info: list[Any], deps: tuple[Any, ...]) -> None:
        self._replica = replica
        task_id, capability, inp, options, self.run_id, self.attempt, self.agent, bus, names = info
        self._bus_spec = bus
        self.task = RemoteTask(task_id, capability, inp, options, names)
        self.task_id: str = task_id
        self.input = inp
        self.options: dict[str, Any] = options or {}
        self.idempotency_key = f"{self.run_id}:{task_id}"
        self.deps = dict(zip(names, deps, strict=True))
        self.usage: list[dict[str, Any]] | None = None

    def stream(self, text: str) -> None:
        """Accepted and dropped: live streaming is shown for in-process agents only."""

    def record_usage(self, **call: Any) -> dict[str, Any]:
        """Report a model call; the driver adds it to the task, the run and its budget."""
        if self.usage is None:
            self.usage = []
        self.usage.append(call)
        return call

    def heartbeat(self) -> None:
        """Accepted: a Ray actor's liveness is Ray's to watch."""

    @property
    def bus(self) -> Any:
        """The run's message bus, when it is one every node reaches (Redis); one connection
        per actor."""
        spec = self._bus_spec
        if spec is None:
            from ...errors import BusError

            raise BusError(
                f"task {self.task_id!r}: ctx.bus in a Ray actor needs a bus every node "
                "reaches: Orchestrator(bus='redis://HOST:6379/0'); the in-memory bus lives in "
                "podium's process."
            )
        return self._replica.bus(spec)

    async def publish(self, topic: str, payload: Any) -> Any:
        return await self.bus.publish(topic, payload, sender=self.agent)

    async def subscribe(self, topic: str, *, maxsize: int | None = None) -> Any:
        return await self.bus.subscribe(topic, maxsize=maxsize)


def fits(value: Any, limit: int) -> bool:
    """Whether ``value`` is about ``limit`` bytes of JSON or less; stops counting early."""
    left = limit
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            left -= len(v) + 2
        elif isinstance(v, dict):
            left -= 2 + 4 * len(v)
            for k, x in v.items():
                left -= len(k) if isinstance(k, str) else 8
                stack.append(x)
        elif isinstance(v, list | tuple):
            left -= 2 + len(v)
            stack.extend(v)
        else:
            left -= 8
        if left < 0:
            return False
    return True


class Replica:
    """One replica of an agent (wrapped with ``ray.remote`` by the driver)."""

    def __init__(self, fn: Any, threads: int, inline_bytes: int) -> None:
        self.fn = fn
        self.inline_bytes = inline_bytes
        call = getattr(fn, "__call__", None)  # noqa: B004 - async callable objects
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)
        self.pool = None if self.is_async else ThreadPoolExecutor(threads, "podium-handler")
        self._buses: dict[tuple[str, str], Any] = {}  # (url, namespace) -> an open bus

    def bus(self, spec: tuple[Any, str, str]) -> Any:
        """The bus of ``spec``: (its class, URL, namespace), the class sent by the driver."""
        cls, url, namespace = spec
        bus = self._buses.get((url, namespace))
        if bus is None:
            bus = self._buses[url, namespace] = cls(url, namespace=namespace)
        return bus

    def _owner(self) -> Any:
        from ..agent import Agent

        owner = getattr(self.fn, "__self__", None)
        return owner if isinstance(owner, Agent) else None

    async def start(self) -> int:
        """Run the agent's ``setup()`` here, where its tasks run; returns the process id."""
        owner = self._owner()
        if owner is not None:
            await owner.setup()
        return os.getpid()

    async def stop(self) -> None:
        owner = self._owner()
        if owner is not None:
            await owner.teardown()
        for bus in self._buses.values():
            await bus.close()

    async def run(self, info: list[Any], *deps: Any) -> tuple[tuple[Any, ...], Any]:
        """Run one task; ``deps`` arrive resolved (Ray fetched them from the object store).
        ``info`` is plain values (task id, capability, input, options, run id, attempt,
        agent, the bus's class, URL and namespace or None, the dependencies' ids): cheap to
        send, unlike a Task."""
        ctx = RemoteContext(self, info, deps)
        if self.pool is None:
            value = await self.fn(ctx)
        else:
            value = await asyncio.get_running_loop().run_in_executor(self.pool, self.fn, ctx)
            if inspect.iscoroutine(value):  # a sync callable that returned a coroutine
                value = await value
        if fits(value, self.inline_bytes):
            return ("value", value, ctx.usage), None
        problem = json_problem(value)  # the driver never sees a big result: check it here
        if problem is not None:
            raise TypeError(
                f"returned {problem}, which is not JSON. Results cross process boundaries: "
                "return dicts, lists, strings, numbers, booleans or None."
            )
        return ("ref", _size(value), ctx.usage), value


def _size(value: Any) -> int:
    """About how many bytes ``value`` takes as JSON (strings counted by length)."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) + 2
        elif isinstance(v, dict):
            total += 2 + 4 * len(v) + sum(len(k) for k in v)
            stack.extend(v.values())
        elif isinstance(v, list):
            total += 2 + len(v)
            stack.extend(v)
        else:
            total += 8
    return total
