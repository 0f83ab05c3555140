"""Agents: named workers with capabilities, a capacity, a lifecycle state and statistics.

Two ways to write one. A function, registered with a decorator::

    @orch.agent(name="researcher", capabilities=["research"], capacity=4)
    async def research(ctx):
        return {"found": ctx.input["query"]}

Or a class, for agents with set-up, tear-down or state of their own::

    class Researcher(podium.Agent):
        capabilities = ["research"]
        capacity = 4

        async def setup(self): ...
        async def handle(self, ctx): return {"found": ctx.input["query"]}

    orch.register(Researcher())

A handler is ``def handler(ctx)`` or ``async def handler(ctx)``. Async handlers run on the
engine's loop; sync ones run in a thread so they cannot block it (``executor="inline"`` runs a
quick sync handler on the loop instead).
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from .._utils.limits import MAX_CAPACITY, MAX_REPLICAS, excerpt
from .._utils.rules import check_rate_limit, check_resources
from ..errors import ValidationError

__all__ = ["Agent", "AgentState"]

EXECUTORS = ("async", "thread", "inline")


class AgentState(StrEnum):
    """Where an agent is in its life. Only ``idle`` and ``running`` agents get new tasks."""

    CREATED = "created"
    INITIALIZING = "initializing"
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    ERROR = "error"
    TERMINATED = "terminated"


_TAKES_WORK = frozenset((AgentState.IDLE, AgentState.RUNNING))


class Agent:
    """A named worker that runs tasks for its capabilities, ``capacity`` at a time.

    Subclass it and define ``handle(self, ctx)`` (sync or async), or pass ``handler=``.
    Class attributes ``name``, ``capabilities``, ``capacity``, ``estimated_time`` and
    ``cost_estimate`` give defaults that the constructor's arguments override.
    """

    name: str | None = None
    capabilities: Iterable[str] = ()
    capacity: int = 10
    estimated_time: float | None = None  # seconds a task usually takes; weights the critical path
    cost_estimate: float | None = None
    executor: str | None = None
    breaker_failures: int = 5  # consecutive failures that open the circuit breaker
    breaker_cooldown: float = 30.0  # seconds the breaker stays open before one probe
    heartbeat_timeout: float | None = None  # seconds without heartbeat() before state error
    rate_limit: dict[str, Any] | None = None  # {requests, tokens, per} (podium.engine.gates)
    offers: dict[str, float] | None = None  # resources: what its tasks may hold in all at once
    batch: tuple[int, float] | None = None  # (max_size, max_wait): the handler takes lists
    batch_in_thread = False  # a batched sync handler runs in a thread

    def __init__(
        self,
        name: str | None = None,
        capabilities: Iterable[str] | None = None,
        capacity: int | None = None,
        handler: Callable[..., Any] | None = None,
        *,
        estimated_time: float | None = None,
        cost_estimate: float | None = None,
        executor: str | None = None,
        breaker_failures: int | None = None,
        breaker_cooldown: float | None = None,
        heartbeat_timeout: float | None = None,
        replicas: tuple[int, int] | dict[str, int] | None = None,
        metadata: dict[str, Any] | None = None,
        rate_limit: dict[str, Any] | None = None,
        resources: dict[str, Any] | None = None,
        batch: dict[str, Any] | None = None,
    ) -> None:
        cls = type(self)
        if handler is not None:
            self._fn: Callable[..., Any] = handler
        elif cls.handle is not Agent.handle:
            self._fn = self.handle
        else:
            raise ValidationError(
                f"agent {name or cls.__name__!r} has no handler: pass handler= or define "
                "handle(self, ctx) in a subclass.",
                field="handler",
            )
        self.name = name or cls.name or getattr(handler, "__name__", None) or cls.__name__
        _check_takes_ctx(self._fn, self.name)
        caps = cls.capabilities if capabilities is None else capabilities
        if isinstance(caps, str):
            caps = [caps]
        self.capabilities: tuple[str, ...] = tuple(caps)
        limit = cls.rate_limit if rate_limit is None else rate_limit
        self.rate_limit = check_rate_limit(limit, owner=f"agent {self.name!r}")
        if resources is not None:
            self.offers = check_resources(resources, owner=f"agent {self.name!r}")
        self.capacity = cls.capacity if capacity is None else capacity
        if not isinstance(self.capacity, int) or not 1 <= self.capacity <= MAX_CAPACITY:
            raise ValidationError(
                f"agent {self.name!r}: capacity must be a whole number from 1 to "
                f"{MAX_CAPACITY:,}, not {excerpt(self.capacity)}.",
                field="capacity",
            )
        self.estimated_time = estimated_time if estimated_time is not None else cls.estimated_time
        self.cost_estimate = cost_estimate if cost_estimate is not None else cls.cost_estimate
        is_async = inspect.iscoroutinefunction(self._fn) or inspect.iscoroutinefunction(
            getattr(self._fn, "__call__", None)  # noqa: B004 - async callable objects
        )
        self.executor = executor or cls.executor or ("async" if is_async else "thread")
        if self.executor not in EXECUTORS:
            raise ValidationError(
                f"agent {self.name!r}: executor {self.executor!r} is not one of "
                f"{', '.join(EXECUTORS)}.",
                field="executor",
            )
        if self.executor == "async" and not is_async:
            self.executor = "inline"  # a sync callable asked to run on the loop
        self.breaker_failures = breaker_failures or cls.breaker_failures
        self.breaker_cooldown = (
            breaker_cooldown if breaker_cooldown is not None else cls.breaker_cooldown
        )
        self.metadata = metadata or {}
        self.heartbeat_timeout = (
            heartbeat_timeout if heartbeat_timeout is not None else cls.heartbeat_timeout
        )
        self.replicas = _replicas(replicas, self.name)
        self.use_batch(batch)
        self.pool: str | None = None  # the pool this agent is a replica of
        self.hold = False  # paused before it was set up: starts paused

        self.state = AgentState.CREATED
        self.last_heartbeat = time.monotonic()
        self.idle_since = time.monotonic()
        self.load = 0  # tasks running now
        self.completed = 0
        self.failed = 0
        self.total_latency = 0.0
        self.consecutive_failures = 0
        self.breaker_until = 0.0  # loop time until which the breaker is open
        self.probing = False  # half-open: one task in flight to test the agent

    # -- to override ---------------------------------------------------------------------

    def handle(self, ctx: Any) -> Any:
        """Do one task. Override this in a subclass (sync or async)."""
        raise NotImplementedError

    async def setup(self) -> None:
        """Called once before the agent takes its first task."""

    async def teardown(self) -> None:
        """Called once when the agent is terminated or the orchestrator closes."""

    def use_batch(self, batch: dict[str, Any] | None) -> None:
        """Hand the handler lists of up to ``max_size`` contexts, waiting at most
        ``max_wait`` seconds for a list to fill; it returns one result per context, in order
        (an exception object in the list fails that task only). See the resources guide."""
        if batch is None:
            return
        where = f"agent {self.name!r}: batch"
        if not isinstance(batch, dict) or set(batch) - {"max_size", "max_wait"}:
            raise ValidationError(
                f"{where} must be a mapping like {{max_size: 32, max_wait: 0.01}}, "
                f"not {excerpt(batch)}.",
                field="batch",
            )
        size, wait = batch.get("max_size", 32), batch.get("max_wait", 0.01)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_CAPACITY:
            raise ValidationError(
                f"{where}: max_size must be a whole number from 1 to {MAX_CAPACITY:,}, "
                f"not {excerpt(size)}.",
                field="batch.max_size",
            )
        if isinstance(wait, bool) or not isinstance(wait, int | float) or wait < 0:
            raise ValidationError(
                f"{where}: max_wait must be a number of seconds >= 0, not {excerpt(wait)}.",
                field="batch.max_wait",
            )
        self.batch = (size, float(wait))
        self.batch_in_thread = self.executor == "thread"  # a sync handler: off the loop
        self.executor = "batch"
        # each task of a batch holds a unit of capacity until the batch ends
        self.capacity = max(self.capacity, size)

    # -- liveness and replicas -------------------------------------------------------------

    def heartbeat(self) -> None:
        """Say the agent is alive. Agents with a ``heartbeat_timeout`` that stay silent longer
        go to state ``error`` and their tasks are reassigned; a heartbeat brings them back."""
        self.last_heartbeat = time.monotonic()
        if self.state is AgentState.ERROR and not self.breaker_until:
            self.state = AgentState.RUNNING if self.load else AgentState.IDLE

    def clone(self, name: str) -> Agent:
        """A fresh replica: same handler and settings, its own state and statistics."""
        new = copy.copy(self)
        new.name = name
        fn = self._fn
        if getattr(fn, "__self__", None) is self:  # a bound method: bind it to the replica
            new._fn = getattr(new, fn.__name__)
        new.metadata = dict(self.metadata)
        new.state = AgentState.CREATED
        new.load = new.completed = new.failed = new.consecutive_failures = 0
        new.total_latency = new.breaker_until = 0.0
        new.probing = False
        new.hold = False
        new.last_heartbeat = new.idle_since = time.monotonic()
        return new

    # -- state and statistics --------------------------------------------------------------

    @property
    def takes_work(self) -> bool:
        return self.state in _TAKES_WORK

    @property
    def success_rate(self) -> float:
        done = self.completed + self.failed
        return self.completed / done if done else 1.0

    @property
    def failure_rate(self) -> float:
        done = self.completed + self.failed
        return self.failed / done if done else 0.0

    @property
    def avg_latency(self) -> float:
        done = self.completed + self.failed
        return self.total_latency / done if done else 0.0

    def stats(self) -> dict[str, Any]:
        """The agent's state and statistics as a JSON object."""
        return {
            "name": self.name,
            "capabilities": list(self.capabilities),
            "capacity": self.capacity,
            "state": str(self.state),
            "load": self.load,
            "completed": self.completed,
            "failed": self.failed,
            "success_rate": round(self.success_rate, 4),
            "avg_latency": round(self.avg_latency, 6),
        }

    def __repr__(self) -> str:
        return (
            f"<Agent {self.name!r} {list(self.capabilities)} {self.state} "
            f"load={self.load}/{self.capacity}>"
        )


def _replicas(value: tuple[int, int] | dict[str, int] | None, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    lo, hi = (value.get("min", 1), value.get("max", 1)) if isinstance(value, dict) else value
    if not (
        isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi <= MAX_REPLICAS and hi >= 1
    ):
        raise ValidationError(
            f"agent {name!r}: replicas needs whole numbers with 0 <= min <= max <= "
            f"{MAX_REPLICAS:,} and max >= 1, not min={excerpt(lo)} max={excerpt(hi)}.",
            field="replicas",
        )
    return (lo, hi)


def _check_takes_ctx(fn: Callable[..., Any], name: str) -> None:
    """A ValidationError now, rather than a TypeError in every task, when ``fn`` cannot be
    called as ``fn(ctx)``."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature: let them run
        return
    try:
        sig.bind(None)
    except TypeError:
        shown = getattr(fn, "__qualname__", None) or type(fn).__name__
        shown = shown.rpartition("<locals>.")[2]
        plain = sig.replace(
            parameters=[p.replace(annotation=p.empty) for p in sig.parameters.values()],
            return_annotation=sig.empty,
        )
        raise ValidationError(
            f"agent {name!r}: handler {shown}{plain} cannot be called as handler(ctx). A handler "
            "takes one argument, the context: def handler(ctx), async def handler(ctx), or a "
            "method def handle(self, ctx) of an instance.",
            field="handler",
        ) from None
