"""What a handler gets: the task's input, its dependencies' results and where it stands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._engine import Run
    from .result import TaskResult

__all__ = ["Context"]


class Context:
    """The argument of every handler.

    >>> async def summarise(ctx):
    ...     texts = [r["text"] for r in ctx.deps.values()]
    ...     return {"summary": " ".join(texts)[: ctx.input.get("limit", 200)]}
    """

    __slots__ = ("_rec", "_run", "agent", "attempt")

    def __init__(self, run: Run, rec: TaskResult, agent: str, attempt: int) -> None:
        self._run = run
        self._rec = rec
        self.agent = agent  # the name of the agent running this attempt
        self.attempt = attempt  # 1 for the first try, 2 for the first retry, ...

    @property
    def input(self) -> Any:
        """The task's input, as written in the workflow."""
        return self._rec.task.input

    @property
    def task_id(self) -> str:
        return self._rec.id

    @property
    def run_id(self) -> str:
        return self._run.run_id

    @property
    def deps(self) -> dict[str, Any]:
        """Each dependency's id mapped to its result."""
        tasks = self._run.records
        return {d: tasks[d].result for d in self._rec.task.depends_on}

    @property
    def idempotency_key(self) -> str:
        """Stable across every attempt of this task in this run (also after a resume): use it
        to make side effects happen once."""
        return f"{self._run.run_id}:{self._rec.id}"

    @property
    def options(self) -> dict[str, Any]:
        """Extra fields of the task (pattern settings and the like)."""
        return self._rec.task.options or {}

    def __repr__(self) -> str:
        return f"<Context run={self.run_id} task={self.task_id!r} attempt={self.attempt}>"
