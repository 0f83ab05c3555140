"""One run of a workflow: the task state machine, retries, timeouts and cancellation.

The run is owned by one asyncio loop and nothing else mutates it; there are no locks.

How handlers run (the hot path). Assignments from the scheduler go into one queue that
*workers* (asyncio Tasks) drain, like a hand-written pool of worker Tasks. A worker calls the
handler and drives its coroutine's first step by hand. Most handlers of a fan-out finish in
that step (they never await anything that blocks): then the task completes right there with
no asyncio Task, no loop round trip and no callback of its own, which is why the engine can
beat ``asyncio.gather`` on such work. When a handler does suspend, the worker awaits the rest
of it directly (``yield from``: no Python code between the Task and the handler's steps), so
the worker is the handler's Task for the rest of its life (``asyncio.timeout``, cancel scopes
and ``current_task()`` behave as usual), and if work is still queued a fresh worker takes
over the queue. Once an agent's handler has suspended, the run awaits that agent's handlers
from their first step (no step by hand, no wrapper). When a handler finishes and the next
ready task can only go to its agent, the worker takes that task on the same capacity unit
(`Scheduler.handoff`).

Handlers run in their worker's context; a worker whose handler left a context variable set
retires (a fresh copy of the run's context takes over), so each handler starts from the
context the run started with, like a Task of its own.

Cancelling a running handler (timeout, fail_fast, run cancelled) cancels its worker with a
reason set on the task record; the worker turns the CancelledError into the task's outcome and
calls ``uncancel()``, so only real cancellations of the run propagate.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from contextvars import copy_context
from types import CoroutineType
from typing import Any

from .._utils.json_values import _ATOMS, json_problem
from .._utils.text import describe_exception as _describe
from .._utils.text import did_you_mean
from ..agents.agent import Agent, AgentState
from ..errors import CapabilityError, ResultError
from ..patterns import coordinator_agent
from ..result import RunResult, RunStatus, TaskResult
from ..spec.workflow import Task, Workflow
from .batch import batch
from .budget import Budget, BudgetScheduler
from .calls import Raised as _Raised
from .calls import cancelled_itself as _cancelled_itself
from .calls import in_thread as _in_thread
from .calls import rest_of as _rest
from .calls import type_name as _type_name
from .context import Context
from .gates import GatedScheduler, Gates, needs_gates
from .live import LiveRun
from .logs import CURRENT, capturing, flush_partial
from .prepare import build_records, order_records, rank_records
from .readout import RunReadout
from .scheduler import Scheduler, Strategy
from .status import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    READY,
    RETRYING,
    RUNNING,
    SKIPPED,
)
from .tracebacks import format_traceback

_DEBUG = bool(os.environ.get("PODIUM_DEBUG"))
_FAIRNESS = 256  # handlers a worker runs back to back before it lets the loop breathe
_GC_PAUSE_FROM = 1000  # tasks: smaller runs build their records before a collection is due
_GRACE = 1.0  # seconds a cancelled handler may take to stop before its task ends without it


TERMINATED = AgentState.TERMINATED

Sink = Callable[[str, TaskResult], None]


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


class Run(RunReadout, LiveRun):
    """Executes one workflow on a set of agents. Use `Orchestrator.run`; this is the engine."""

    gates: Gates | None = None  # concurrency keys and rate limits, shared by an orchestrator
    capture_logs = False  # send what handlers print and log to their tasks (engine.logs)
    echo_logs = True  # and still write what they print to the real stdout/stderr
    on_log: Callable[[str, tuple[Any, ...]], None] | None = None  # each kept line, as written

    def __init__(
        self,
        workflow: Workflow,
        agents: list[Agent],
        *,
        run_id: str | None = None,
        strategy: str | Strategy | None = None,
        pool: Any = None,
        sink: Sink | None = None,
        on_release: Callable[[], None] | None = None,
        preset: dict[str, dict[str, Any]] | None = None,
        budget: dict[str, Any] | None = None,
        gates: Gates | None = None,
    ) -> None:
        self.workflow = workflow
        self.run_id = run_id or new_run_id()
        self.on_failure = workflow.on_failure
        self.pool = pool
        self._sink = sink
        self._on_release = on_release
        options: dict[str, Any] = {
            "strategy": strategy or workflow.strategy,
            "max_concurrency": workflow.max_concurrency,
            "coordinator": coordinator_agent,
        }
        limits = budget if budget is not None else workflow.budget
        if limits:  # max_cost / max_tokens: a scheduler that gates metered tasks on it
            self.budget = Budget(**limits)
            options.update(budget=self.budget, on_refused=self._refuse)
        if needs_gates(workflow, agents):  # concurrency keys, rate limits (engine.gates)
            self.gates = gates if gates is not None else Gates()
            self._wake_at: float | None = None
            sched = self._sched = GatedScheduler(
                agents,
                gates=self.gates,
                workflow=workflow,
                wake=self._wake,
                wake_in=self._wake_in,
                **options,
            )
        elif limits:
            sched = self._sched = BudgetScheduler(agents, **options)
        else:
            sched = self._sched = Scheduler(agents, **options)
        # Building a record per task allocates a few objects per task that all live on:
        # the cyclic GC would scan the growing heap again and again for nothing (about half
        # of this step's time on 100,000 tasks), so it waits until the records are built.
        collecting = gc.isenabled()
        if collecting and len(workflow.tasks) > _GC_PAUSE_FROM:
            gc.disable()
        try:
            records = self.records = build_records(workflow, sched)
            self._check_routes()
            if self.gates is not None:
                self._check_resources()
            order = order_records(records, workflow)
            rank_records(order, sched)
        finally:
            if collecting:
                gc.enable()
        self.n_completed = 0
        self._preset = preset or {}
        self._watch: dict[TaskResult, asyncio.Future[TaskResult]] = {}  # delegated tasks
        # ids of delegated tasks: their failures go to the parent waiting for them (which may
        # handle them), not straight to on_failure, and do not decide the run's status
        self._subtasks: set[str] = set()
        if preset:
            self._apply_preset(preset)
        self._roots = [r for r in order if not r.waiting and r.status is PENDING]

        self.status = RunStatus.RUNNING
        self.started_at = time.time()
        self.finished_at: float | None = None
        self.total = len(records)
        self.n_running = 0
        self.n_failed = 0
        self.n_skipped = 0
        self.n_cancelled = 0
        self.n_retrying = 0
        self.n_attempts = 0
        self._remaining = len(records) - self.n_completed
        self._queue: deque[tuple[TaskResult, Agent]] = deque()
        self._active = 0  # workers draining the queue (not suspended in a handler)
        self._workers: set[asyncio.Task[None]] = set()
        self._inflight: dict[TaskResult, None] = {}  # suspended handlers, insertion-ordered
        self.events: list[dict[str, Any]] = []
        self._stopping = False
        self._cancelled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Future[None] | None = None
        self._ctx = copy_context()  # the context workers start from (set again by execute)
        self._main: asyncio.Task[Any] | None = None  # the task awaiting execute()
        self._abandoned: set[asyncio.Task[None]] = set()  # workers left to stuck handlers
        self._free: dict[TaskResult, int] = {}  # attempts cut by reassignment, not retries
        self._suspends: set[Agent] = set()  # agents seen suspending: no first step by hand
        self._batches: dict[Agent, list[Any]] = {}  # open batches of batched agents (batch)

    def _apply_preset(self, preset: dict[str, dict[str, Any]]) -> None:
        """Restore tasks from an earlier run (resume) or the result cache.

        A ``completed`` entry is final: the task keeps its result and never runs. Any other
        entry only carries its attempt count over, and the task runs again.
        """
        for tid, saved in preset.items():
            rec = self.records.get(tid)
            if rec is None:
                continue
            rec.attempts = saved.get("attempts") or 0
            if saved.get("status") != COMPLETED:
                continue
            rec.status = COMPLETED
            rec.result = saved.get("result")
            rec.agent = saved.get("agent")
            rec.started_at = saved.get("started_at")
            rec.finished_at = saved.get("finished_at")
            self.n_completed += 1
            for d in rec.dependents:
                d.waiting -= 1

    def restore(self, preset: dict[str, dict[str, Any]]) -> None:
        """Apply ``preset`` (as ``Run(preset=...)``) to a run that has not started: the store
        finds resumed states and cache hits only once the run is built."""
        if self._loop is not None:
            raise RuntimeError("Run.restore() must come before the run starts")
        self._preset = {**self._preset, **preset}
        self._apply_preset(preset)
        self._roots = [r for r in self.records.values() if not r.waiting and r.status is PENDING]
        self._remaining = self.total - self.n_completed

    def _check_routes(self) -> None:
        sched = self._sched
        empty = {r for r in sched.routes.values() if not r.agents}
        for key in [k for k in sched.routes if k.startswith("pattern:")]:
            # a pattern task's participants are the agents of its capability (or its agent)
            for rec in self.records.values():
                t = rec.task
                if t.pattern is not None and rec.route.key == key:
                    probe = Task(t.id, capability=t.capability, agent=t.agent)
                    if not sched.route_for(probe).agents:
                        empty.add(sched.routes[probe.route])
        if not empty:
            return
        t = next(
            rec.task
            for rec in self.records.values()
            if rec.route in empty
            or (rec.task.pattern is not None and sched.routes.get(rec.task.route) in empty)
        )
        src = self.workflow.source
        prefix = f"{src}: " if src else ""
        known = sorted({c for a in self._sched.agents.values() for c in a.capabilities})
        if t.agent is not None:
            names = ", ".join(sorted(self._sched.agents)) or "none"
            raise CapabilityError(
                f"{prefix}task {t.id!r}: agent {t.agent!r} is not registered "
                f"(agents: {names}).{did_you_mean(t.agent, self._sched.agents)} "
                "Register it or fix the name.",
                file=src,
                task=t.id,
                field="agent",
            )
        raise CapabilityError(
            f"{prefix}task {t.id!r}: no agent has capability {t.capability!r} "
            f"(capabilities: {', '.join(known) or 'none'}).{did_you_mean(t.capability, known)} "
            "Add an agent for it or fix the name.",
            file=src,
            task=t.id,
            field="capability",
        )

    def _check_resources(self) -> None:
        rec = self._sched.check_fits(self.records.values())  # type: ignore[attr-defined]
        if rec is None:
            return
        src = self.workflow.source
        req = self._sched._request(rec.task)  # type: ignore[attr-defined]
        offers = {a.name: a.offers for a in rec.route.agents}
        raise CapabilityError(
            f"{src + ': ' if src else ''}task {rec.id!r}: no agent for it offers the resources "
            f"it asks for ({', '.join(f'{k} {v:g}' for k, v in req.items())}); its agents "
            f"offer {offers}. Give an agent `resources:` totals that hold it, or ask for less.",
            file=src,
            task=rec.id,
            field="resources",
        )

    # -- running -------------------------------------------------------------------------

    async def execute(self) -> RunResult:
        """Run every task to a final state and return the result.

        If the awaiting task is cancelled, running handlers are cancelled, the rest is skipped,
        and CancelledError propagates once every worker has stopped.
        """
        loop = self._loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        self._ctx = copy_context()
        self._main = asyncio.current_task()
        self.started_at = time.time()
        push = self._sched.push
        for rec in self._roots:
            rec.status = READY
            push(rec)
        self._roots = []
        capture = self.capture_logs
        if capture:
            capturing(True)
        try:
            self._dispatch()
            try:
                if self._remaining:
                    await self._done
            except asyncio.CancelledError:
                self._cancelled = True
                self._stop("the run was cancelled")
                await self._join_workers()
                self._close()
                raise
            await self._join_workers()
        finally:
            if capture:
                flush_partial(self)
                capturing(False)
        self._close()
        return self.result()

    async def _join_workers(self) -> None:
        """Wait for every worker, except those left to handlers that ignored cancellation."""
        live = [w for w in self._workers if w not in self._abandoned]
        if live:
            await asyncio.wait(live)

    def _close(self) -> None:
        self.finished_at = time.time()
        if self._cancelled:
            self.status = RunStatus.CANCELLED
        elif self.n_completed == self.total or self._own_completed():
            self.status = RunStatus.COMPLETED
        elif self.stopped_by is not None:
            self.status = RunStatus.BUDGET_EXCEEDED
        elif self.on_failure == "continue" and self.n_completed:
            self.status = RunStatus.PARTIAL
        else:
            self.status = RunStatus.FAILED
        if self._sink is not None:
            self._sink("run", None)  # type: ignore[arg-type]

    def _own_completed(self) -> bool:
        """Every task of the workflow completed; delegated ones that did not were abandoned
        or handled by their parent."""
        subs = self._subtasks
        if not subs:
            return False
        return all(r.status is COMPLETED for r in self.records.values() if r.id not in subs)

    def _dispatch(self) -> None:
        if self._stopping:
            return
        self._sched.assign(self._queue)
        if self._queue and not self._active:
            self._spawn()

    def _wake(self) -> None:
        """A task another run held a concurrency key for can start: assign again soon."""
        if self._loop is not None:
            self._loop.call_soon(self._dispatch)

    def _wake_in(self, delay: float) -> None:
        """A rate limit frees in ``delay`` seconds: assign again then (one timer at a time)."""
        loop = self._loop
        if loop is None:
            return
        at = loop.time() + max(delay, 0.001)
        if self._wake_at is not None and self._wake_at <= at and self._wake_at > loop.time():
            return
        self._wake_at = at
        loop.call_at(at, self._woken)

    def _woken(self) -> None:
        self._wake_at = None
        self._dispatch()

    def _spawn(self) -> None:
        self._active += 1
        # every worker starts from the run's own context, whoever needed it (see _drain)
        context = self._ctx.copy()
        if self.capture_logs:  # the slot naming the handler this worker runs (engine.logs)
            context.run(CURRENT.set, [None])
        worker = self._loop.create_task(self._drain(), context=context)  # type: ignore[union-attr]
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _drain(self) -> None:
        """Run queued assignments one after another; a handler that suspends is awaited right
        here, so this worker is its Task until it ends (as in a hand-written worker pool).

        Handlers run in this worker's context. One that leaves a context variable set would
        show it to the next handler, so the worker then stops and a fresh one (a new copy of
        the run's context) takes the queue over: each handler sees the context as the run
        started with, like a Task of its own would.

        Whatever a handler raises (``KeyboardInterrupt`` and ``SystemExit`` included: a real
        Ctrl-C reaches the run as a cancellation of its main task) fails only its task.
        """
        queue = self._queue
        sink = self._sink
        now = time.time
        me: Any = asyncio.current_task()
        clean = copy_context()
        suspends = self._suspends
        streak = 0
        retire = False
        running = CURRENT.get() if self.capture_logs else None  # see _spawn
        try:
            while queue:
                rec, agent = queue.popleft()
                if rec.status is not READY:  # abandoned while it waited
                    self._sched.release(agent, None, rec)
                    continue
                if agent.state is TERMINATED:  # went away after the assignment
                    self._sched.release(agent, None, rec)
                    self._sched.push(rec)
                    self._dispatch()
                    continue
                rec.status = RUNNING
                attempt = rec.attempts = rec.attempts + 1
                rec.agent = agent.name
                rec.started_at = now()
                rec.error = None
                self.n_running += 1
                self.n_attempts += 1
                if sink is not None:
                    sink("start", rec)
                ctx = Context(self, rec, agent.name, attempt)
                if running is not None:  # what the handler prints or logs lands on its task
                    running[0] = ctx
                executor = agent.executor
                aw: Any = None
                if executor == "thread":
                    aw = self._loop.run_in_executor(  # type: ignore[union-attr]
                        self.pool, copy_context().run, _in_thread, agent._fn, ctx
                    )
                elif executor == "batch":
                    batch(self, rec, agent, ctx)  # engine.batch: runs when the batch is full
                else:
                    try:
                        if executor == "inline":
                            res = copy_context().run(agent._fn, ctx)
                        else:
                            res = agent._fn(ctx)
                        if type(res) is CoroutineType:
                            if agent in suspends:  # its handler suspends: await it at once
                                aw = res
                            else:
                                try:
                                    aw = _rest(res, res.send(None))
                                except StopIteration as stop:
                                    res = stop.value
                                else:
                                    suspends.add(agent)
                        elif hasattr(res, "__await__"):
                            aw = res
                    except GeneratorExit:
                        raise
                    except BaseException as exc:
                        if me.cancelling():
                            await self._own_cancel(me)
                        self._fail(rec, agent, exc)
                    else:
                        if aw is None:
                            if me.cancelling():  # it cancelled its own task and returned
                                await self._own_cancel(me)
                                self._fail(rec, agent, _cancelled_itself())
                            else:
                                self._succeed(rec, agent, res)
                if aw is not None:  # it suspended: this worker is its Task until it ends
                    self._active -= 1
                    if queue and not self._active:
                        self._spawn()
                    rec.worker = me
                    self._inflight[rec] = None
                    timer = None
                    if rec.task.timeout is not None:
                        left = rec.task.timeout - (now() - rec.started_at)
                        timer = self._loop.call_later(  # type: ignore[union-attr]
                            max(0.0, left), self._expire, rec, agent
                        )
                    error: BaseException | None = None
                    value: Any = None
                    try:
                        value = await aw
                        if type(value) is CoroutineType:  # a sync callable returned one
                            value = await value
                    except GeneratorExit:
                        raise
                    except asyncio.CancelledError as exc:
                        if rec.cancel_reason is None and self._going_away():
                            raise  # not the handler's doing: the loop is going away
                        error = exc  # ours, or the handler's own
                    except BaseException as exc:
                        error = exc
                    finally:
                        if timer is not None:
                            timer.cancel()
                        self._active += 1
                    if rec.worker is not me:  # given up on after its timeout (_give_up)
                        break
                    rec.worker = None
                    del self._inflight[rec]
                    reason = rec.cancel_reason
                    if me.cancelling():
                        undelivered = await self._own_cancel(me)
                        if reason is None and error is None and undelivered:
                            error = _cancelled_itself()  # a handler that caught it decided
                    if reason is not None:
                        # ours, whether it surfaced as CancelledError or the handler swallowed it
                        self._interrupted(rec, agent, reason)
                    elif error is not None:
                        self._fail(rec, agent, error)
                    else:
                        self._succeed(rec, agent, value)
                    streak = 0
                if copy_context() != clean:  # the handler left a context variable set
                    retire = True
                    break
                streak += 1
                if streak >= _FAIRNESS:
                    streak = 0
                    await asyncio.sleep(0)
        finally:
            self._active -= 1
        if retire and queue and not self._active and not self._stopping:
            self._spawn()

    async def _own_cancel(self, worker: Any) -> bool:
        """A handler cancelled its worker (its own task) or the engine did: take the request
        back so that the next handler of this worker does not receive it. True when it was
        never delivered to the handler."""
        pending = getattr(worker, "_must_cancel", True)  # requested and not yet delivered
        while worker.cancelling():
            worker.uncancel()
        if pending:
            try:  # deliver it here, to nobody
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                pass
        return pending

    def _going_away(self) -> bool:
        """A cancellation with no reason of ours: the loop is shutting down (the run's own
        task is over) rather than a handler cancelling itself."""
        main = self._main
        return main is None or main.done()

    def _expire(self, rec: TaskResult, agent: Agent) -> None:
        if rec.status is RUNNING and rec.worker is not None and rec.cancel_reason is None:
            self._cancel_running(rec, "timeout", agent)

    def _cancel_running(self, rec: TaskResult, reason: str, agent: Agent | None = None) -> None:
        """Cancel a suspended handler with ``reason``. One that ignores its cancellation gets
        ``_GRACE`` seconds, then its task ends anyway and its worker is left to it."""
        worker = rec.worker
        rec.cancel_reason = reason
        worker.cancel()
        if agent is None:
            agent = self._sched.agents.get(rec.agent)  # type: ignore[arg-type]
            if agent is None:  # a pattern's coordinator
                agent = next((a for a in rec.route.agents if a.name == rec.agent), None)
        if agent is not None:
            self._loop.call_later(  # type: ignore[union-attr]
                _GRACE, self._give_up, rec, agent, worker, rec.attempts
            )

    def _give_up(self, rec: TaskResult, agent: Agent, worker: Any, attempt: int) -> None:
        if rec.worker is not worker or rec.attempts != attempt or rec.status is not RUNNING:
            return  # it stopped in time
        reason = rec.cancel_reason or "cancelled"
        rec.worker = None
        del self._inflight[rec]
        self._abandoned.add(worker)  # not awaited at the end: it may never finish
        worker.cancel()  # once more, in case it only swallowed the first one
        self.event(
            "handler_abandoned",
            task=rec.id,
            agent=agent.name,
            reason=f"{reason}: it ignored its cancellation for {_GRACE:g}s",
        )
        self._interrupted(rec, agent, reason)
        if self._queue and not self._active:
            self._spawn()

    def _interrupted(self, rec: TaskResult, agent: Agent, reason: str) -> None:
        rec.cancel_reason = None
        if reason == "timeout":
            t = rec.task.timeout
            self._fail(rec, agent, TimeoutError(f"timed out after {t:g}s"), error="timeout")
            return
        rec.finished_at = time.time()
        self._sched.release(agent, None, rec)  # stopped, not failed: nothing for the breaker
        self.n_running -= 1
        if reason.startswith("reassigned"):
            # the agent went away (terminated, missed heartbeats): not the task's fault, so
            # the attempt counts in `attempts` but not against the retry policy
            self._free[rec] = self._free.get(rec, 0) + 1
            rec.error = reason
            if rec.tried is None:
                rec.tried = {agent.name}
            else:
                rec.tried.add(agent.name)
            if self._sink is not None:
                self._sink("retry", rec)
            rec.status = READY
            self._sched.push(rec)
            self._dispatch()
            return
        # cancelled because the run stops: final, no retry, no breaker count
        rec.status = CANCELLED
        rec.error = f"cancelled: {reason}"
        self.n_cancelled += 1
        if self._sink is not None:
            self._sink("end", rec)
        if self._watch:
            self._notify(rec)
        self._settled()

    # -- outcomes ------------------------------------------------------------------------

    def _succeed(self, rec: TaskResult, agent: Agent, value: Any) -> None:
        finished = time.time()
        limit = rec.task.timeout
        if limit is not None and finished - rec.started_at > limit:  # type: ignore[operator]
            # it blocked the loop past its timeout, so the timer could not fire in time
            self._fail(rec, agent, TimeoutError(f"timed out after {limit:g}s"), error="timeout")
            return
        if type(value) not in _ATOMS:
            try:
                problem = json_problem(value)
            except Exception as exc:  # e.g. a mapping whose items() raises
                problem = f"a {_type_name(value)} that could not be read ({_describe(exc)})"
            if problem is not None:
                exc = ResultError(
                    f"task {rec.id!r}: agent {agent.name!r} returned {problem}, which is not "
                    "JSON. Results cross process boundaries: return dicts, lists, strings, "
                    "numbers, booleans or None.",
                    task=rec.id,
                    field="result",
                )
                self._fail(rec, agent, exc, retry=False)
                return
        rec.finished_at = finished
        agent.completed += 1
        agent.total_latency += finished - rec.started_at  # type: ignore[operator]
        rec.status = COMPLETED
        rec.result = value
        self.n_running -= 1
        self.n_completed += 1
        if self._sink is not None:
            self._sink("end", rec)
        if self._watch:
            self._notify(rec)
        if rec.dependents:
            push = self._sched.push
            for d in rec.dependents:
                w = d.waiting = d.waiting - 1
                if not w and d.status is PENDING:
                    d.status = READY
                    push(d)
        self._remaining -= 1
        sched = self._sched
        if not self._remaining:
            sched.release(agent, True, rec)
            self._finish()
        elif sched._ready:  # else nothing waits for the capacity just freed
            nxt = None if self._stopping else sched.handoff(agent)
            if nxt is None:
                sched.release(agent, True, rec)
                self._dispatch()
            else:  # the agent's next task, on the capacity it already holds
                self._queue.append((nxt, agent))
                if not self._active:
                    self._spawn()
                # nothing else can start: the only waiting route is this agent's, as full as
                # before, and the agent is as busy as before for other runs too
                return
        else:
            sched.release(agent, True, rec)
        if self._on_release is not None:  # other runs may wait for this agent, even at the end
            self._on_release()

    def _fail(
        self,
        rec: TaskResult,
        agent: Agent,
        exc: BaseException,
        *,
        retry: bool = True,
        error: str | None = None,
    ) -> None:
        finished = rec.finished_at = time.time()
        agent.failed += 1
        agent.total_latency += finished - rec.started_at  # type: ignore[operator]
        cooldown = self._sched.release(agent, False, rec)
        self.n_running -= 1
        if type(exc) is _Raised:
            exc = exc.exc
        if error is None:
            rec.error = _describe(exc)
            if exc.__traceback__ is not None:
                self._keep_traceback(rec, exc)
        else:
            rec.error = error
        if _DEBUG:
            import logging

            logging.getLogger("podium").debug("task %s failed on %s: %r", rec.id, agent.name, exc)
        if cooldown is not None and not self._stopping:
            self._loop.call_later(cooldown, self._dispatch)  # type: ignore[union-attr]
        policy = rec.task.retry
        used = rec.attempts - self._free.get(rec, 0) if self._free else rec.attempts
        if retry and not self._stopping and used < policy.max_attempts:
            rec.status = RETRYING
            self.n_retrying += 1
            if rec.tried is None:
                rec.tried = {agent.name}
            else:
                rec.tried.add(agent.name)
            if self._sink is not None:
                self._sink("retry", rec)
            delay = policy.delay(used, random.random())
            rec.timer = self._loop.call_later(delay, self._retry, rec)  # type: ignore[union-attr]
            self._dispatch()
            return
        rec.status = FAILED
        self.n_failed += 1
        if self._sink is not None:
            self._sink("end", rec)
        if self._watch:
            self._notify(rec)
        if self.on_failure == "fail_fast" and rec.id not in self._subtasks:
            self._stop(f"task {rec.id!r} failed")
        else:
            self._skip_dependents(rec)
        self._settled()

    def _keep_traceback(self, rec: TaskResult, exc: BaseException) -> None:
        text = format_traceback(exc)
        if text is not None:
            rec.traceback = text  # a recorder stores it with the attempt's end (engine.recorder)

    def _retry(self, rec: TaskResult) -> None:
        rec.timer = None
        if rec.status is not RETRYING:
            return
        self.n_retrying -= 1
        rec.status = READY
        self._sched.push(rec)
        self._dispatch()

    def _settled(self) -> None:
        """A task reached a final state other than completed."""
        self._remaining -= 1
        if self._remaining:
            self._dispatch()
        else:
            self._finish()
        if self._on_release is not None:  # its agent's capacity is free for other runs too
            self._on_release()

    def _finish(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def _skip(self, rec: TaskResult, why: str) -> None:
        if rec.timer is not None:
            rec.timer.cancel()
            rec.timer = None
        if rec.status is RETRYING:
            self.n_retrying -= 1
        rec.status = SKIPPED
        rec.error = why
        self.n_skipped += 1
        self._remaining -= 1
        if self._sink is not None:
            self._sink("end", rec)
        if self._watch:
            self._notify(rec)

    def _skip_dependents(self, failed: TaskResult) -> None:
        why = f"skipped: dependency {failed.id!r} failed"
        stack = list(failed.dependents)
        while stack:
            rec = stack.pop()
            if rec.status is PENDING:
                self._skip(rec, why)
                stack.extend(rec.dependents)

    def _stop(self, why: str) -> None:
        """Cancel running handlers and skip every task that has not started."""
        if self._stopping:
            return
        self._stopping = True
        for rec, agent in self._queue:
            self._sched.release(agent, None, rec)  # never ran
            self._skip(rec, f"skipped: {why}")
        self._queue.clear()
        self._sched.drain()
        for rec in self.records.values():
            if rec.status is PENDING or rec.status is READY or rec.status is RETRYING:
                self._skip(rec, f"skipped: {why}")
        for rec in list(self._inflight):
            if rec.cancel_reason is None:
                self._cancel_running(rec, why)
        if not self._remaining:
            self._finish()
