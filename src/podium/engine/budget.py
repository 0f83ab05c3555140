"""A run's budget (``max_cost``, ``max_tokens``) as a resource the scheduler hands out.

Before a *metered* task starts (one whose agent can estimate its usage: an LLM agent, or any
agent with an ``estimate_usage(task) -> (cost, tokens)`` method), the scheduler asks the
budget whether the estimate fits beside what was spent and what running tasks hold. If it
fits, the task holds its estimate while it runs: each usage report moves that much of the hold
into the spent column, and a hold left over when the attempt ends is dropped (lazily: only
when it would make the difference between starting a task and refusing it). If it does not
fit, the task is refused: the engine skips it, and its dependents, with the reason, and the run
ends as ``budget_exceeded`` unless everything it needed completed anyway. Tasks of agents that
estimate nothing (plain Python handlers) never wait for the budget.

Everything about budgets lives in this module. `BudgetScheduler` is the plain scheduler with
one gate in its assignment loop; the plain `Scheduler` (and so every run without a budget) is
untouched by it. The gate is O(1) per task (plus O(routes) to pick the best head, as in the
plain multi-route loop). A later, general model of scheduler resources (rate limits, resource
requests) can absorb this gate: a budget is a resource that is consumed, not given back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .scheduler import Scheduler
from .status import READY, RUNNING

__all__ = ["Budget", "BudgetScheduler"]


class Budget:
    """What a run may spend on model calls, and what it has spent and holds so far.

    >>> b = Budget(max_cost=0.50, max_tokens=200_000)

    (A run makes its own from its workflow's ``budget``; see `podium.Workflow`.)
    """

    __slots__ = ("cost", "held_cost", "held_tokens", "holds", "max_cost", "max_tokens", "tokens")

    def __init__(self, max_cost: float | None = None, max_tokens: int | None = None) -> None:
        self.max_cost = max_cost
        self.max_tokens = max_tokens
        self.cost = 0.0  # spent
        self.tokens = 0
        self.held_cost = 0.0  # estimates of running tasks not spent yet
        self.held_tokens = 0.0
        self.holds: dict[Any, list[Any]] = {}  # task record -> [cost, tokens, attempt]

    def fits(self, cost: float, tokens: float) -> bool:
        if self.max_cost is not None and self.cost + self.held_cost + cost > self.max_cost:
            return False
        return not (
            self.max_tokens is not None
            and self.tokens + self.held_tokens + tokens > self.max_tokens
        )

    def hold(self, rec: Any, cost: float, tokens: float) -> None:
        self.drop(rec)
        self.holds[rec] = [cost, tokens, rec.attempts]
        self.held_cost += cost
        self.held_tokens += tokens

    def drop(self, rec: Any) -> None:
        held = self.holds.pop(rec, None)
        if held is not None:
            self.held_cost -= held[0]
            self.held_tokens -= held[1]

    def spend(self, rec: Any, cost: float, tokens: int) -> None:
        """Charge a usage report; the task's hold shrinks by as much."""
        self.cost += cost
        self.tokens += tokens
        held = self.holds.get(rec)
        if held is not None:
            c, t = min(held[0], cost), min(held[1], tokens)
            held[0] -= c
            held[1] -= t
            self.held_cost -= c
            self.held_tokens -= t

    def prune(self) -> None:
        """Drop the holds of attempts that ended (their tasks are no longer running)."""
        for rec, held in list(self.holds.items()):
            if not (rec.status is RUNNING or rec.status is READY) or rec.attempts > held[2] + 1:
                self.drop(rec)

    @property
    def spent_out(self) -> bool:
        """Nothing is left: a running task should not make another call."""
        return (self.max_cost is not None and self.cost >= self.max_cost) or (
            self.max_tokens is not None and self.tokens >= self.max_tokens
        )

    def why(self, task: str, cost: float, tokens: float) -> str:
        """Why task ``task`` (estimated at ``cost`` and ``tokens``) cannot start."""
        if self.max_cost is not None and self.cost + self.held_cost + cost > self.max_cost:
            return (
                f"budget: max_cost {self.max_cost:g} would be exceeded by task {task!r} "
                f"(spent {self.cost:.6g}, held by running tasks {self.held_cost:.6g}, "
                f"this task needs about {cost:.6g})"
            )
        return (
            f"budget: max_tokens {self.max_tokens} would be exceeded by task {task!r} "
            f"(spent {self.tokens}, held by running tasks {self.held_tokens:.0f}, this task "
            f"needs about {tokens:.0f})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_cost": self.max_cost,
            "max_tokens": self.max_tokens,
            "spent_cost": round(self.cost, 8),
            "spent_tokens": self.tokens,
        }

    def __repr__(self) -> str:
        return (
            f"<Budget cost {self.cost:.6g}/{self.max_cost} tokens {self.tokens}/{self.max_tokens}>"
        )


class BudgetScheduler(Scheduler):
    """The scheduler of a run with a budget: a metered task starts only if its estimated
    usage fits; otherwise ``on_refused(rec, why)`` hears of it (the engine skips the task)."""

    def __init__(
        self,
        agents: Any,
        *,
        budget: Budget,
        on_refused: Callable[[Any, str], None],
        **options: Any,
    ) -> None:
        super().__init__(agents, **options)
        self.budget = budget
        self.on_refused = on_refused

    def handoff(self, agent: Any) -> Any | None:
        return None  # every metered task goes through assign, which checks the budget

    def assign(self, out: Any) -> int:
        # The plain scheduler's multi-route loop with the budget's gate after the pick; the
        # single-route fast path is not worth keeping here (budgeted runs wait on models).
        ready = self._ready
        limit = self.limit
        budget = self.budget
        n = 0
        while ready:
            if limit is not None and self.running >= limit:
                break
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
            estimate = getattr(best_agent, "estimate_usage", None)
            if estimate is not None:
                cost, tokens = estimate(rec.task)
                if not budget.fits(cost, tokens):
                    budget.prune()
                if not budget.fits(cost, tokens):
                    self.on_refused(rec, budget.why(rec.id, cost, tokens))
                    continue
                budget.hold(rec, cost, tokens)
            self._take(best_agent)  # type: ignore[arg-type]
            out.append((rec, best_agent))
            n += 1
        return n
