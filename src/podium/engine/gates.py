"""Concurrency keys and rate limits: rules a ready task must pass before it starts.

*Concurrency keys.* ``concurrency: {key: "{input.tenant}", max: 5}`` on a task (or as its
capability's default) lets at most ``max`` tasks with the same key run at once. A ready task
whose key is full leaves its route for a FIFO line of that key (*parked*), so tasks behind it
with other keys go on; when a task with the key ends, the first parked task goes back to its
route. Both moves are O(1), so the scheduler stays O(log n) per task.

*Rate limits.* ``rate_limit: {requests: 500, tokens: 200000, per: 60}`` on an agent, a
capability or a workflow. Each limit is a token bucket whose tokens come back ``per`` seconds
after they were taken (a sliding window): no window of ``per`` seconds ever holds more than
``requests`` starts, which a refilling bucket cannot promise (it allows twice that across the
edge of a full bucket). A task takes one request and its estimated tokens when it starts:
its agent's ``estimate_usage(task)`` when it has one, else the mean of what the limit's earlier
tasks reported. Its first ``ctx.record_usage`` replaces the estimate with what it really used
(at the time of the report), so later tasks see the corrected count. A task over a limit
waits, with its route, until the window frees enough (a timer wakes the run).

*Resource requests.* ``resources: {cpu: 2, memory: 512MB, gpu: 1}`` on a task (or as its
capability's default) starts it only on an agent whose ``resources`` totals have that much
free beside what its running tasks hold; an agent never holds more than its totals. Agents
offer only what they declare. Within a route the head waits for its fit and nothing behind it
jumps ahead, so a large request is never passed by smaller ones of the same route. Tasks of
other routes (or runs) on the same agents could still keep taking what it waits for, so once a
head has waited through ``RESERVE_AFTER`` assignment rounds, it reserves the agent with the
largest totals that can hold it: that agent takes no other task with a request until it starts.

`Gates` holds this state for every run of one orchestrator, so keys and limits are shared
across its runs. `GatedScheduler` is the plain scheduler with the gates in its assignment
loop; runs that declare no rule use the plain `Scheduler`, which knows nothing of this module.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from .._utils.rules import resolve_key
from .scheduler import Scheduler
from .status import READY

__all__ = ["RESERVE_AFTER", "GatedScheduler", "Gates", "Window", "needs_gates"]

RESERVE_AFTER = 8  # assignment rounds a resource request waits before it reserves an agent


class Window:
    """One rate limit: what was taken in the last ``per`` seconds."""

    __slots__ = ("log", "name", "nreq", "per", "reported", "requests", "seen", "tokens", "used")

    def __init__(self, name: str, requests: int | None, tokens: int | None, per: float) -> None:
        self.name = name  # "agent 'llm'", "capability 'embed'", "workflow 'w'"
        self.requests = requests
        self.tokens = tokens
        self.per = per
        self.log: deque[list[Any]] = deque()  # [time, tokens, is_request], oldest first
        self.nreq = 0  # requests in the log
        self.used = 0.0  # tokens in the log
        self.seen = 0  # tokens reported so far, and by how many tasks: the next estimate
        self.reported = 0

    def estimate(self) -> float:
        return self.seen / self.reported if self.reported else 0.0

    def _expire(self, now: float) -> None:
        log, edge = self.log, now - self.per
        while log and log[0][0] <= edge:
            _, tokens, req = log.popleft()
            self.used -= tokens
            self.nreq -= req

    def wait(self, now: float, tokens: float) -> float:
        """0 when one more request of ``tokens`` fits now, else the seconds until it may."""
        self._expire(now)
        log = self.log
        if self.requests is not None and self.nreq >= self.requests:
            over = self.nreq - self.requests  # the request that must leave the window first
            for t, _, req in log:
                if req:
                    if not over:
                        return t + self.per - now
                    over -= 1
        limit = self.tokens
        if limit is not None and tokens and self.used + tokens > limit and self.used > 0:
            # a task estimated above the whole limit still runs alone in an empty window
            need = self.used + min(tokens, limit) - limit
            for t, n, _ in log:
                need -= n
                if need <= 0:
                    return t + self.per - now
        return 0.0

    def take(self, now: float, tokens: float) -> list[Any]:
        entry = [now, tokens, 1]
        self.log.append(entry)
        self.nreq += 1
        self.used += tokens
        return entry

    def report(self, now: float, entry: list[Any] | None, tokens: float) -> None:
        """A task reported ``tokens``; the first report replaces its start's estimate."""
        self._expire(now)
        if entry is not None and entry[1] and entry[0] > now - self.per:  # still in the log
            self.used -= entry[1]
            entry[1] = 0
        self.seen += tokens
        self.reported += 1
        if tokens:
            self.log.append([now, tokens, 0])
            self.used += tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit": self.name,
            "requests": self.requests,
            "tokens": self.tokens,
            "per": self.per,
            "in_window": {"requests": self.nreq, "tokens": round(self.used)},
        }


class Gates:
    """Concurrency keys and rate-limit windows shared by the runs of one orchestrator."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        import time

        self.clock = clock or time.monotonic
        self.keys: dict[str, int] = {}  # key -> tasks running with it
        self.parked: dict[str, deque[tuple[GatedScheduler, Any]]] = {}
        self.windows: dict[str, Window] = {}
        self.held: dict[str, dict[str, float]] = {}  # agent -> resources its tasks hold
        self.reserved: dict[str, Any] = {}  # agent -> the waiting task it is kept for

    def window(self, name: str, rule: dict[str, Any]) -> Window:
        w = self.windows.get(name)
        if w is None or (w.requests, w.tokens, w.per) != (
            rule["requests"],
            rule["tokens"],
            rule["per"],
        ):
            old = w
            w = self.windows[name] = Window(name, rule["requests"], rule["tokens"], rule["per"])
            if old is not None:  # the rule changed: what was taken still counts
                w.log, w.nreq, w.used = old.log, old.nreq, old.used
        return w

    def fits(self, agent: Any, request: dict[str, float], rec: Any) -> bool:
        offers = agent.offers
        if offers is None:
            return False
        who = self.reserved.get(agent.name)
        if who is not None and who is not rec:
            if who.status is READY:
                return False
            del self.reserved[agent.name]  # its task went (skipped, cancelled)
        held = self.held.get(agent.name)
        for name, n in request.items():
            have = offers.get(name)
            if have is None or (held.get(name, 0.0) if held else 0.0) + n > have + 1e-9:
                return False
        return True

    def take(self, agent: Any, request: dict[str, float], rec: Any) -> None:
        held = self.held.setdefault(agent.name, {})
        for name, n in request.items():
            held[name] = held.get(name, 0.0) + n
        if self.reserved.get(agent.name) is rec:
            del self.reserved[agent.name]

    def give_back(self, agent_name: str, request: dict[str, float]) -> None:
        held = self.held[agent_name]
        for name, n in request.items():
            held[name] -= n

    def attach(self, sched: GatedScheduler) -> None:
        """A run's scheduler now uses these gates (SharedGates wakes them)."""

    def full(self, key: str, most: int) -> bool:
        """Whether a task with ``key`` must wait (the caller parks it then)."""
        return self.keys.get(key, 0) >= most

    def free(self, key: str) -> None:
        """A task holding ``key`` ended: the first task parked on it goes back to its run."""
        n = self.keys[key] - 1
        if n:
            self.keys[key] = n
        else:
            del self.keys[key]
        if not self.unpark(key):
            self.spare(key)

    def spare(self, key: str) -> None:
        """A slot of ``key`` came free and no task here waits for it (see SharedGates)."""

    def unpark(self, key: str) -> bool:
        """The first ready task parked on ``key`` goes back to its run; False if none."""
        line = self.parked.get(key)
        found = False
        while line:
            sched, rec = line.popleft()
            sched.n_parked -= 1
            if rec.status is READY:
                Scheduler.push(sched, rec)
                sched.wake()
                found = True
                break
        if line is not None and not line:
            del self.parked[key]
        return found

    async def settle(self) -> None:
        """Wait for what the gates still send elsewhere (nothing here; see SharedGates)."""

    async def close(self) -> None:
        """Give back what the gates hold elsewhere (nothing here; see SharedGates)."""


def needs_gates(workflow: Any, agents: Any) -> bool:
    """Whether a run of ``workflow`` on ``agents`` declares any rule (else: plain scheduler)."""
    if workflow.rate_limit is not None or workflow.capabilities:
        return True
    if any(a.rate_limit is not None or a.offers is not None for a in agents):
        return True
    return workflow.keyed


class GatedScheduler(Scheduler):
    """The scheduler of a run with concurrency keys or rate limits (see the module's notes).

    ``wake()`` asks the engine to call `assign` again soon (a parked task came back);
    ``wake_in(seconds)`` asks it to after a rate limit's window frees.
    """

    def __init__(
        self,
        agents: Any,
        *,
        gates: Gates,
        workflow: Any,
        wake: Callable[[], None] = lambda: None,
        wake_in: Callable[[float], None] = lambda _: None,
        budget: Any = None,
        on_refused: Callable[[Any, str], None] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(agents, **options)
        self.budget = budget  # a run's budget too (engine.budget), checked as BudgetScheduler
        self.on_refused = on_refused
        self.gates = gates
        self.wake = wake
        self.wake_in = wake_in
        self.n_parked = 0
        gates.attach(self)
        caps = workflow.capabilities
        self._cap_rules = caps
        run_rule = workflow.rate_limit
        self._run_window = (
            gates.window(f"workflow {workflow.name!r}", run_rule) if run_rule else None
        )
        self._cap_windows: dict[str, Window | None] = {}
        # task -> (its key, its windows' entries, (agent, resources) it holds)
        self.holds: dict[Any, tuple[Any, ...]] = {}
        self.starving: dict[Any, int] = {}  # heads waiting for resources -> rounds waited
        self.blocked: dict[str, str] = {}  # route key -> why its head waits (a rate limit)
        self.waited: dict[str, set[str]] = {}  # why tasks had to wait -> which tasks

    # -- rules of a task ------------------------------------------------------------------

    # A pattern task's capability defaults are for its participants' tasks, not for it: its
    # coordinator holding a key (or resources) its participants wait for would never end.

    def _key(self, task: Any) -> tuple[str, int] | None:
        rule = task.concurrency
        if rule is None and task.capability is not None and task.pattern is None:
            rules = self._cap_rules.get(task.capability)
            rule = rules.get("concurrency") if rules else None
        if rule is None:
            return None
        return resolve_key(rule["key"], task), rule["max"]

    def _request(self, task: Any) -> dict[str, float] | None:
        req = task.resources
        if task.pattern is not None:
            return None
        if req is None and task.capability is not None:
            rules = self._cap_rules.get(task.capability)
            req = rules.get("resources") if rules else None
        return req

    def check_fits(self, records: Any) -> Any:
        """The first task whose request no agent of its route could ever hold, or None."""
        for rec in records:
            req = self._request(rec.task)
            if req is None or rec.task.pattern is not None:
                continue
            if not any(
                a.offers is not None
                and all(n <= a.offers.get(name, -1.0) for name, n in req.items())
                for a in rec.route.agents
            ):
                return rec
        return None

    def _cap_window(self, cap: str | None) -> Window | None:
        if cap is None:
            return None
        try:
            return self._cap_windows[cap]
        except KeyError:
            rules = self._cap_rules.get(cap)
            rule = rules.get("rate_limit") if rules else None
            w = self.gates.window(f"capability {cap!r}", rule) if rule else None
            self._cap_windows[cap] = w
            return w

    def _windows(self, task: Any, agent: Any) -> list[Window]:
        out = []
        if agent.rate_limit is not None:
            out.append(self.gates.window(f"agent {agent.name!r}", agent.rate_limit))
        w = None if task.pattern is not None else self._cap_window(task.capability)
        if w is not None:
            out.append(w)
        if self._run_window is not None:
            out.append(self._run_window)
        return out

    # -- assignment -----------------------------------------------------------------------

    def handoff(self, agent: Any) -> Any | None:
        return None  # every task goes through assign, which checks the gates

    def waiting(self) -> int:
        return super().waiting() + self.n_parked

    def assign(self, out: Any) -> int:
        ready = self._ready
        limit = self.limit
        gates = self.gates
        now = gates.clock()
        n = 0
        self.blocked.clear()
        soonest: float | None = None
        self._counted: set[Any] = set()  # heads that waited for resources in this round
        while ready:
            if limit is not None and self.running >= limit:
                break
            best = best_rank = best_agent = best_windows = None
            for route in list(ready):
                found = self._candidate(route, now)
                if found is None:
                    continue
                if type(found) is float:
                    soonest = found if soonest is None else min(soonest, found)
                    continue
                head, agent, windows = found  # type: ignore[misc]
                rank = (route.keys[0], head.seq)
                if best_rank is None or rank < best_rank:
                    best, best_rank, best_agent, best_windows = route, rank, agent, windows
            if best is None:
                break
            rec = best.pop()
            if not best.size:
                del ready[best]
            if self.budget is not None and not self._budget_allows(rec, best_agent):
                continue
            key = self._key(rec.task)
            if key is not None:
                gates.keys[key[0]] = gates.keys.get(key[0], 0) + 1
            held = []
            for w in best_windows:  # type: ignore[union-attr]
                held.append((w, w.take(now, self._estimate(w, rec, best_agent))))
            req = self._request(rec.task)
            if req is not None:
                gates.take(best_agent, req, rec)
                self.starving.pop(rec, None)
            if key is not None or held or req is not None:
                self.holds[rec] = (
                    key[0] if key else None,
                    held,
                    (best_agent.name, req) if req is not None else None,  # type: ignore[union-attr]
                )
            self._take(best_agent)  # type: ignore[arg-type]
            out.append((rec, best_agent))
            n += 1
        if soonest is not None:
            self.wake_in(soonest)
        return n

    def _candidate(self, route: Any, now: float) -> Any:
        """The route's head and its agent if it may start now; parks heads whose key is full.
        None when nothing can start (no capacity), a float when a rate limit frees then."""
        gates = self.gates
        while route.size:
            head = route.head()
            key = self._key(head.task)
            if key is not None and gates.full(key[0], key[1]):
                route.pop()
                self._note(f"concurrency key {key[0]!r}", head)
                gates.parked.setdefault(key[0], deque()).append((self, head))
                self.n_parked += 1
                continue
            agents = route.agents
            wait: float | None = None
            req = self._request(head.task)
            if req is not None or (
                len(agents) > 1 and any(a.rate_limit is not None for a in agents)
            ):
                agent, wait = self._pick_limited(route, head, now, req)
            else:
                agent = self._pick(route, head)
            if agent is None:
                if wait is not None:
                    why = self.blocked[route.key] = self._why_limited(route.agents[0], head.task)
                    self._note(why, head)
                elif req is not None and self._short_of(route, head, req):
                    why = self.blocked[route.key] = "resources: " + ", ".join(
                        f"{name} {n:g}" for name, n in req.items()
                    )
                    self._note(why, head)
                return wait
            windows = self._windows(head.task, agent)
            for w in windows:
                left = w.wait(now, self._estimate(w, head, agent))
                if left:
                    why = self.blocked[route.key] = f"rate limit of {w.name}"
                    self._note(why, head)
                    return left
            return head, agent, windows
        del self._ready[route]
        return None

    def _note(self, why: str, rec: Any) -> None:
        seen = self.waited.get(why)
        if seen is None:
            seen = self.waited[why] = set()
        seen.add(rec.id)

    def _short_of(self, route: Any, head: Any, req: dict[str, float]) -> bool:
        """Whether ``head`` waits for resources (not only capacity); counts its rounds and
        reserves an agent for it once it has waited ``RESERVE_AFTER`` of them."""
        gates = self.gates
        if not any(a.load < a.capacity and not gates.fits(a, req, head) for a in route.agents):
            return False
        if head not in self._counted:
            self._counted.add(head)
            n = self.starving[head] = self.starving.get(head, 0) + 1
            if n >= RESERVE_AFTER:
                able = [
                    a
                    for a in route.agents
                    if a.offers is not None
                    and a.name not in gates.reserved
                    and all(v <= a.offers.get(k, -1.0) for k, v in req.items())
                ]
                if able and head not in gates.reserved.values():
                    big = max(able, key=lambda a: sum(a.offers.get(k, 0.0) for k in req))
                    gates.reserved[big.name] = head
        return True

    def _pick_limited(
        self, route: Any, rec: Any, now: float, req: dict[str, float] | None = None
    ) -> tuple[Any, float | None]:
        """`_pick` among agents whose own rate limit lets the task start now, and that have
        its resources free."""
        agents = route.agents
        free, wait = [], None
        fits = self.gates.fits
        for a in agents:
            if req is not None and not fits(a, req, rec):
                continue
            if a.rate_limit is not None:
                w = self.gates.window(f"agent {a.name!r}", a.rate_limit)
                left = w.wait(now, self._estimate(w, rec, a))
                if left:
                    wait = left if wait is None else min(wait, left)
                    continue
            free.append(a)
        if not free:
            return None, wait
        route.agents = free
        try:
            return self._pick(route, rec), None
        finally:
            route.agents = agents

    def _budget_allows(self, rec: Any, agent: Any) -> bool:
        estimate = getattr(agent, "estimate_usage", None)
        if estimate is None:
            return True
        budget = self.budget
        cost, tokens = estimate(rec.task)
        if not budget.fits(cost, tokens):
            budget.prune()
        if not budget.fits(cost, tokens):
            self.on_refused(rec, budget.why(rec.id, cost, tokens))  # type: ignore[misc]
            return False
        budget.hold(rec, cost, tokens)
        return True

    def _why_limited(self, agent: Any, task: Any) -> str:
        return f"rate limit of agent {agent.name!r}"

    def _estimate(self, w: Window, rec: Any, agent: Any) -> float:
        if w.tokens is None:
            return 0.0
        estimate = getattr(agent, "estimate_usage", None)
        if estimate is not None:
            return float(estimate(rec.task)[1])
        return w.estimate()

    # -- outcomes -------------------------------------------------------------------------

    def release(self, agent: Any, ok: bool | None, rec: Any = None) -> float | None:
        cooldown = super().release(agent, ok, rec)
        held = self.holds.pop(rec, None)
        if held is not None:
            if held[2] is not None:
                self.gates.give_back(*held[2])  # the engine assigns again after a release
            if held[0] is not None:
                self.gates.free(held[0])
        return cooldown

    def report(self, rec: Any, tokens: float) -> None:
        """A running task reported ``tokens`` used (``ctx.record_usage``)."""
        held = self.holds.get(rec)
        now = self.gates.clock()
        if held is None:
            return
        for i, (w, entry) in enumerate(held[1]):
            w.report(now, entry, tokens)
            held[1][i] = (w, None)  # the estimate is replaced once; later reports add

    def waits(self) -> dict[str, int]:
        """Why ready tasks wait: reason -> how many (for status, the report, the display)."""
        out: dict[str, int] = {}
        for route in self._ready:
            why = self.blocked.get(route.key, "capacity: every capable agent is busy")
            out[why] = out.get(why, 0) + route.size
        for key, line in self.gates.parked.items():
            mine = sum(1 for s, r in line if s is self and r.status is READY)
            if mine:
                reason = f"concurrency key {key!r}"
                out[reason] = out.get(reason, 0) + mine
        return out
