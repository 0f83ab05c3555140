"""Model usage that handlers report: tokens, cost and seconds in calls.

An LLM agent (or any handler that calls a model itself) reports each call with
`Context.record_usage`. The report is added up three ways at once, so nothing has to be summed
later: on the task's record (``TaskResult.usage``, across its attempts), per agent and per run
(the run's `Ledger`, shown in ``stats``). It is also sent to the run's store as an event
``usage`` naming the task, so ``podium status``, ``--json`` and the report show the same
figures for a recorded run, and it is charged to the run's budget when there is one.

Nothing here runs for tasks that report nothing: the ledger is made on the first report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..result import add_usage, rounded_usage

if TYPE_CHECKING:
    from ..result import TaskResult
    from .run import Run

__all__ = ["Ledger", "record_usage"]


class Ledger:
    """A run's model usage: in total, per agent and per model."""

    __slots__ = ("agents", "models", "total")

    def __init__(self) -> None:
        self.total: dict[str, Any] = add_usage(None, {})
        self.agents: dict[str, dict[str, Any]] = {}
        self.models: dict[str, dict[str, Any]] = {}

    def add(self, rec: TaskResult, agent: str, usage: dict[str, Any], model: str | None) -> None:
        rec.usage = add_usage(rec.usage, usage)
        add_usage(self.total, usage)
        self.agents[agent] = add_usage(self.agents.get(agent), usage)
        if model:
            self.models[model] = add_usage(self.models.get(model), usage)

    def summary(self) -> dict[str, Any]:
        """The run's usage as in ``stats["usage"]``: totals plus ``by_model``."""
        out = rounded_usage(self.total)
        out["by_model"] = {m: rounded_usage(u) for m, u in sorted(self.models.items())}
        return out


def record_usage(
    run: Run,
    rec: TaskResult,
    agent: str,
    attempt: int,
    *,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost: float = 0.0,
    latency: float = 0.0,
    model: str | None = None,
    calls: int = 1,
) -> dict[str, Any]:
    """Add one report to the task, the agent, the run and the budget, and record it."""
    usage = {
        "calls": calls,
        "prompt_tokens": int(prompt_tokens or 0),
        "completion_tokens": int(completion_tokens or 0),
        "cost": float(cost or 0.0),
        "latency": float(latency or 0.0),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    ledger = run.usage
    if ledger is None:
        ledger = run.usage = Ledger()
    ledger.add(rec, agent, usage, model)
    budget = run.budget
    if budget is not None:
        budget.spend(rec, usage["cost"], usage["total_tokens"])
    if run.gates is not None:  # rate limits count tokens: replace the estimate
        run._sched.report(rec, usage["total_tokens"])  # type: ignore[attr-defined]
    run.event(
        "usage",
        task=rec.id,
        attempt=attempt,
        agent=agent,
        model=model,
        **{k: usage[k] for k in ("calls", "prompt_tokens", "completion_tokens", "total_tokens")},
        cost=round(usage["cost"], 10),
        latency=round(usage["latency"], 6),
    )
    return usage


def usage_stats(run: Run, stats: dict[str, Any]) -> None:
    """Add the run's usage and budget to its ``stats`` (only when there are any)."""
    ledger = run.usage
    if ledger is not None:
        stats["usage"] = ledger.summary()
        agents = stats.get("agents") or {}
        for name, u in ledger.agents.items():
            if name in agents:  # an agent that keeps its own count (kind: langchain) keeps it
                agents[name].setdefault("usage", rounded_usage(u))
    if run.budget is not None:
        stats["budget"] = run.budget.to_dict()
    if run.stopped_by is not None:
        stats["stopped_by"] = run.stopped_by
