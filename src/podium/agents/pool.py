"""Agent pools: replicas of one agent that grow while tasks wait and shrink when idle.

An agent registered with ``replicas={"min": 1, "max": 8}`` becomes a pool named after it. Its
replicas are named ``<name>-1``, ``<name>-2``, ...; a task pinned with ``agent: <name>`` may
run on any of them. The decision of when to scale is `AgentPool.decide`, pure and
unit-testable; the orchestrator's supervisor applies it and records each decision as an
event in the history of every live run.
"""

from __future__ import annotations

import math

from .agent import Agent, AgentState

__all__ = ["AgentPool"]

_LIVE = (AgentState.IDLE, AgentState.RUNNING, AgentState.CREATED, AgentState.INITIALIZING)


class AgentPool:
    """Replicas of ``template``, between ``min_size`` and ``max_size`` of them."""

    def __init__(
        self, template: Agent, min_size: int, max_size: int, idle_timeout: float = 2.0
    ) -> None:
        self.template = template
        self.name = template.name
        self.min_size = min_size
        self.max_size = max_size
        self.idle_timeout = idle_timeout  # seconds a replica may idle before it is removed
        self.replicas: list[Agent] = []
        self._next = 0

    def new_replica(self) -> Agent:
        self._next += 1
        replica = self.template.clone(f"{self.name}-{self._next}")
        replica.pool = self.name
        replica.replicas = None
        self.replicas.append(replica)
        return replica

    def live(self) -> list[Agent]:
        return [r for r in self.replicas if r.state in _LIVE]

    def decide(self, waiting: int, now: float) -> tuple[int, list[Agent]]:
        """How many replicas to add, and which to remove, given ``waiting`` tasks that this
        pool could take and the clock. Grows when waiting tasks exceed free capacity, by as
        many replicas as they need (up to ``max_size``); removes replicas idle for
        ``idle_timeout`` while nothing waits (down to ``min_size``, at least one)."""
        live = self.live()
        for r in live:
            if r.load:
                r.idle_since = now
        size = len(live)
        floor = max(self.min_size, 1)
        if size < floor:
            return floor - size, []
        free = sum(max(0, r.capacity - r.load) for r in live if r.state is not AgentState.PAUSED)
        if waiting > free and size < self.max_size:
            need = math.ceil((waiting - free) / self.template.capacity)
            return min(need, self.max_size - size), []
        if waiting:
            return 0, []
        remove: list[Agent] = []
        for r in reversed(live):  # newest first
            if size - len(remove) <= floor:
                break
            if not r.load and now - r.idle_since >= self.idle_timeout:
                remove.append(r)
        return 0, remove

    def __repr__(self) -> str:
        return f"<AgentPool {self.name!r} {len(self.live())} of {self.min_size}..{self.max_size}>"
