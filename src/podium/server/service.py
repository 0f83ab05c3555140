"""The service behind the API: one orchestrator and its store, the runs this server owns, its
agents, workers, events and metrics. Routes call it; it calls the orchestrator.

The engine owns run state. A submitted run is prepared and recorded through the orchestrator
(so it is durable before the request returns) and executed as a task of the server's loop; a
run is read live while it runs here, and from the store otherwise (another server's runs too).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from .._utils.code import only_modules
from .._utils.netguard import NetGuard, guarding
from ..errors import PodiumError, StoreError, ValidationError
from ..orchestrator import Orchestrator
from ..stores import open_store
from ..stores.base import owner_id
from .auth import Authenticator
from .events import EventHub
from .metrics import Metrics
from .throughput import Throughput
from .workers import WorkerAgent, check_worker_fields

if TYPE_CHECKING:
    from ..agents.agent import Agent
    from ..engine.run import Run
    from .config import ServerConfig

__all__ = ["Conflict", "NotFound", "Service"]

log = logging.getLogger("podium.server")
_KEEP_IDEMPOTENT = 10_000  # idempotency keys remembered in memory (the store keeps them all)


class NotFound(PodiumError):
    """404: no such run, task or agent."""


class Conflict(PodiumError):
    """409: the request clashes with the state of a run or agent."""


class Service:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store = open_store(config.db)
        self.store.lease_ttl = config.lease_ttl
        self.orch = Orchestrator(
            store=self.store,
            backend=config.backend,
            ray_address=config.ray_address,
            gates=config.gates,
        )
        self.hub = EventHub(config.events_kept)
        self.metrics = Metrics(self)
        self.hub.observers.append(self.metrics.observe)
        self.throughput = Throughput()
        self.hub.observers.append(self.throughput.observe)
        self.orch.listeners.append(self.hub.listen)
        self.auth = Authenticator(self.store, config)
        self.guard = NetGuard(config.allow_hosts)
        self.owner = owner_id()
        self.ready = False
        self.jobs: dict[str, asyncio.Task[Any]] = {}  # run id -> its execution, on this server
        self._idem: OrderedDict[str, asyncio.Future[str]] = OrderedDict()
        self._stored_agents: set[str] = set()  # agents registered through the API
        self._inboxes: dict[str, Any] = {}
        self._upkeep: asyncio.Task[None] | None = None
        self.file_agents: list[str] = []
        if config.agents:  # here, not at start: a bad file stops `podium serve` with its error
            self._load_agents_file(config.agents)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.open()
        await self._sync_agents()
        self.hub.start()
        from .ownership import Ownership

        self.ownership = Ownership(self)
        if self.config.resume:
            await self.ownership.take_over(at_start=True)
        self._upkeep = asyncio.get_running_loop().create_task(self.ownership.loop())
        self.ready = True

    async def stop(self) -> None:
        """Hand the runs in progress over: their transitions so far are written, their leases
        end now, and the next server to look (or this one, restarted) resumes them."""
        self.ready = False
        if self._upkeep is not None:
            self._upkeep.cancel()
            await asyncio.gather(self._upkeep, return_exceptions=True)
        for run_id in list(self.jobs):
            await self.release(run_id)
        try:
            await self.store.renew_leases(self.owner, 0.0)
        except PodiumError as exc:
            log.warning("could not end the leases of this server's runs: %s", exc)
        await self.hub.stop()
        for box in self._inboxes.values():
            await box.close()
        await self.orch.close()

    async def release(self, run_id: str) -> None:
        """Stop running ``run_id`` here without ending it in the store (handover)."""
        job = self.jobs.pop(run_id, None)
        recorder = self.orch._recorders.pop(run_id, None)
        if recorder is not None:
            try:
                await recorder.close()
            except PodiumError as exc:
                log.warning("run %s: %s", run_id, exc)
        if job is not None:
            job.cancel()
            await asyncio.gather(job, return_exceptions=True)

    def _load_agents_file(self, path: str) -> None:
        from pathlib import Path

        from ..agents.kinds import Origin
        from ..spec.loader import build_agent, read_file

        data = read_file(path)
        raw = data.get("agents")
        if not isinstance(raw, list):
            raise ValidationError(
                f"{path}: an agents file is a mapping with an 'agents:' list, as in a workflow "
                "file.",
                file=path,
                field="agents",
            )
        origin = Origin(path, Path(path).resolve().parent)
        with guarding(self.guard):
            for i, spec in enumerate(raw):
                if not isinstance(spec, dict):
                    raise ValidationError(f"{path}: agent #{i + 1} is not a mapping.", file=path)
                agent = build_agent(spec, origin, index=i, data=data)
                self.orch.register(agent)
                self.file_agents.append(agent.name)

    async def _sync_agents(self) -> None:
        """Agents registered through the API (of any server sharing the store) run here too."""
        stored = await self.store.list_agents()
        for name, spec in stored.items():
            if name in self._stored_agents and name in self.orch.agents:
                continue
            try:
                agent = self._build_agent(spec)
            except PodiumError as exc:
                log.warning("stored agent %r cannot be built: %s", name, exc)
                continue
            await self.orch.add_agent(agent)
            self._stored_agents.add(name)
        for name in list(self._stored_agents - stored.keys()):
            self._stored_agents.discard(name)
            if name in self.orch.agents:
                await self.orch.terminate_agent(name)

    # -- runs ------------------------------------------------------------------------------------

    def parse(self, data: Any, source: str | None = None) -> Any:
        """A submitted workflow mapping as a `Workflow`: validated, no code imported unless the
        server allows its module, agent URLs checked."""
        from ..spec.loader import parse_workflow

        if not isinstance(data, dict):
            raise ValidationError(
                "a workflow is a JSON object with 'name' and 'tasks'.", field="body"
            )
        with only_modules(self.config.allow_modules), guarding(self.guard):
            wf = parse_workflow(data, source=source)
        wf.submitted = data  # type: ignore[attr-defined]  # kept so another server can resume it
        return wf

    async def submit(
        self, data: Any, *, idempotency: str | None = None, source: str | None = None
    ) -> tuple[str, bool]:
        """Start a run of a submitted workflow; ``(run_id, created)``. With an idempotency key
        seen before (by any server of the store), the first run's id and False."""
        wf = self.parse(data, source)
        if idempotency is None:
            run = self.orch.prepare(wf)
            await self._start(run)
            return run.run_id, True
        fut = self._idem.get(idempotency)
        if fut is not None:
            return await asyncio.shield(fut), False
        fut = self._idem[idempotency] = asyncio.get_running_loop().create_future()
        while len(self._idem) > _KEEP_IDEMPOTENT:
            self._idem.popitem(last=False)
        try:
            run = self.orch.prepare(wf)
            first = await self.store.claim_idempotency(idempotency, run.run_id, time.time())
            if first == run.run_id:
                await self._start(run)
        except BaseException as exc:
            self._idem.pop(idempotency, None)
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # retrieved: waiters get it, nobody else must
            raise
        fut.set_result(first)
        return first, first == run.run_id

    async def _start(self, run: Run) -> None:
        await self.orch.record(run)  # durable before the caller hears of it
        self.metrics.runs_started += 1
        self.jobs[run.run_id] = asyncio.get_running_loop().create_task(self._execute(run))

    async def _execute(self, run: Run) -> None:
        try:
            await self.orch.execute(run)
        except asyncio.CancelledError:
            raise
        except PodiumError as exc:
            log.warning("run %s: %s", run.run_id, exc)
        except Exception:  # a bug: logged with its traceback, never sent to a client
            log.exception("run %s crashed", run.run_id)
        finally:
            self.jobs.pop(run.run_id, None)

    def live(self, run_id: str) -> Run | None:
        for run in self.orch.active_runs():
            if run.run_id == run_id:
                return run
        return None

    async def document(self, run_id: str, *, tasks: bool = True) -> dict[str, Any]:
        """A run as the JSON document of ``podium run --json``; live here, or from the store."""
        run = self.live(run_id)
        if run is not None:
            doc = run.result().to_dict() if tasks else _light(run)
            doc["status"] = "running"
            doc["counts"] = run.counts()
            doc["total"] = run.total
            doc["owner"] = self.owner
            return doc
        saved = await self._saved(run_id)
        if not tasks and saved.stats and saved.counts is not None:
            # a finished run recorded its counts and stats: its header needs no transition
            from ..result import iso

            return {
                "run_id": saved.run_id,
                "workflow": saved.workflow,
                "status": saved.status,
                "started_at": iso(saved.started_at),
                "finished_at": iso(saved.finished_at),
                "stats": dict(saved.stats),
                "counts": {"ready": 0, **saved.counts},
                "total": saved.total,
                "owner": saved.owner,
            }
        from ..report.documents import run_document
        from ..stores.base import count_states

        states = await self.store.task_states(run_id)
        doc = run_document(saved, states)
        counts = count_states(states, max(saved.total, len(states)))
        if not tasks:
            doc.pop("tasks")
        doc["counts"] = {"ready": 0, **counts}
        doc["total"] = saved.total
        doc["owner"] = saved.owner
        return doc

    async def _saved(self, run_id: str) -> Any:
        try:
            return await self.store.get_run(run_id)
        except StoreError as exc:
            if exc.field == "run_id":
                raise NotFound(f"no run with id {run_id!r}.", field="run_id") from None
            raise

    async def cancel(self, run_id: str) -> str:
        """Cancel a run: here if it runs here, else ask its owner through the store."""
        job = self.jobs.get(run_id)
        if job is not None:
            job.cancel()
            await asyncio.gather(job, return_exceptions=True)
            return "cancelled"
        saved = await self._saved(run_id)
        if saved.status != "running":
            raise Conflict(
                f"run {run_id!r} is {saved.status} already: there is nothing to cancel.",
                field="run_id",
            )
        await self.store.request_cancel(run_id)
        return "cancelling"

    async def resume(self, run_id: str) -> str:
        """Resume a run that is not running anywhere (failed, cancelled, or its owner died)."""
        if run_id in self.jobs:
            raise Conflict(f"run {run_id!r} is running on this server.", field="run_id")
        saved = await self._saved(run_id)
        if saved.status == "completed":
            raise Conflict(f"run {run_id!r} completed: nothing to resume.", field="run_id")
        if saved.status == "running":
            now = time.time()
            if not await self.store.claim_run(
                run_id, self.owner, now + self.config.lease_ttl, now=now, from_owner=saved.owner
            ):
                raise Conflict(
                    f"run {run_id!r} is running on {saved.owner}; it is resumed elsewhere only "
                    "once that server stops renewing its lease.",
                    field="run_id",
                )
        await self.resume_here(run_id)
        return "running"

    async def resume_here(self, run_id: str) -> None:
        with only_modules(self.config.allow_modules), guarding(self.guard):
            run = await self.orch.prepare_resume(run_id)
        if self.orch._resuming.get(run_id) is not None and (
            self.orch._resuming[run_id].status == "completed"
        ):
            self.orch._resuming.pop(run_id, None)
            return
        await self.orch.record(run)
        self.jobs[run_id] = asyncio.get_running_loop().create_task(self._execute(run))
        self.hub.publish("run_resumed", run_id, server=self.owner)

    # -- agents ----------------------------------------------------------------------------------

    def _build_agent(self, spec: dict[str, Any]) -> Agent:
        from ..agents.kinds import Origin
        from ..spec.loader import build_agent

        kind = spec.get("kind", "python")
        if kind == "worker":
            raise ValidationError("workers register themselves.", field="kind")
        with only_modules(self.config.allow_modules), guarding(self.guard):
            return build_agent(dict(spec), Origin())

    async def register(self, spec: dict[str, Any], *, as_worker: bool) -> Agent:
        """Register an agent sent over the API: a push agent (``url``, kind http) kept in the
        store, a worker (kind worker, not kept: it registers again when it restarts), or a
        Python agent of an allowed module."""
        name = spec.get("name")
        kind = spec.get("kind") or ("http" if "url" in spec else "python")
        if as_worker and kind != "worker":
            raise PermissionError("a worker key registers workers only (kind: worker).")
        if not isinstance(name, str) or not name:
            raise ValidationError("an agent needs a 'name'.", field="name")
        existing = self.orch.live_agents().get(name)
        if kind == "worker":
            caps = spec.get("capabilities") or []
            capacity = spec.get("capacity", 10)
            check_worker_fields(caps, capacity)
            ttl = float(spec.get("lease_ttl") or self.config.worker_ttl)
            if existing is not None:
                if not isinstance(existing, WorkerAgent):
                    raise Conflict(f"an agent named {name!r} exists already.", field="name")
                await self.orch.terminate_agent(name)  # a worker that restarted
            agent: Agent = WorkerAgent(
                name, caps, capacity, ttl=ttl, metadata=spec.get("metadata") or {}
            )
            await self.orch.add_agent(agent)
        else:
            if existing is not None:
                raise Conflict(
                    f"an agent named {name!r} exists already. Delete it first, or PATCH it.",
                    field="name",
                )
            spec = {**spec, "kind": kind}
            agent = await asyncio.to_thread(self._build_agent, spec)  # DNS: off the loop
            await self.orch.add_agent(agent)
            await self.store.save_agent(name, spec, time.time())
            self._stored_agents.add(name)
        self.hub.publish("agent_registered", agent=name, kind=kind)
        return agent

    def agent(self, name: str) -> Agent:
        agent = self.orch.live_agents().get(name)
        if agent is None:
            names = ", ".join(sorted(self.orch.live_agents())) or "none"
            raise NotFound(f"no agent named {name!r} (agents: {names}).", field="name")
        return agent

    async def delete_agent(self, name: str) -> None:
        self.agent(name)
        await self.orch.terminate_agent(name)
        if name in self._stored_agents:
            self._stored_agents.discard(name)
            await self.store.delete_agent(name)
        self.hub.publish("agent_deleted", agent=name)

    async def scale(
        self, name: str, *, min_size: int | None, max_size: int | None, capacity: int | None
    ) -> dict[str, Any]:
        pool = self.orch.pools.get(name)
        if capacity is not None:
            targets = pool.replicas if pool is not None else [self.agent(name)]
            for a in targets:
                a.capacity = capacity
            if pool is not None:
                pool.template.capacity = capacity
        if min_size is not None or max_size is not None:
            if pool is None:
                raise ValidationError(
                    f"agent {name!r} is not a pool (an agent with replicas): give --capacity "
                    "to scale one agent.",
                    field="min",
                )
            lo = pool.min_size if min_size is None else min_size
            hi = pool.max_size if max_size is None else max_size
            if not 0 <= lo <= hi or hi < 1:
                raise ValidationError(
                    f"pool {name!r}: need 0 <= min <= max and max >= 1, not min={lo} max={hi}.",
                    field="min",
                )
            pool.min_size, pool.max_size = lo, hi
            live = pool.live()
            for _ in range(max(lo, 1) - len(live)):
                await self.orch.add_agent(pool.new_replica())
            for replica in reversed(live[hi:]):
                await self.orch.terminate_agent(replica.name)
            for run in self.orch.active_runs():
                run.event("scaled", pool=name, min=lo, max=hi, replicas=len(pool.live()))
        for run in self.orch.active_runs():
            run._dispatch()
        return self.describe_agent(name if pool is None else pool.live()[0].name)

    def describe_agent(self, name: str) -> dict[str, Any]:
        a = self.agent(name)
        doc = a.stats()
        doc["kind"] = "python"
        extra = getattr(a, "describe", None)
        if callable(extra):
            doc.update(extra())
        doc["pool"] = a.pool
        doc["metadata"] = a.metadata
        doc["breaker_open"] = bool(a.breaker_until)
        doc["heartbeat_age"] = round(max(0.0, time.monotonic() - a.last_heartbeat), 3)
        pool = self.orch.pools.get(a.pool) if a.pool else None
        if pool is not None:
            doc["replicas"] = {"min": pool.min_size, "max": pool.max_size, "live": len(pool.live())}
        return doc

    async def inbox(self, name: str) -> Any:
        box = self._inboxes.get(name)
        if box is None:
            box = self._inboxes[name] = await self.orch.bus.inbox(name)
        return box

    # -- workers -------------------------------------------------------------------------------

    def worker(self, name: str) -> WorkerAgent:
        agent = self.agent(name)
        if not isinstance(agent, WorkerAgent):
            raise Conflict(f"agent {name!r} is not a pull worker.", field="name")
        return agent


def _light(run: Run) -> dict[str, Any]:
    from ..result import iso

    return {
        "run_id": run.run_id,
        "workflow": run.workflow.name,
        "status": str(run.status),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
    }
