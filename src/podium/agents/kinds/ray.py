"""``kind: ray``: an agent whose replicas are Ray actors, and the run-wide Ray backend.

Each replica is one async Ray actor with ``max_concurrency`` = the agent's capacity; a sync
handler runs in the actor's threads. ``resources`` places the actor on nodes that have them.
The engine, the scheduler, the store and the patterns stay in this process (the driver): for
the engine a Ray agent is an agent whose handler awaits an actor call.

Where results live. A result of at most ``inline_bytes`` (64 KiB by default) of JSON comes back
to the driver with the call and is handled like any other: stored in the run's store, shown,
resumed. A bigger result stays in Ray's object store when other tasks depend on it: the task's
result in the driver is a reference, ``{"ray_object": "<hex id>", "bytes": <size>}`` (that is
what the store records), and the dependent tasks' actors get the value straight from the object
store, so it never passes through the driver. It is fetched only when an in-process agent reads
it in ``ctx.deps``, or when nothing depends on the task (its result is the run's output). The
driver lets go of it once every task that depends on it has completed.
References die with the driver: a resumed run runs such a task again if a task that needs it
has not completed.

Failures. A handler's exception fails the attempt as it would in process. A crashed actor (or a
lost node) fails the attempt with `ActorLost` and is replaced by a fresh actor; the task's retry
policy decides whether it runs again (on another replica when the agent has several). A
timeout or the run's cancellation cancels the Ray task (``ray.cancel``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from typing import Any

from pydantic import Field, field_validator

from ..._utils.models import StrictModel
from ...errors import PodiumError, ValidationError
from ..agent import Agent
from .base import AgentKind, Origin
from .python import PythonAgentSpec, PythonKind

__all__ = [
    "INLINE_BYTES",
    "ActorLost",
    "RayAgent",
    "RayAgentSpec",
    "RayKind",
    "RayResources",
    "as_ray_agent",
    "drop_lost_references",
    "ensure_ray",
    "is_reference",
]

INLINE_BYTES = 64 * 1024  # bigger results stay in the object store when a task depends on them


class ActorLost(PodiumError):
    """The Ray actor running a task died (crash, kill, lost node) before it answered."""


def ensure_ray(address: str | None = None) -> Any:
    """The ``ray`` module, connected: to ``address`` (``auto``, ``ray://host:10001``), else to
    ``RAY_ADDRESS``, else to a local Ray instance started now. Once per process."""
    try:
        import ray
    except ImportError:
        raise ValidationError(
            "the Ray backend (kind: ray, --backend ray) needs ray: pip install 'podium[ray]'.",
            field="backend",
        ) from None
    if not ray.is_initialized():
        options: dict[str, Any] = {"logging_level": logging.ERROR}
        if address or os.environ.get("RAY_ADDRESS"):
            options["address"] = address  # None: ray reads RAY_ADDRESS
        else:
            options["include_dashboard"] = False
        try:
            ray.init(**options)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise ValidationError(
                f"cannot connect to Ray at {address or os.environ.get('RAY_ADDRESS')!r}: {exc}. "
                "Check --ray-address (auto, or ray://HOST:10001) and that the cluster is up.",
                field="ray_address",
            ) from None
    return ray


def is_reference(value: Any) -> bool:
    """Whether ``value`` is the driver's stand-in for a result kept in Ray's object store."""
    return type(value) is dict and len(value) == 2 and "ray_object" in value and "bytes" in value


_ACTOR: Any = None


def _actor_class() -> Any:
    global _ACTOR
    if _ACTOR is None:
        import ray

        from ._ray_actor import Replica

        _ACTOR = ray.remote(Replica)
    return _ACTOR


def _ship(fn: Any) -> Any:
    """Let ``fn`` reach the actors: a handler from a module that is not installed (a workflow's
    folder, a script, a test) is pickled by value, since the workers cannot import it."""
    owner = getattr(fn, "__self__", None)
    obj = type(owner) if owner is not None and not isinstance(owner, type) else fn
    name = getattr(obj, "__module__", None) or ""
    module = sys.modules.get(name)
    top = name.partition(".")[0]
    path = getattr(module, "__file__", None) or ""
    if module is None or name == "__main__" or top in ("podium", "ray"):
        return fn
    if "site-packages" in path or "dist-packages" in path or top in sys.stdlib_module_names:
        return fn
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    return fn


class RayAgent(Agent):
    """An agent whose replicas run ``target(ctx)`` in Ray actors.

    >>> orch.register(podium.RayAgent("embed", capabilities=["embed"], capacity=4,
    ...                               target=embed, resources={"num_gpus": 1}))
    """

    def __init__(
        self,
        name: str | None = None,
        capabilities: Any = None,
        capacity: int | None = None,
        *,
        target: Any,
        resources: dict[str, Any] | None = None,
        address: str | None = None,
        inline_bytes: int = INLINE_BYTES,
        **options: Any,
    ) -> None:
        if isinstance(target, Agent):
            target = target._fn
        if not callable(target):
            raise ValidationError(
                f"agent {name!r}: target {target!r} is not callable.", field="handler"
            )
        self.target = target
        self.resources = actor_options(resources, name)
        self.address = address
        self.inline_bytes = inline_bytes
        self._actor: Any = None
        self._ready: Any = None
        self._run: Any = None  # the actor's run method, with its options bound once
        name = name or getattr(target, "__name__", None)
        super().__init__(name, capabilities, capacity, handler=self._call, **options)
        bid = getattr(getattr(target, "__self__", None), "bid", None)
        if callable(bid):  # auctions ask the bid in the driver
            self.bid = bid

    def clone(self, name: str) -> Agent:
        new = super().clone(name)
        new._actor = new._ready = new._run = None  # type: ignore[attr-defined]
        return new

    def describe(self) -> dict[str, Any]:
        return {"kind": "ray", "resources": self.resources}

    # -- the actor ------------------------------------------------------------------------

    def _spawn(self) -> None:
        ensure_ray(self.address)
        options = {"max_concurrency": self.capacity, "max_restarts": 0, **self.resources}
        cls = _actor_class().options(**options)
        self._actor = cls.remote(_ship(self.target), self.capacity, self.inline_bytes)
        self._run = self._actor.run.options(num_returns=2).remote
        self._ready = self._actor.start.remote()

    async def setup(self) -> None:
        self._spawn()
        await self._started()

    async def _started(self) -> None:
        ready = self._ready
        if ready is None:
            return
        try:
            await ready
        except Exception as exc:
            self._actor = self._ready = None
            raise ValidationError(
                f"agent {self.name!r}: its Ray actor did not start: {_cause(exc)}",
                field="handler",
            ) from None
        if self._ready is ready:
            self._ready = None

    async def teardown(self) -> None:
        actor, self._actor, self._ready = self._actor, None, None
        if actor is None:
            return
        import ray

        try:
            await actor.stop.remote()
        except Exception:  # already gone: nothing to tear down
            pass
        ray.kill(actor)

    def _replace(self, dead: Any) -> None:
        """A fresh actor in place of ``dead`` (once, however many calls saw it die)."""
        if self._actor is not dead:
            return
        import ray

        try:
            ray.kill(dead)
        except Exception:
            pass
        self._spawn()

    # -- one task -------------------------------------------------------------------------

    async def _call(self, ctx: Any) -> Any:
        if self._actor is None:  # used without setup()
            self._spawn()
        if self._ready is not None:
            await self._started()
        actor = self._actor
        run = ctx.run
        rec = ctx._rec
        task = rec.task
        names = list(task.depends_on)
        refs: dict[str, Any] | None = getattr(run, "ray_refs", None)
        records = run.records
        args = [refs[d] if refs is not None and d in refs else records[d].result for d in names]
        bus = getattr(run, "bus", None)
        # a bus every node reaches (Redis) goes as its class, URL and namespace
        bus_spec = (type(bus), bus.url, bus.namespace) if hasattr(bus, "namespace") else None
        # one list of plain values: Ray sends it as msgpack, cheaper than a tuple and a list
        info = [
            task.id,
            task.capability,
            task.input,
            task.options,
            run.run_id,
            ctx.attempt,
            self.name,
            bus_spec,
            names,
        ]
        head_ref, value_ref = self._run(info, *args)
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        try:
            head = await head_ref
        except asyncio.CancelledError:
            ray.cancel(head_ref)
            raise
        except RayActorError as exc:
            self._replace(actor)
            raise ActorLost(
                f"agent {self.name!r}: its Ray actor died while running task {rec.id!r} "
                f"({type(exc).__name__}); a fresh actor takes its next tasks."
            ) from None
        except RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else None
            if cause is not None:
                raise cause from None
            raise
        if refs:
            _release(refs, records, names, rec)
        kind, detail, usage = head
        if usage:
            for call in usage:
                ctx.record_usage(**call)
        if kind == "value":
            return detail
        if rec.dependents:  # stays in the object store; dependents get the reference
            if refs is None:
                refs = run.ray_refs = {}
            refs[rec.id] = value_ref
            return {"ray_object": value_ref.hex(), "bytes": detail}
        return await value_ref  # nothing depends on it: it is the run's output


def _release(refs: dict[str, Any], records: Any, names: list[str], rec: Any) -> None:
    """Let go of the kept results no task needs any more: every task that depends on them has
    completed (``rec``, which needed them, is completing now), so Ray can free them."""
    for d in names:
        if d in refs and all(x is rec or x.status == "completed" for x in records[d].dependents):
            del refs[d]


def _cause(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"


def drop_lost_references(presets: dict[str, dict[str, Any]], workflow: Any) -> None:
    """On resume: a completed task whose result stayed in the object store (the store holds
    only its reference, which died with the driver) runs again if a task that needs it has
    not completed."""
    lost = {
        tid
        for tid, p in presets.items()
        if p.get("status") == "completed" and is_reference(p.get("result"))
    }
    if not lost:
        return
    needed = set()
    for task in workflow.tasks.values():
        if presets.get(task.id, {}).get("status") != "completed":
            needed.update(d for d in task.depends_on if d in lost)
    for tid in needed:
        presets[tid] = {"status": "pending", "attempts": presets[tid].get("attempts") or 0}


def fetch(refs: dict[str, Any], task_id: str) -> Any:
    """The value of a result kept in the object store (blocks until it is here)."""
    import ray

    return ray.get(refs[task_id])


# -- resources --------------------------------------------------------------------------

_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def _bytes(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*", str(value).lower())
    if m is None:
        raise ValueError(f"{value!r} is not an amount of memory (2GB, 512MiB, or bytes)")
    number, unit, binary = m.groups()
    scale = 1024 ** "_kmgt".index(unit) if binary and unit else _UNITS[unit]
    return int(float(number) * scale)


class RayResources(StrictModel):
    """What each actor of the agent asks Ray for; it lands on a node that has it."""

    num_cpus: float | None = Field(None, ge=0)
    num_gpus: float | None = Field(None, ge=0)
    memory: int | str | None = None  # bytes, or "2GB", "512MiB"
    custom: dict[str, float] = Field(default_factory=dict)

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: Any) -> int | None:
        return None if v is None else _bytes(v)


def actor_options(resources: dict[str, Any] | None, name: str | None) -> dict[str, Any]:
    """Ray's actor options for ``resources`` (the YAML mapping)."""
    if not resources:
        return {}
    try:
        r = RayResources.model_validate(resources)
    except Exception as exc:
        raise ValidationError(
            f"agent {name!r}: resources: {exc}".splitlines()[0]
            + " Use num_cpus, num_gpus, memory and custom.",
            field="resources",
        ) from None
    out: dict[str, Any] = {}
    if r.num_cpus is not None:
        out["num_cpus"] = r.num_cpus
    if r.num_gpus is not None:
        out["num_gpus"] = r.num_gpus
    if r.memory is not None:
        out["memory"] = r.memory
    if r.custom:
        out["resources"] = dict(r.custom)
    return out


# -- the kind and the backend -------------------------------------------------------------


class RayAgentSpec(PythonAgentSpec):
    resources: RayResources | None = None
    inline_bytes: int = Field(INLINE_BYTES, ge=0)


class RayKind(AgentKind):
    name = "ray"
    spec = RayAgentSpec

    def build(self, spec: RayAgentSpec, origin: Origin) -> Agent:
        plain = PythonKind().build(spec, origin)  # the handler, checked as kind: python does
        resources = spec.resources.model_dump(exclude_none=True) if spec.resources else None
        return as_ray_agent(plain, resources=resources, inline_bytes=spec.inline_bytes)


def as_ray_agent(
    agent: Agent,
    *,
    address: str | None = None,
    resources: dict[str, Any] | None = None,
    inline_bytes: int = INLINE_BYTES,
) -> RayAgent:
    """``agent`` with its handler run in Ray actors (what ``--backend ray`` does to every
    agent that runs Python code)."""
    if isinstance(agent, RayAgent):
        if address is not None and agent.address is None:
            agent.address = address
        return agent
    if agent.batch is not None:
        raise ValidationError(
            f"agent {agent.name!r}: batch is not supported on Ray yet; run the batched agent "
            "on the local backend (leave out --backend ray and kind: ray for it).",
            field="batch",
        )
    ray_agent = RayAgent(
        agent.name,
        agent.capabilities,
        agent.capacity,
        target=agent._fn,
        resources=resources,
        address=address,
        inline_bytes=inline_bytes,
        estimated_time=agent.estimated_time,
        cost_estimate=agent.cost_estimate,
        breaker_failures=agent.breaker_failures,
        breaker_cooldown=agent.breaker_cooldown,
        heartbeat_timeout=agent.heartbeat_timeout,
        replicas=agent.replicas,
        metadata=agent.metadata,
    )
    ray_agent.rate_limit = agent.rate_limit  # the scheduler's rules stay with the agent
    ray_agent.offers = agent.offers
    return ray_agent
