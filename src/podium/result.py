"""What a run leaves behind: each task's outcome and the run's status and statistics."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .spec.workflow import Task

__all__ = ["RunResult", "RunStatus", "TaskResult", "TaskStatus", "add_usage"]


class TaskStatus(StrEnum):
    """Where a task stands. ``completed``, ``failed``, ``skipped`` and ``cancelled`` are final."""

    PENDING = "pending"  # waiting for dependencies
    READY = "ready"  # dependencies done, waiting for an agent
    RUNNING = "running"
    RETRYING = "retrying"  # failed, waiting out the backoff before the next attempt
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"  # never ran: a dependency failed, or the run stopped first
    CANCELLED = "cancelled"  # was running when the run stopped


_PENDING = TaskStatus.PENDING
FINAL = frozenset(
    (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.CANCELLED)
)


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIAL = "partial"  # on_failure: continue, some tasks failed or were skipped
    CANCELLED = "cancelled"
    BUDGET_EXCEEDED = "budget_exceeded"  # the run's max_cost or max_tokens stopped tasks


USAGE_FIELDS = ("calls", "prompt_tokens", "completion_tokens", "total_tokens", "cost", "latency")


def add_usage(into: dict[str, Any] | None, usage: dict[str, Any]) -> dict[str, Any]:
    """Add one report of model usage (tokens, cost, seconds in calls) to a running total.

    Tokens and calls are whole numbers; cost is in the price table's currency (dollars by
    default) and latency in seconds. Returns the total (a new one when ``into`` is None).
    """
    if into is None:
        into = dict.fromkeys(USAGE_FIELDS, 0)
        into["cost"] = into["latency"] = 0.0
    for key in USAGE_FIELDS:
        value = usage.get(key)
        if value:
            into[key] = into.get(key, 0) + value
    if "total_tokens" not in usage:
        into["total_tokens"] = into["prompt_tokens"] + into["completion_tokens"]
    return into


def rounded_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """``usage`` with cost and latency rounded for display and JSON documents."""
    out = dict(usage)
    out["cost"] = round(out.get("cost") or 0.0, 8)
    out["latency"] = round(out.get("latency") or 0.0, 6)
    return out


def iso(ts: float | None) -> str | None:
    """A Unix timestamp as ISO 8601 UTC, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def task_dict(t: Any) -> dict[str, Any]:
    """A task's outcome as in ``podium run --json``: ``t`` is a live `TaskResult` or a task
    state rebuilt from a store (`podium.stores.TaskState`), which share these fields.
    ``usage`` (tokens, cost, latency of model calls) appears only for tasks that reported some.
    """
    d = {
        "status": str(t.status),
        "result": t.result,
        "agent": t.agent,
        "attempts": t.attempts,
        "error": t.error,
        "started_at": iso(t.started_at),
        "finished_at": iso(t.finished_at),
    }
    usage = getattr(t, "usage", None)
    if usage:
        d["usage"] = rounded_usage(usage)
    tb = getattr(t, "traceback", None)
    if tb:
        d["traceback"] = tb
    logs = getattr(t, "logs", None)
    if logs:
        d["logs"] = [
            {"at": iso(at), "attempt": attempt, "stream": stream, "text": text}
            for at, attempt, stream, text in logs
        ]
    return d


class TaskResult:
    """One task of one run: its status, result, agent, attempts, error and timings.

    The engine updates it in place while the run goes on, so it is also the live status.
    """

    __slots__ = (
        "_logs",
        "_logs_dropped",
        "_traceback",
        "_usage",
        "agent",
        "attempts",
        "cancel_reason",
        "dependents",
        "error",
        "finished_at",
        "id",
        "rank",
        "result",
        "route",
        "seq",
        "started_at",
        "status",
        "task",
        "timer",
        "tried",
        "waiting",
        "worker",
    )

    def __init__(self, task: Task) -> None:
        self.task = task
        self.id = task.id
        self.status = _PENDING
        self.result: Any = None
        self.error: str | None = None
        self.agent: str | None = None
        self.attempts = 0
        self.started_at: float | None = None  # Unix time of the last attempt's start
        self.finished_at: float | None = None
        # engine bookkeeping
        self.waiting = len(task.depends_on)  # dependencies not yet completed
        self.dependents: list[TaskResult] = []
        self.rank = 0.0
        self.seq = 0  # arrival order among ready tasks (FIFO tie-break)
        self.route: Any = None
        self.tried: set[str] | None = None  # agents of earlier attempts, for failover
        self.worker: Any = None  # the asyncio Task running it while it is suspended
        self.cancel_reason: str | None = None
        self.timer: Any = None
        # ``_usage`` is left unset until a handler reports model calls, so tasks that make
        # none pay nothing for it (not even setting it here)

    @property
    def usage(self) -> dict[str, Any] | None:
        """Model calls of this task, over all its attempts: ``calls``, ``prompt_tokens``,
        ``completion_tokens``, ``total_tokens``, ``cost`` and ``latency`` (seconds); None when
        it made none (see `Context.record_usage`)."""
        return getattr(self, "_usage", None)

    @usage.setter
    def usage(self, value: dict[str, Any] | None) -> None:
        self._usage = value

    @property
    def traceback(self) -> str | None:
        """The formatted traceback of the last attempt, when it failed by raising (bounded:
        the head and the last frames of a very long one); None otherwise."""
        kept = getattr(self, "_traceback", None)
        if kept is None or kept[0] != self.attempts or self.error is None:
            return None
        return kept[1]

    @traceback.setter
    def traceback(self, text: str | None) -> None:
        self._traceback = None if text is None else (self.attempts, text)

    @property
    def logs(self) -> list[tuple[float, int, str, str]]:
        """What the task printed, logged or wrote with `Context.log`, over all its attempts:
        ``(at, attempt, stream, text)`` lines, ``stream`` one of ``stdout``, ``stderr``,
        ``log`` and ``ctx`` (at most `podium.engine.logs.MAX_LINES`)."""
        return getattr(self, "_logs", None) or []

    @property
    def duration(self) -> float | None:
        """Seconds the last attempt took, once finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    @property
    def ok(self) -> bool:
        return self.status is TaskStatus.COMPLETED

    def to_dict(self) -> dict[str, Any]:
        return task_dict(self)

    def __repr__(self) -> str:
        return f"<TaskResult {self.id!r} {self.status} agent={self.agent!r}>"


class RunResult:
    """One run of a workflow: ``status``, ``tasks`` (id -> `TaskResult`) and ``stats``."""

    def __init__(
        self,
        run_id: str,
        workflow: str,
        status: RunStatus,
        tasks: dict[str, TaskResult],
        stats: dict[str, Any],
        started_at: float,
        finished_at: float | None,
    ) -> None:
        self.run_id = run_id
        self.workflow = workflow
        self.status = status
        self.tasks = tasks
        self.stats = stats
        self.started_at = started_at
        self.finished_at = finished_at

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.COMPLETED

    @property
    def duration(self) -> float | None:
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def __getitem__(self, task_id: str) -> Any:
        """The result of one task: ``result["fetch"]``."""
        return self.tasks[task_id].result

    def to_dict(self) -> dict[str, Any]:
        """The run as the JSON document of ``podium run --json``."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": str(self.status),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "tasks": {tid: t.to_dict() for tid, t in self.tasks.items()},
            "stats": self.stats,
        }

    def __repr__(self) -> str:
        return f"<RunResult {self.run_id} {self.workflow!r} {self.status} tasks={len(self.tasks)}>"
