"""Upkeep while runs are live: agents that miss heartbeats, and pool auto-scaling.

One asyncio task per orchestrator, started with the first live run that needs it and stopped
with the last; it wakes every ``interval`` seconds and does a few comparisons per agent.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from .agent import AgentState

if TYPE_CHECKING:
    from ..orchestrator import Orchestrator

_WATCHED = (AgentState.IDLE, AgentState.RUNNING, AgentState.PAUSED)


class Supervisor:
    def __init__(self, orch: Orchestrator, interval: float = 0.05) -> None:
        self.orch = orch
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def needed(self) -> bool:
        o = self.orch
        if o.pools or any(a.heartbeat_timeout for a in o.agents.values()):
            return True
        # the agents live runs brought from their files (few), not every run's agent table
        return any(a.heartbeat_timeout for run in o.active_runs() for a in run.workflow.agents)

    def start(self) -> None:
        if self._task is None and self.needed():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.check_heartbeats(time.monotonic())
            await self.scale(time.monotonic())
            for run in self.orch.active_runs():
                # agents may have come back (a heartbeat after an error) without telling
                # the runs: offer them the waiting tasks
                if run.scheduler.waiting():
                    run._dispatch()

    def check_heartbeats(self, now: float) -> None:
        for agent in self.orch.live_agents().values():
            limit = agent.heartbeat_timeout
            if not limit or agent.state not in _WATCHED or now - agent.last_heartbeat <= limit:
                continue
            agent.state = AgentState.ERROR
            for run in self.orch.active_runs():
                n = run.reassign(agent, f"agent {agent.name!r} missed its heartbeats")
                run.event("agent_error", agent=agent.name, reason="missed heartbeats", moved=n)

    async def scale(self, now: float) -> None:
        orch = self.orch
        for pool in list(orch.pools.values()):
            waiting = 0
            for run in orch.active_runs():
                for route in run.scheduler.routes.values():
                    if route.size and any(a.pool == pool.name for a in route.agents):
                        waiting += route.size
            add, remove = pool.decide(waiting, now)
            for _ in range(add):
                replica = pool.new_replica()
                await orch.add_agent(replica)
                self._record(pool.name, "scale_up", replica.name, len(pool.live()), waiting)
            for replica in remove:
                await orch.terminate_agent(replica.name)
                self._record(pool.name, "scale_down", replica.name, len(pool.live()), waiting)

    def _record(self, pool: str, kind: str, replica: str, size: int, waiting: int) -> None:
        for run in self.orch.active_runs():
            run.event(kind, pool=pool, agent=replica, replicas=size, waiting=waiting)
