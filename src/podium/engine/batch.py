"""Batching: an agent with ``batch: {max_size, max_wait}`` gets lists of tasks.

The scheduler assigns its tasks one by one, as for any agent (each holds a unit of capacity,
which is at least ``max_size``). When a worker would call the handler, it adds the task to
the agent's open batch instead; the batch runs when it holds ``max_size`` tasks, or
``max_wait`` seconds after its first task joined, whichever comes first. The handler gets the
list of contexts and returns a list of results, one per context, in order. An exception
fails every task of the batch (each retries on its own) and counts as one failure for the
agent's circuit breaker; an exception *object* in the list fails that task only. Each task
keeps its own status, attempts, timings and record.

One asyncio Task runs each batch (a sync handler runs in the run's thread pool), so a
batched agent costs a Task per batch, not per task. Task timeouts do not cut a batch short.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..errors import ResultError
from .status import RUNNING

if TYPE_CHECKING:
    from ..agents.agent import Agent
    from .run import Run

__all__ = ["batch"]


def batch(run: Run, rec: Any, agent: Agent, ctx: Any) -> None:
    """Add a started task to ``agent``'s open batch; run the batch when it is full."""
    batches = run._batches
    open_ = batches.get(agent)
    if open_ is None:
        open_ = batches[agent] = [[], None]
    items = open_[0]
    items.append((rec, ctx))
    size, wait = agent.batch  # type: ignore[misc]
    if len(items) >= size:
        _flush(run, agent)
    elif len(items) == 1:
        open_[1] = run._loop.call_later(wait, _flush, run, agent)  # type: ignore[union-attr]


def _flush(run: Run, agent: Agent) -> None:
    open_ = run._batches.pop(agent, None)  # type: ignore[attr-defined]
    if open_ is None:
        return
    items, timer = open_
    if timer is not None:
        timer.cancel()
    worker = run._loop.create_task(  # type: ignore[union-attr]
        _run_batch(run, agent, items), context=run._ctx.copy()
    )
    run._workers.add(worker)
    worker.add_done_callback(run._workers.discard)


async def _run_batch(run: Run, agent: Agent, items: list[tuple[Any, Any]]) -> None:
    ctxs = [ctx for _, ctx in items]
    error: BaseException | None = None
    results: Any = None
    try:
        if agent.batch_in_thread:  # type: ignore[attr-defined]
            results = await run._loop.run_in_executor(run.pool, agent._fn, ctxs)  # type: ignore[union-attr]
        else:
            results = agent._fn(ctxs)
            if hasattr(results, "__await__"):
                results = await results
        if not isinstance(results, list | tuple) or len(results) != len(items):
            got = (
                f"{len(results)} results"
                if isinstance(results, list | tuple)
                else f"a {type(results).__name__}"
            )
            error = ResultError(
                f"agent {agent.name!r}: a batched handler must return a list with one result "
                f"per context, in order: it got {len(items)} contexts and returned {got}.",
                field="result",
            )
    except asyncio.CancelledError as exc:
        if run._going_away():
            raise
        error = exc
    except Exception as exc:
        error = exc
    counted = False
    for i, (rec, _) in enumerate(items):
        if rec.status is not RUNNING:
            continue  # ended without it (the run was stopped)
        if error is not None:
            if counted:  # one failed call is one failure for the circuit breaker
                agent.consecutive_failures -= 1
            counted = True
            run._fail(rec, agent, error)
            continue
        value = results[i]
        if isinstance(value, BaseException):
            run._fail(rec, agent, value)
        else:
            run._succeed(rec, agent, value)
