"""The Python API: register agents, run workflows, ask how things stand.

>>> orch = podium.Orchestrator()
>>> @orch.agent(name="researcher", capabilities=["research"], capacity=4)
... async def research(ctx):
...     return {"found": ctx.input["query"]}
>>> result = orch.run_sync("flow.yaml")
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ._utils.code import allow_modules
from .agents.agent import Agent, AgentState
from .agents.control import LiveAgents
from .agents.pool import AgentPool
from .agents.supervisor import Supervisor
from .engine.gates import Gates
from .engine.run import Run
from .engine.scheduler import Strategy
from .engine.shared_gates import open_gates
from .errors import HandlerError, TaskFailed, ValidationError
from .result import RunResult, TaskResult, TaskStatus
from .spec.workflow import Task, Workflow

if TYPE_CHECKING:
    from .bus import Bus
    from .engine.recorder import Recorder
    from .stores.base import RunRecord, Store

__all__ = ["Orchestrator"]

# status() answers for finished runs from memory: the latest runs, up to _KEEP_RUNS of them and
# _KEEP_TASKS tasks in all (a run bigger than that is not kept), so a process that runs many
# or huge workflows holds a bounded amount; recorded runs can always be read from the store
_KEEP_RUNS = 100
_KEEP_TASKS = 10_000
BACKENDS = ("local", "ray")


class Orchestrator(LiveAgents):
    """Registers agents and runs workflows on them.

    ``strategy`` picks among capable agents: ``score`` (default), ``least_loaded``,
    ``round_robin``, or any object with ``select(candidates, task)``.

    ``store`` records every run durably so it can be resumed and inspected: a `Store`, or a
    URL for `podium.stores.open_store` (``"runs.db"``, ``"sqlite:///runs.db"``,
    ``"postgresql://user@host/db"``, ``"memory"``). Without one, nothing is recorded.

    ``gates="redis://host:6379/0"`` (or ``PODIUM_GATES``) shares concurrency keys and rate
    limits with every
    orchestrator, in any process, that names the same Redis (see docs/resources.md).

    ``backend="ray"`` runs every agent whose work is Python code (functions, classes, ``kind:
    python``) in Ray actors (see docs/ray.md), on the cluster at ``ray_address`` (``auto``,
    ``ray://host:10001``; default ``RAY_ADDRESS`` or a local Ray instance).

    What handlers print and log is kept with their tasks (``TaskResult.logs``, the store,
    ``podium logs``) unless ``capture_logs=False``; ``echo_logs=False`` stops it from also
    reaching this process's stdout and stderr. ``tracing`` turns OpenTelemetry spans on or
    off (or gives the ``TracerProvider`` to use); by default they are on when the ``OTEL_*``
    variables ask for them (see docs/logs.md).
    """

    def __init__(
        self,
        *,
        strategy: str | Strategy | None = None,
        max_threads: int | None = None,
        store: Store | str | os.PathLike[str] | None = None,
        bus: Bus | str | None = None,
        backend: str = "local",
        ray_address: str | None = None,
        allow_modules: Iterable[str] | None = None,
        capture_logs: bool = True,
        echo_logs: bool = True,
        tracing: Any = None,
        gates: Gates | str | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValidationError(
                f"backend {backend!r} is not one of {', '.join(BACKENDS)}.", field="backend"
            )
        self.backend = backend
        self.ray_address = ray_address
        # modules workflow files may name besides their own folder's (docs/safety.md)
        self.allow_modules: tuple[str, ...] = tuple(allow_modules or ())
        self.agents: dict[str, Agent] = {}
        # what handlers print and log is kept with their tasks (TaskResult.logs, the store,
        # `podium logs`); with echo_logs it also still reaches this process's stdout/stderr
        self.capture_logs = capture_logs
        self.echo_logs = echo_logs
        # OpenTelemetry spans per run and attempt: None decides from OTEL_* (engine.tracing)
        self.tracing = tracing
        self.strategy = strategy
        self._max_threads = max_threads or min(64, (os.cpu_count() or 1) * 8)
        self._pool: ThreadPoolExecutor | None = None
        self._active: dict[str, Run] = {}
        self._finished: OrderedDict[str, RunResult] = OrderedDict()
        self._kept_tasks = 0  # tasks of the runs in _finished
        self._totals = {"completed": 0, "failed": 0, "skipped": 0, "cancelled": 0, "total": 0}
        self.pools: dict[str, AgentPool] = {}
        self._supervisor = Supervisor(self)
        # concurrency keys and rate limits, shared by every run of this orchestrator; with a
        # Redis URL (or PODIUM_GATES) keys and rate limits are shared with other processes too
        self.gates = open_gates(gates if gates is not None else os.environ.get("PODIUM_GATES"))
        self.store: Store | None = None
        self._owns_store = False
        # the message bus handlers reach through ctx.bus: "memory" (default) or a Bus / URL
        self._bus: Bus | None = None if isinstance(bus, str) else bus
        self._bus_url = bus if isinstance(bus, str) else "memory"
        self._owns_bus = bus is None or isinstance(bus, str)
        if store is not None:
            from .stores.base import Store as _Store
            from .stores.open import open_store

            self._owns_store = not isinstance(store, _Store)
            self.store = open_store(store)
        self._recorders: dict[str, Recorder] = {}
        self._resuming: dict[str, RunRecord] = {}
        # called with each run as it starts; a callable returned hears every transition of
        # that run as the store's recorder does: (kind, record), on the engine's hot path
        self.listeners: list[Callable[[Run], Callable[[str, Any], None] | None]] = []

    # -- agents ----------------------------------------------------------------------------

    def agent(
        self,
        name: str | None = None,
        capabilities: Iterable[str] | None = None,
        capacity: int | None = None,
        **options: Any,
    ) -> Callable[[Any], Any]:
        """Decorator that registers a function (or a class) as an agent; returns it unchanged.

        >>> @orch.agent(name="writer", capabilities=["write"], capacity=2)
        ... async def write(ctx): ...
        """

        def register(obj: Any) -> Any:
            self.register(obj, name=name, capabilities=capabilities, capacity=capacity, **options)
            return obj

        return register

    def register(self, agent: Any, **options: Any) -> Agent:
        """Register an `Agent`, an Agent subclass, a class or an object with ``handle(ctx)``, or
        a callable."""
        options = {k: v for k, v in options.items() if v is not None}
        if isinstance(agent, Agent):
            if options:
                raise ValidationError(
                    f"agent {agent.name!r} is already built; set its options in its constructor.",
                    field="options",
                )
            built = agent
        elif isinstance(agent, type) and issubclass(agent, Agent):
            built = agent(**options)
        elif isinstance(agent, type) or (
            not callable(agent) and callable(getattr(agent, "handle", None))
        ):
            if not callable(getattr(agent, "handle", None)):
                raise HandlerError(
                    f"class {agent.__name__} has no handle(self, ctx) method to run tasks with.",
                    field="handler",
                )
            # a class is created with no arguments; an object with handle() is used as it is
            instance = agent() if isinstance(agent, type) else agent
            cls = type(instance)
            options.setdefault("name", getattr(instance, "name", None) or cls.__name__)
            for attr in ("capabilities", "capacity", "estimated_time", "cost_estimate"):
                if attr not in options and getattr(instance, attr, None) is not None:
                    options[attr] = getattr(instance, attr)
            built = Agent(handler=instance.handle, **options)
        elif callable(agent):
            built = Agent(handler=agent, **options)
        else:
            raise HandlerError(
                f"{agent!r} is not callable and has no handle(self, ctx) method, so it cannot "
                "be an agent. Register a function, a class or an object with handle(), or an "
                "Agent.",
                field="handler",
            )
        built = self._on_backend(built)
        if built.replicas is not None:
            return self._add_pool(built)
        self._attach(built)
        return built

    def _on_backend(self, agent: Agent) -> Agent:
        """The agent as the backend runs it: on ``ray``, Python code moves into Ray actors;
        agents that wait on something else (HTTP, a model, an MCP server) stay here."""
        if self.backend != "ray":
            return agent
        from .agents.kinds.ray import RayAgent, as_ray_agent

        if isinstance(agent, RayAgent) or type(agent) is Agent:
            return as_ray_agent(agent, address=self.ray_address)
        if type(agent).__module__.partition(".")[0] != "podium":  # a user's Agent subclass
            return as_ray_agent(agent, address=self.ray_address)
        return agent

    def _attach(self, agent: Agent) -> None:
        self.agents[agent.name] = agent
        for run in self._active.values():
            run.scheduler.add_agent(agent)
            run._dispatch()

    def _add_pool(self, template: Agent) -> Agent:
        lo, hi = template.replicas  # type: ignore[misc]
        pool = self.pools[template.name] = AgentPool(template, lo, hi)
        first = None
        for _ in range(max(lo, 1)):
            replica = pool.new_replica()
            self._attach(replica)
            first = first or replica
        return first  # type: ignore[return-value]

    # -- running ---------------------------------------------------------------------------

    def prepare(
        self,
        workflow: Workflow | str | os.PathLike[str],
        *,
        run_id: str | None = None,
        strategy: str | Strategy | None = None,
    ) -> Run:
        """Validate a workflow (or load it from a file) and build its run, without starting it.

        Raises `ValidationError` or `CapabilityError` when it cannot run.
        """
        if not isinstance(workflow, Workflow):
            from .spec.loader import load_workflow

            workflow = load_workflow(workflow, allow_modules=self.allow_modules)
        if self.backend != "local":
            workflow.agents[:] = [self._on_backend(a) for a in workflow.agents]
        for a in workflow.agents:
            if a.replicas is not None and a.name not in self.pools:
                self.register(a)  # pools live in the orchestrator, so they can scale
        agents = dict(self.agents)
        threaded = any(a.executor == "thread" for a in [*agents.values(), *workflow.agents])
        for a in workflow.agents:
            if a.replicas is None:
                agents[a.name] = a
        run = Run(
            workflow,
            list(agents.values()),
            run_id=run_id,
            strategy=strategy or self.strategy,
            pool=self._thread_pool() if threaded else None,
            gates=self.gates,
        )
        run.bus = self.bus
        return run

    @property
    def bus(self) -> Bus:
        """The message bus of this orchestrator's agents (``ctx.bus`` in handlers); an
        in-memory bus unless ``Orchestrator(bus=...)`` gave another."""
        if self._bus is None:
            from .bus import open_bus

            self._bus = open_bus(self._bus_url)
        return self._bus

    async def execute(self, run: Run) -> RunResult:
        """Set up the run's agents, run it to the end and return its result.

        With a store, the run is recorded first (see `record`) and its final state last.
        """
        run.capture_logs = self.capture_logs
        run.echo_logs = self.echo_logs
        try:
            await self._setup_agents(run.agents.values())
        except BaseException:
            recorder = self._recorders.pop(run.run_id, None)
            if recorder is not None:  # recorded but never started: it failed
                await recorder.close()
                await recorder.store.update_run(
                    run.run_id, status="failed", finished_at=time.time()
                )
            raise
        if self.store is not None and run.run_id not in self._recorders:
            await self.record(run)
        self._active[run.run_id] = run
        self._share_agents()
        now = time.monotonic()
        for a in run.agents.values():
            if a.heartbeat_timeout:  # the heartbeat clock starts with the run
                a.last_heartbeat = max(a.last_heartbeat, now)
        self._supervisor.start()
        if self.tracing is not False:
            from .engine import tracing

            provider = None if self.tracing in (None, True) else self.tracing
            if not tracing.enabled(self.tracing):
                self.tracing = False  # decided once: nothing to pay for on later runs
            else:
                _add_sink(run, tracing.listener(run, provider))
        for listen in self.listeners:
            sink = listen(run)
            if sink is not None:
                _add_sink(run, sink)
        try:
            with allow_modules(self.allow_modules):  # patterns resolve their functions again
                result = await run.execute()
        finally:
            del self._active[run.run_id]
            self._share_agents()
            self._remember(run)
            if not self._active:
                await self._supervisor.stop()
                await self.gates.settle()  # slots of shared keys given back reach Redis
            await self._teardown_own_agents(run)
            recorder = self._recorders.pop(run.run_id, None)
            if recorder is not None:
                from .engine.recorder import finish

                await finish(recorder, run)
        return result

    async def record(self, run: Run) -> None:
        """Record a prepared run in the store before it starts (`execute` does it when not
        done yet): its row, its cache hits, and the flusher that writes its transitions.

        Once this returns, ``podium resume <run.run_id>`` can pick the run up.
        """
        if run.run_id in self._recorders:
            return
        if self.store is None:
            raise ValidationError(
                "this orchestrator has no store: create it with "
                "Orchestrator(store='runs.db') to record runs.",
                field="store",
            )
        from .engine.recorder import begin

        def store_failed(exc: BaseException) -> None:
            run._stop(f"the run store failed: {exc}")

        resumed = self._resuming.pop(run.run_id, None)
        if resumed is not None and resumed.status == "completed":
            return  # nothing runs again: the store keeps the run as it ended
        recorder = await begin(self.store, run, resumed=resumed, on_error=store_failed)
        _add_sink(run, recorder.sink)
        self._recorders[run.run_id] = recorder

    async def prepare_resume(
        self,
        run_id: str,
        workflow: Workflow | str | os.PathLike[str] | None = None,
    ) -> Run:
        """Build the run that continues run ``run_id`` from the store, without starting it.

        Completed tasks keep their results and do not run again; every other task runs
        (again), its attempt count carried over. ``workflow`` defaults to the one stored with
        the run (a workflow file is read back from the store, its handlers imported from the
        file's folder); a workflow built in code needs its agents registered here.
        """
        if self.store is None:
            raise ValidationError(
                "resume needs a store: Orchestrator(store='runs.db') (the one the run was "
                "recorded in).",
                field="store",
            )
        from .engine.recorder import load_for_resume
        from .stores.definition import rebuild, task_ids

        saved, states = await load_for_resume(self.store, run_id)
        if workflow is None:
            workflow = rebuild(saved.definition, run_id=run_id)
        else:
            if not isinstance(workflow, Workflow):
                from .spec.loader import load_workflow

                workflow = load_workflow(workflow, allow_modules=self.allow_modules)
            _check_same_tasks(run_id, task_ids(saved.definition), workflow)
        run = self.prepare(workflow, run_id=run_id)
        presets = {tid: s.preset() for tid, s in states.items()}
        if any(
            p.get("status") == "completed" and type(p.get("result")) is dict
            for p in presets.values()
        ):
            from .agents.kinds.ray import drop_lost_references

            drop_lost_references(presets, workflow)
        run.restore(presets)
        if run.budget is not None:  # what earlier sessions spent still counts
            for s in states.values():
                if s.usage:
                    run.budget.cost += s.usage.get("cost") or 0.0
                    run.budget.tokens += s.usage.get("total_tokens") or 0
        self._resuming[run_id] = saved
        return run

    async def resume(
        self,
        run_id: str,
        workflow: Workflow | str | os.PathLike[str] | None = None,
    ) -> RunResult:
        """Continue a recorded run that was interrupted (or failed) until it ends.

        >>> orch = podium.Orchestrator(store="runs.db")
        >>> result = await orch.resume("3f2a9c1d04b7")
        """
        return await self.execute(await self.prepare_resume(run_id, workflow))

    async def run(
        self,
        workflow: Workflow | str | os.PathLike[str],
        *,
        run_id: str | None = None,
    ) -> RunResult:
        """Run a workflow (or a workflow file) to the end; returns a `RunResult`."""
        return await self.execute(self.prepare(workflow, run_id=run_id))

    def run_sync(
        self,
        workflow: Workflow | str | os.PathLike[str],
        *,
        run_id: str | None = None,
    ) -> RunResult:
        """`run` for code without an event loop. Each call runs on a new loop, so a bus this
        orchestrator opened itself is closed at the end (a Redis bus belongs to one loop) and
        opened again by the next call."""

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # no loop: the usual case
        else:
            raise ValidationError(
                "run_sync() cannot run inside a running event loop (async code, Jupyter): "
                "use 'await orch.run(workflow)' there.",
                field="run_sync",
            )

        async def once() -> RunResult:
            try:
                return await self.run(workflow, run_id=run_id)
            finally:
                if self._bus is not None and self._owns_bus:
                    bus, self._bus = self._bus, None
                    await bus.close()

        return asyncio.run(once())

    async def delegate(
        self,
        capability: str,
        input: Any = None,
        *,
        timeout: float | None = None,
        retry: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run one task on the best agent for ``capability`` and return its result.

        Raises `TaskFailed` when the task fails.
        """
        wf = Workflow(f"delegate:{capability}")
        wf.task("task", capability=capability, input=input, timeout=timeout, retry=retry)
        result = await self.run(wf)
        rec = result.tasks["task"]
        if rec.status is not TaskStatus.COMPLETED:
            raise TaskFailed(
                f"delegated {capability!r} task failed on agent {rec.agent!r}: {rec.error}",
                task="task",
            )
        return rec.result

    async def sequence(
        self, tasks: Iterable[Task | Mapping[str, Any]], *, strict: bool = True
    ) -> RunResult:
        """Run tasks one after another, in order.

        ``strict`` (the default) chains them: each gets the previous one's result in
        ``ctx.deps`` and the first failure stops the rest. ``strict=False`` runs every task in
        order, one at a time, whatever failed before it.
        """
        built = [_as_task(t, i) for i, t in enumerate(tasks)]
        if strict:
            wf = Workflow("sequence")
            wf.sequence(*built)
        else:
            wf = Workflow("sequence", on_failure="continue", max_concurrency=1)
            for t in built:
                wf.add(t)
        run = self.prepare(wf)
        if not strict:
            for rec in run.records.values():
                rec.rank = 0.0  # plain FIFO: insertion order
        return await self.execute(run)

    async def parallel(
        self, tasks: Iterable[Task | Mapping[str, Any]], *, max_concurrency: int | None = None
    ) -> RunResult:
        """Run independent tasks at once (up to ``max_concurrency``); failures do not stop
        the others."""
        wf = Workflow("parallel", on_failure="continue", max_concurrency=max_concurrency)
        for i, t in enumerate(tasks):
            wf.add(_as_task(t, i))
        return await self.run(wf)

    # -- reading ---------------------------------------------------------------------------

    def status(self, task_id: str, run_id: str | None = None) -> TaskResult | None:
        """A task's live status in a running run (or a recent one); None if unknown.

        Finished runs are kept for this in memory only while they are recent and small: the
        last 100 runs, 10,000 tasks in all. Read older or bigger runs from the store
        (``await orch.store.transitions(run_id)``, or ``podium status RUN --db FILE``).
        """
        if run_id is not None:
            run = self._active.get(run_id)
            if run is not None:
                return run.records.get(task_id)
            done = self._finished.get(run_id)
            return done.tasks.get(task_id) if done else None
        for run in reversed(list(self._active.values())):
            if task_id in run.records:
                return run.records[task_id]
        for done in reversed(self._finished.values()):
            if task_id in done.tasks:
                return done.tasks[task_id]
        return None

    def stats(self) -> dict[str, Any]:
        """Registered agents and task counts across every run of this orchestrator."""
        t = dict(self._totals)
        in_progress = 0
        for run in self._active.values():
            t["total"] += run.total
            t["completed"] += run.n_completed
            t["failed"] += run.n_failed
            t["skipped"] += run.n_skipped
            t["cancelled"] += run.n_cancelled
            in_progress += run.n_running
        finished = t["completed"] + t["failed"]
        return {
            "agents": len(self.agents),
            "total_tasks": t["total"],
            "completed_tasks": t["completed"],
            "failed_tasks": t["failed"],
            "skipped_tasks": t["skipped"],
            "cancelled_tasks": t["cancelled"],
            "in_progress_tasks": in_progress,
            "success_rate": round(t["completed"] / finished, 4) if finished else None,
            "active_runs": len(self._active),
            "agent_stats": {name: a.stats() for name, a in self.agents.items()},
        }

    # -- lifecycle -------------------------------------------------------------------------

    async def close(self) -> None:
        """Tear the agents down and stop the thread pool."""
        for a in self.agents.values():
            if a.state not in (AgentState.CREATED, AgentState.TERMINATED):
                try:
                    await a.teardown()
                finally:
                    a.state = AgentState.TERMINATED
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        await self.gates.close()
        if self.store is not None and self._owns_store:
            await self.store.close()
        if self._bus is not None and self._owns_bus:
            await self._bus.close()
            self._bus = None

    async def __aenter__(self) -> Orchestrator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- internals -------------------------------------------------------------------------

    def _thread_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._max_threads, thread_name_prefix="podium")
        return self._pool

    async def _setup_agents(self, agents: Iterable[Agent]) -> None:
        for a in agents:
            if a.state is not AgentState.CREATED:
                continue
            a.state = AgentState.INITIALIZING
            try:
                await a.setup()
            except Exception as exc:
                a.state = AgentState.ERROR
                raise HandlerError(
                    f"agent {a.name!r} failed to set up: {type(exc).__name__}: {exc}",
                    field="setup",
                ) from exc
            a.state = AgentState.PAUSED if a.hold else AgentState.IDLE

    async def _teardown_own_agents(self, run: Run) -> None:
        """Tear down the agents a workflow file declared: they live for one run (an MCP
        server's process, a client), and are set up again if the workflow runs again. Agents
        registered here, pools and agents another live run still uses stay up; so do agents
        with nothing to tear down (their state and statistics stay readable after the run)."""
        shared = {id(a) for r in self._active.values() for a in r.agents.values()}
        for a in run.workflow.agents:
            if (
                type(a).teardown is Agent.teardown
                or a.replicas is not None
                or self.agents.get(a.name) is a
                or id(a) in shared
                or a.state in (AgentState.CREATED, AgentState.TERMINATED)
            ):
                continue
            try:
                await a.teardown()
            except Exception as exc:  # the run is over: say so, do not fail it
                error = f"{type(exc).__name__}: {exc}"
                run.event("agent_teardown_failed", agent=a.name, error=error)
            finally:
                a.state = AgentState.CREATED

    def _share_agents(self) -> None:
        # Runs that share agents must hear when one of them frees capacity.
        runs = list(self._active.values())
        poke = self._poke_all if len(runs) > 1 else None
        for run in runs:
            run._on_release = poke

    def _poke_all(self) -> None:
        for run in list(self._active.values()):
            if run._sched._ready:  # only runs with tasks waiting can use the freed capacity
                run._dispatch()

    def _remember(self, run: Run) -> None:
        t = self._totals
        t["total"] += run.total
        t["completed"] += run.n_completed
        t["failed"] += run.n_failed
        t["skipped"] += run.n_skipped
        t["cancelled"] += run.n_cancelled
        result = run.result()
        if len(result.tasks) > _KEEP_TASKS:
            return
        self._finished[run.run_id] = result
        self._kept_tasks += len(result.tasks)
        while len(self._finished) > _KEEP_RUNS or self._kept_tasks > _KEEP_TASKS:
            _, old = self._finished.popitem(last=False)
            self._kept_tasks -= len(old.tasks)


def _add_sink(run: Run, sink: Callable[[str, Any], None]) -> None:
    if run._sink is None:
        run._sink = sink
        return
    first = run._sink  # someone else listens too

    def both(kind: str, rec: Any) -> None:
        first(kind, rec)
        sink(kind, rec)

    run._sink = both


def _check_same_tasks(run_id: str, recorded: list[str] | None, wf: Workflow) -> None:
    """A run resumes with the workflow it started with: results of tasks that changed or
    went away would be mixed into a run they do not belong to."""
    if recorded is None or set(recorded) == wf.tasks.keys():
        return
    added = sorted(wf.tasks.keys() - set(recorded))
    removed = sorted(set(recorded) - wf.tasks.keys())
    parts = [f"adds {added}" if added else "", f"drops {removed}" if removed else ""]
    raise ValidationError(
        f"run {run_id!r} was recorded with other tasks: this workflow "
        f"{' and '.join(p for p in parts if p)}. Resume it with the workflow it started "
        "with, or start a new run.",
        file=wf.source,
        field="tasks",
    )


def _as_task(t: Task | Mapping[str, Any], i: int) -> Task:
    if isinstance(t, Task):
        return t
    fields = dict(t)
    tid = fields.pop("id", None) or f"t{i + 1}"
    return Task(tid, **fields)
