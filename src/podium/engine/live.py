"""A run changed while it is live: tasks delegated at run time, tasks taken away from agents
that went away, slots lent while a handler waits for its subtasks, tasks refused by the run's
budget, and run-level events.

These are methods of `podium._engine.Run` (through `LiveRun`); they mutate run state and,
like the rest of the engine, run on the run's loop only.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ..agents.agent import AgentState
from ..errors import CapabilityError, ValidationError
from ..result import TaskResult
from ..spec.workflow import Task
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

if TYPE_CHECKING:
    from ..agents.agent import Agent
    from .budget import Budget
    from .scheduler import Scheduler
    from .usage import Ledger


class LiveRun:
    """Live changes to a run; mixed into `Run`, whose state it shares."""

    # class-level defaults, so runs that never use them pay nothing to set them up
    usage: Ledger | None = None  # model usage reported by handlers (see engine.usage)
    budget: Budget | None = None  # max_cost / max_tokens (see engine.budget)
    stopped_by: str | None = None  # why tasks were refused (the budget), for the status

    # provided by Run
    records: dict[str, TaskResult]
    total: int
    n_completed: int
    n_failed: int
    n_skipped: int
    n_cancelled: int
    events: list[dict[str, Any]]
    _remaining: int
    _stopping: bool
    _loop: asyncio.AbstractEventLoop | None
    _sched: Scheduler
    _sink: Any
    _preset: dict[str, dict[str, Any]]
    _watch: dict[TaskResult, asyncio.Future[Any]]
    _subtasks: set[str]
    _inflight: dict[TaskResult, None]

    if TYPE_CHECKING:

        def _dispatch(self) -> None: ...
        def _finish(self) -> None: ...
        def _skip(self, rec: TaskResult, why: str) -> None: ...
        def _settled(self) -> None: ...
        def _cancel_running(self, rec: TaskResult, reason: str) -> None: ...

    def add_task(self, task: Task, *, parent: TaskResult | None = None) -> asyncio.Future[Any]:
        """Add a task to the live run (delegation); the future resolves to its `TaskResult`
        when it reaches a final state.

        Adding an id that exists reuses it: a completed task gives its result at once (so a
        retried or resumed parent does not redo its subtasks), a live one is awaited, and a
        failed one runs again.
        """
        loop = self._loop
        assert loop is not None, "add_task needs a started run"
        fut: asyncio.Future[Any] = loop.create_future()
        if self._stopping:
            fut.cancel()
            return fut
        rec = self.records.get(task.id)
        if rec is not None:
            if rec.status is COMPLETED:
                fut.set_result(rec)
                return fut
            if rec.status is PENDING or rec.status is READY or rec.status is RUNNING:
                self._watch_rec(rec, fut)
                return fut
            if rec.status is RETRYING:
                self._watch_rec(rec, fut)
                return fut
            self._reopen(rec)
        else:
            rec = TaskResult(task)
            rec.route = self._sched.route_for(task)
            if not rec.route.agents:
                what = f"agent {task.agent!r}" if task.agent else f"capability {task.capability!r}"
                raise CapabilityError(
                    f"task {task.id!r}: no agent for {what} to delegate to.",
                    task=task.id,
                    field="agent" if task.agent else "capability",
                )
            rec.rank = parent.rank if parent is not None else 1.0
            self.records[task.id] = rec
            self._subtasks.add(task.id)
            self.total += 1
            self._remaining += 1
            saved = self._preset.get(task.id)
            if saved is not None and saved.get("status") == COMPLETED:
                rec.status = COMPLETED
                rec.result = saved.get("result")
                rec.agent = saved.get("agent")
                rec.attempts = saved.get("attempts") or 1
                rec.started_at = saved.get("started_at")
                rec.finished_at = saved.get("finished_at")
                self.n_completed += 1
                self._remaining -= 1
                fut.set_result(rec)
                return fut
            if saved is not None:
                rec.attempts = saved.get("attempts") or 0
            for dep in task.depends_on:
                d = self.records.get(dep)
                if d is None:
                    raise ValidationError(
                        f"task {task.id!r}: depends_on names {dep!r}, which is not a task.",
                        task=task.id,
                        field="depends_on",
                    )
                if d.status is COMPLETED:
                    rec.waiting -= 1
                else:
                    d.dependents.append(rec)
        self._watch_rec(rec, fut)
        if not rec.waiting:
            rec.status = READY
            self._sched.push(rec)
            self._dispatch()
        return fut

    def check_delegable(self, task: Task) -> None:
        """A CapabilityError, naming the capabilities there are, unless an agent of this run
        could take ``task``."""
        if task.id in self.records or self._sched.route_for(task).agents:
            return
        if task.agent is not None:
            names = ", ".join(sorted(self._sched.agents)) or "none"
            raise CapabilityError(
                f"no agent named {task.agent!r} to delegate to (agents: {names}).",
                task=task.id,
                field="agent",
            )
        caps = sorted({c for a in self._sched.agents.values() for c in a.capabilities})
        raise CapabilityError(
            f"no agent has capability {task.capability!r} to delegate to "
            f"(capabilities: {', '.join(caps) or 'none'}).",
            task=task.id,
            field="capability",
        )

    def _watch_rec(self, rec: TaskResult, fut: asyncio.Future[Any]) -> None:
        old = self._watch.get(rec)
        if old is not None:
            old.add_done_callback(lambda f: fut.done() or fut.set_result(f.result()))
        else:
            self._watch[rec] = fut

    def _reopen(self, rec: TaskResult) -> None:
        """A failed, skipped or cancelled task runs again (delegated anew)."""
        if rec.status is FAILED:
            self.n_failed -= 1
        elif rec.status is SKIPPED:
            self.n_skipped -= 1
        elif rec.status is CANCELLED:
            self.n_cancelled -= 1
        rec.status = PENDING
        rec.error = None
        rec.tried = None
        self._remaining += 1

    def _notify(self, rec: TaskResult) -> None:
        fut = self._watch.pop(rec, None)
        if fut is not None and not fut.done():
            fut.set_result(rec)

    def abandon(self, rec: TaskResult, why: str) -> None:
        """Stop a delegated task nobody waits for any more: skip it, or cancel it if running."""
        if rec.status is PENDING or rec.status is READY or rec.status is RETRYING:
            # a READY record may still sit in a route heap; _drain skips non-READY ones
            self._skip(rec, f"skipped: {why}")
            if not self._remaining:
                self._finish()
        elif rec.status is RUNNING and rec.worker is not None and rec.cancel_reason is None:
            self._cancel_running(rec, why)

    def _refuse(self, rec: TaskResult, why: str) -> None:
        """The budget refused a ready task: skip it and what depends on it, with the reason.
        Called by the scheduler from inside its assignment loop, so this never dispatches."""
        if self.stopped_by is None:
            self.stopped_by = why
        self._skip(rec, f"skipped: {why}")
        stack = list(rec.dependents)
        while stack:
            d = stack.pop()
            if d.status is PENDING:
                self._skip(d, f"skipped: {why.partition(' (')[0]} (before dependency {rec.id!r})")
                stack.extend(d.dependents)
        if not self._remaining:
            self._finish()

    def lend(self, agent: Agent) -> None:
        """A handler waits for its delegated tasks: lend its slot so they cannot starve."""
        agent.load -= 1
        self._sched.running -= 1
        self._dispatch()

    def reclaim(self, agent: Agent) -> None:
        agent.load += 1
        self._sched.running += 1

    def reassign(self, agent: Agent, why: str) -> int:
        """Take every task running on ``agent`` away and queue it for another agent."""
        n = 0
        if agent.state is AgentState.TERMINATED:
            # A delegated task pinned to it (a pattern's participant, ctx.delegate(agent=...))
            # would wait forever: end it, so that its parent hears of it and decides.
            why = f"agent {agent.name!r}, which it was pinned to, was terminated"
            for tid in list(self._subtasks):
                rec = self.records[tid]
                if rec.task.agent == agent.name and not any(
                    a.state is not AgentState.TERMINATED for a in rec.route.agents
                ):
                    if rec.status is RUNNING:
                        n += 1
                    self.abandon(rec, why)
        for rec in list(self._inflight):
            if rec.agent == agent.name and rec.cancel_reason is None and rec.worker is not None:
                self._cancel_running(rec, f"reassigned: {why}")
                n += 1
        return n

    def event(self, kind: str, **data: Any) -> None:
        """Record something that happened to the run but not to one task (scaling, agent
        state changes): kept in ``events`` and sent to the store as kind ``event``."""
        entry = {"event": kind, "at": time.time(), **data}
        self.events.append(entry)
        if self._sink is not None:
            self._sink("event", entry)  # type: ignore[arg-type]
