"""Auction (contract net): announce the task, collect bids, award it to the lowest bidder.

Every agent of the task's capability is asked for a bid at once. An agent bids with its own
``bid(self, task) -> float`` method (sync or async; return None to decline) when it has one,
else with the default::

    bid = (load + 1) / capacity * (estimated_time or 1.0) + (cost_estimate or 0.0)

that is, roughly when it would be done with the task, plus what it costs. Bids close after
``bid_timeout`` seconds; late, failed and invalid bids are recorded under ``rejected``. The
lowest bid wins (ties go to the agent asked first) and the winner runs the task as a subtask
pinned to it (``<task>/<winner>``). The result::

    {"winner": "fast", "bids": {"fast": 0.5, "slow": 2.0}, "rejected": {}, "result": ...}
"""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

from ..errors import TaskFailed
from ..spec.patterns import is_number
from . import register_pattern
from ._common import COMPLETED, capable, failure, settings, settle
from ._common import subtask as make_subtask

if TYPE_CHECKING:
    from ..agents.agent import Agent
    from ..engine.context import Context
    from ..spec.workflow import Task


def default_bid(agent: Agent) -> float:
    """What an agent without a ``bid`` method bids: its expected finish time plus its cost."""
    est = agent.estimated_time if agent.estimated_time is not None else 1.0
    return (agent.load + 1) / agent.capacity * est + (agent.cost_estimate or 0.0)


def bid_method(agent: Agent) -> Any:
    """The agent's ``bid``: a method of an Agent subclass, or of the object whose ``handle``
    method the agent runs (a plain class registered as an agent)."""
    fn = getattr(agent, "bid", None)
    if fn is None:
        owner = getattr(agent._fn, "__self__", None)
        fn = getattr(owner, "bid", None) if owner is not None else None
    return fn if callable(fn) else None


async def _ask(agent: Agent, task: Task, pool: Any) -> Any:
    fn = bid_method(agent)
    if fn is None:
        return default_bid(agent)
    if inspect.iscoroutinefunction(fn):
        return await fn(task)
    # a sync bid may take its time: keep it off the loop so the timeout still holds
    return await asyncio.get_running_loop().run_in_executor(pool, fn, task)


@register_pattern("auction")
async def coordinate(ctx: Context) -> dict[str, Any]:
    s = settings(ctx)
    t = ctx.task
    agents = [a for a in capable(ctx, capability=t.capability, agent=t.agent) if a.takes_work]
    if not agents:
        raise TaskFailed(
            f"task {ctx.task_id!r}: no agent of {t.capability or t.agent!r} takes work now "
            "(paused, in error or terminated), so none can bid.",
            task=ctx.task_id,
        )
    asks = {a.name: asyncio.ensure_future(_ask(a, t, ctx.run.pool)) for a in agents}
    try:
        await asyncio.wait(asks.values(), timeout=s.bid_timeout)
    finally:
        for f in asks.values():
            f.cancel()  # late bidders are out; their bid no longer counts
    bids: dict[str, float] = {}
    rejected: dict[str, str] = {}
    for name, f in asks.items():
        if f.cancelled() or not f.done():
            rejected[name] = f"no bid within {s.bid_timeout:g}s"
        elif f.exception() is not None:
            exc = f.exception()
            rejected[name] = f"bid raised {type(exc).__name__}: {exc}"
        elif f.result() is None:
            rejected[name] = "declined"
        elif not is_number(f.result()) or f.result() < 0:
            rejected[name] = f"bid {f.result()!r} is not a non-negative number"
        else:
            bids[name] = float(f.result())
    if not bids:
        detail = "; ".join(f"{n}: {why}" for n, why in rejected.items())
        raise TaskFailed(
            f"task {ctx.task_id!r}: no valid bid within {s.bid_timeout:g}s ({detail}). "
            "Raise auction.bid_timeout or check the agents' bid methods.",
            task=ctx.task_id,
        )
    winner = min(bids, key=bids.__getitem__)  # min keeps the first of equal bids
    (rec,) = await settle(
        ctx, [make_subtask(ctx, winner, capability=t.capability, agent=winner, input=t.input)]
    )
    if rec.status is not COMPLETED:
        raise failure(ctx, [rec], "awarded subtask")
    return {"winner": winner, "bids": bids, "rejected": rejected, "result": rec.result}
