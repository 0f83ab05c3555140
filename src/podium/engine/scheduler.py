"""Ready tasks + agent states -> assignments. Pure: no I/O, no event loop, an injected clock.

Ready tasks wait in one heap per *route* (a capability, or one pinned agent), ordered by
priority, then critical-path rank, then arrival (FIFO). Within a route every task has the same
candidate agents, so when the head cannot be placed nothing behind it can, and a placement is
O(log n) in the tasks waiting plus O(k) in the route's agents (a handful). Across routes the
best head wins, so priorities hold when the run's ``max_concurrency`` is the limit.

Agent choice is a pluggable `Strategy`. A retry prefers a capable agent it has not tried yet
(failover). Each agent has a circuit breaker: after ``breaker_failures`` consecutive failures it
gets no tasks for ``breaker_cooldown`` seconds, then exactly one probe task; success closes it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any, Protocol

from ..agents.agent import Agent, AgentState

if TYPE_CHECKING:
    from ..spec.workflow import Task

__all__ = [
    "STRATEGIES",
    "LeastLoaded",
    "RoundRobin",
    "Route",
    "Scheduler",
    "Scored",
    "Strategy",
    "make_strategy",
]

_IDLE = AgentState.IDLE
_RUNNING = AgentState.RUNNING
_ERROR = AgentState.ERROR


class Strategy(Protocol):
    """Picks one agent from candidates that all have free capacity (a non-empty list)."""

    def select(self, candidates: list[Agent], task: Task) -> Agent: ...


class Scored:
    """Default: lowest score wins; score = load share + failure rate + relative latency."""

    name = "score"

    def select(self, candidates: list[Agent], task: Task) -> Agent:
        if len(candidates) == 1:
            return candidates[0]
        slowest = max(a.avg_latency for a in candidates) or 1.0
        best, best_score = candidates[0], float("inf")
        for a in candidates:
            s = a.load / a.capacity + a.failure_rate + a.avg_latency / slowest
            if s < best_score:
                best, best_score = a, s
        return best


class LeastLoaded:
    """The agent with the smallest share of its capacity in use."""

    name = "least_loaded"

    def select(self, candidates: list[Agent], task: Task) -> Agent:
        return min(candidates, key=lambda a: a.load / a.capacity)


class RoundRobin:
    """Each capable agent in turn."""

    name = "round_robin"

    def __init__(self) -> None:
        self._turn = 0

    def select(self, candidates: list[Agent], task: Task) -> Agent:
        self._turn += 1
        return candidates[self._turn % len(candidates)]


STRATEGIES: dict[str, Callable[[], Strategy]] = {
    "score": Scored,
    "least_loaded": LeastLoaded,
    "round_robin": RoundRobin,
}


def make_strategy(strategy: str | Strategy | None) -> Strategy:
    """A strategy from its name (``score``, ``least_loaded``, ``round_robin``) or as given."""
    if strategy is None:
        return Scored()
    if isinstance(strategy, str):
        try:
            return STRATEGIES[strategy]()
        except KeyError:
            from ..errors import ValidationError

            raise ValidationError(
                f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}.",
                field="strategy",
            ) from None
    return strategy


class Route:
    """Ready tasks that want the same set of agents, and those agents.

    Tasks wait in FIFO buckets, one per distinct (priority, rank), with a heap of the bucket
    keys: a push or pop is a dict lookup and a deque operation, and the heap only moves when
    a key appears or empties. Fan-outs have one key and layered DAGs one per layer, so this
    beats a heap of every task (O(log k) in distinct keys instead of O(log n) in tasks).
    """

    __slots__ = ("agents", "buckets", "key", "keys", "size")

    def __init__(self, key: str, agents: list[Agent]) -> None:
        self.key = key
        self.agents = agents
        self.keys: list[tuple[int, float]] = []  # heap of (-priority, -rank)
        self.buckets: dict[tuple[int, float], deque[Any]] = {}
        self.size = 0

    def head(self) -> Any:
        return self.buckets[self.keys[0]][0]

    def pop(self) -> Any:
        key = self.keys[0]
        bucket = self.buckets[key]
        rec = bucket.popleft()
        self.size -= 1
        if not bucket:
            heappop(self.keys)
            del self.buckets[key]
        return rec

    def __repr__(self) -> str:
        return f"<Route {self.key!r} ready={self.size} agents={len(self.agents)}>"


class Scheduler:
    """Holds ready tasks and hands out (task, agent) assignments as capacity allows.

    Tasks are any objects with ``task`` (a `Task`), ``rank`` (float), ``route`` (a `Route`),
    ``tried`` (agent names or None) and a writable ``seq`` attribute; the engine passes its
    task records.
    """

    def __init__(
        self,
        agents: Iterable[Agent],
        *,
        strategy: str | Strategy | None = None,
        max_concurrency: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        coordinator: Callable[[str], Agent] | None = None,
    ) -> None:
        self.agents: dict[str, Agent] = {}
        # the agent that runs tasks of a pattern (given by the engine: patterns sit above)
        self.coordinator = coordinator
        self.routes: dict[str, Route] = {}
        self.strategy = make_strategy(strategy)
        self.limit = max_concurrency
        self.clock = clock
        self.running = 0  # assignments handed out and not yet released
        self._ready: dict[Route, None] = {}  # routes with waiting tasks, as an ordered set
        self._seq = 0
        for a in agents:
            self.add_agent(a)

    # -- agents and routes ------------------------------------------------------------------

    def add_agent(self, agent: Agent) -> None:
        """Make an agent a candidate for its capabilities (also while a run is live)."""
        self.agents[agent.name] = agent
        for key, route in self.routes.items():
            if agent in route.agents:
                continue
            if key.startswith("agent:"):
                if key[6:] == agent.name or key[6:] == agent.pool:
                    route.agents.append(agent)
            elif key in agent.capabilities:
                route.agents.append(agent)

    def remove_agent(self, agent: Agent) -> None:
        self.agents.pop(agent.name, None)
        for route in self.routes.values():
            if agent in route.agents:
                route.agents.remove(agent)

    def route_for(self, task: Task) -> Route:
        """The route a task waits in; made on first use. A pattern task waits for its
        pattern's coordinator, which delegates to the agents of its capability."""
        if task.pattern is not None:
            key = f"pattern:{task.pattern}"
            route = self.routes.get(key)
            if route is None:
                if self.coordinator is None:
                    from ..errors import ValidationError

                    raise ValidationError(
                        f"task {task.id!r}: pattern tasks need a coordinator; run them "
                        "through an Orchestrator.",
                        task=task.id,
                        field="pattern",
                    )
                route = self.routes[key] = Route(key, [self.coordinator(task.pattern)])
            return route
        key = task.route
        route = self.routes.get(key)
        if route is None:
            if task.agent is not None:
                found = [a for a in self.agents.values() if task.agent in (a.name, a.pool)]
            else:
                found = [a for a in self.agents.values() if key in a.capabilities]
            route = self.routes[key] = Route(key, found)
        return route

    # -- the queue ---------------------------------------------------------------------------

    def push(self, rec: Any) -> None:
        """A task became ready."""
        self._seq += 1
        rec.seq = self._seq
        route = rec.route
        key = (-rec.task.priority, -rec.rank)
        bucket = route.buckets.get(key)
        if bucket is None:
            bucket = route.buckets[key] = deque()
            heappush(route.keys, key)
        bucket.append(rec)
        route.size += 1
        self._ready[route] = None

    def waiting(self) -> int:
        """Ready tasks not yet assigned."""
        return sum(r.size for r in self._ready)

    def drain(self) -> list[Any]:
        """Remove and return every waiting task (a run is stopping)."""
        out = [rec for r in self._ready for b in r.buckets.values() for rec in b]
        for r in self._ready:
            r.buckets.clear()
            r.keys.clear()
            r.size = 0
        self._ready.clear()
        return out

    def assign(self, out: Any) -> int:
        """Append (task, agent) pairs to ``out`` while tasks wait and capacity allows.

        Takes the capacity it hands out; give it back with `release`. Returns how many.
        """
        ready = self._ready
        limit = self.limit
        n = 0
        while ready:
            if limit is not None and self.running >= limit:
                break
            if len(ready) == 1:
                route = next(iter(ready))
                keys, buckets = route.keys, route.buckets
                while keys:
                    key = keys[0]
                    bucket = buckets[key]
                    while bucket:
                        if limit is not None and self.running >= limit:
                            return n
                        rec = bucket[0]
                        agent = self._pick(route, rec)
                        if agent is None:
                            return n
                        bucket.popleft()
                        route.size -= 1
                        self._take(agent)
                        out.append((rec, agent))
                        n += 1
                    heappop(keys)
                    del buckets[key]
                del ready[route]
                return n
            best = best_rank = best_agent = None
            for route in ready:
                head = route.head()
                rank = (route.keys[0], head.seq)
                if best_rank is not None and rank >= best_rank:
                    continue
                agent = self._pick(route, head)
                if agent is not None:
                    best, best_rank, best_agent = route, rank, agent
            if best is None:
                break
            rec = best.pop()
            if not best.size:
                del ready[best]
            self._take(best_agent)  # type: ignore[arg-type]
            out.append((rec, best_agent))
            n += 1
        return n

    def _take(self, agent: Agent) -> None:
        agent.load += 1
        self.running += 1
        if agent.state is _IDLE:
            agent.state = _RUNNING
        if agent.breaker_until:
            agent.probing = True

    def _pick(self, route: Route, rec: Any) -> Agent | None:
        agents = route.agents
        if len(agents) == 1:
            a = agents[0]
            if a.load < a.capacity and (a.state is _RUNNING or a.state is _IDLE):
                if not a.breaker_until:
                    return a
                if self._breaker_allows(a):
                    return a
            return None
        cands = [
            a
            for a in agents
            if a.load < a.capacity
            and (a.state is _RUNNING or a.state is _IDLE)
            and (not a.breaker_until or self._breaker_allows(a))
        ]
        if not cands:
            return None
        tried = rec.tried
        if tried:
            fresh = [a for a in cands if a.name not in tried]
            if fresh:
                cands = fresh
        return self.strategy.select(cands, rec.task)

    def _breaker_allows(self, agent: Agent) -> bool:
        # open: nothing until the cool-down ends; half-open: one probe at a time
        return self.clock() >= agent.breaker_until and not agent.probing and agent.load == 0

    # -- outcomes ----------------------------------------------------------------------------

    def handoff(self, agent: Agent) -> Any | None:
        """``agent`` just finished a task well: the next ready task it would get anyway, if
        any, handed over while it keeps the capacity unit (no release and take again).

        Only when one route has ready tasks and ``agent`` is its only agent, so the choice is
        the one `assign` would make. Otherwise (or with a breaker to close) returns None and
        changes nothing: `release` it as usual.
        """
        ready = self._ready
        if len(ready) != 1 or agent.breaker_until:
            return None
        route = next(iter(ready))
        agents = route.agents
        if len(agents) != 1 or agents[0] is not agent or agent.state is not _RUNNING:
            return None
        agent.consecutive_failures = 0
        rec = route.pop()
        if not route.size:
            del ready[route]
        return rec

    def release(self, agent: Agent, ok: bool | None, rec: Any = None) -> float | None:
        """Give back one unit of ``agent``'s capacity and record the outcome for its breaker
        (``ok=None``: the task never ran, nothing to record). ``rec`` is the task that held
        it (a scheduler with gates gives back what that task held too).

        Returns the cool-down in seconds when this failure opened the breaker, else None.
        """
        agent.load -= 1
        self.running -= 1
        if agent.load == 0 and agent.state is _RUNNING:
            agent.state = _IDLE
        if ok is None:
            if agent.probing:
                agent.probing = False
            return None
        if ok:
            agent.consecutive_failures = 0
            if agent.breaker_until:
                agent.breaker_until = 0.0
                agent.probing = False
                if agent.state is _ERROR:
                    agent.state = _IDLE if agent.load == 0 else _RUNNING
            return None
        agent.consecutive_failures += 1
        if agent.probing or agent.consecutive_failures >= agent.breaker_failures:
            agent.probing = False
            agent.breaker_until = self.clock() + agent.breaker_cooldown
            return agent.breaker_cooldown
        return None
