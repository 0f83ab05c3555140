"""What a run tells about itself while it goes and after: counts for progress displays,
statistics, why ready tasks wait, the result. Mixed into `Run`, whose state it reads."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..result import RunResult
from .usage import usage_stats

if TYPE_CHECKING:
    from ..agents.agent import Agent
    from .scheduler import Scheduler

__all__ = ["RunReadout"]


class RunReadout:
    """Read-only views of a run; mixed into `Run`."""

    def counts(self) -> dict[str, int]:
        """Tasks per state, for progress displays."""
        ready = self._sched.waiting() + len(self._queue)
        done = (
            self.n_completed
            + self.n_failed
            + self.n_skipped
            + self.n_cancelled
            + self.n_running
            + self.n_retrying
        )
        return {
            "pending": self.total - done - ready,
            "ready": ready,
            "running": self.n_running,
            "retrying": self.n_retrying,
            "completed": self.n_completed,
            "failed": self.n_failed,
            "skipped": self.n_skipped,
            "cancelled": self.n_cancelled,
        }

    def stats(self) -> dict[str, Any]:
        end = self.finished_at or time.time()
        duration = end - self.started_at
        finished = self.n_completed + self.n_failed
        agents = {a.name: a.stats() for a in self._sched.agents.values()}
        stats = {
            "total": self.total,
            "completed": self.n_completed,
            "failed": self.n_failed,
            "skipped": self.n_skipped,
            "cancelled": self.n_cancelled,
            "in_progress": self.n_running,
            "attempts": self.n_attempts,
            "success_rate": round(self.n_completed / finished, 4) if finished else None,
            "duration": round(duration, 6),
            "tasks_per_second": round(self.n_completed / duration, 1) if duration > 0 else None,
            "agents": agents,
        }
        if self.usage is not None or self.budget is not None:
            usage_stats(self, stats)
        if self.gates is not None:  # why ready tasks wait, and waited (engine.gates)
            waits = self.waiting_for()
            if waits:
                stats["waiting_for"] = waits
            waited = self._sched.waited  # type: ignore[attr-defined]
            if waited:
                stats["waited_for"] = {why: len(ids) for why, ids in waited.items()}
        return stats

    def waiting_for(self) -> dict[str, int]:
        """Why ready tasks wait now (a concurrency key, resources, a rate limit, capacity):
        reason -> tasks; empty for runs without those rules."""
        if self.gates is None:
            return {}
        return self._sched.waits()  # type: ignore[attr-defined]

    def result(self) -> RunResult:
        return RunResult(
            self.run_id,
            self.workflow.name,
            self.status,
            self.records,
            self.stats(),
            self.started_at,
            self.finished_at,
        )

    @property
    def abandoned(self) -> int:
        """Handlers still running that ignored their cancellation past the grace period: their
        tasks have ended, but ``asyncio.run`` would wait for them at its clean-up."""
        return sum(not w.done() for w in self._abandoned)

    @property
    def agents(self) -> dict[str, Agent]:
        return self._sched.agents

    @property
    def scheduler(self) -> Scheduler:
        return self._sched
