"""What a handler gets: the task's input, its dependencies' results and where it stands."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import PodiumError, TaskFailed, ValidationError
from ..result import TaskStatus
from ..spec.aggregate import aggregate as _aggregate
from ..spec.workflow import Task

if TYPE_CHECKING:
    from ..bus import Bus, Message, Subscription
    from ..result import TaskResult
    from .run import Run

__all__ = ["Context"]

_STREAM_TAIL = 240  # characters of a streamed answer kept per task, for the live display


class Context:
    """The argument of every handler.

    >>> async def summarise(ctx):
    ...     texts = [r["text"] for r in ctx.deps.values()]
    ...     return {"summary": " ".join(texts)[: ctx.input.get("limit", 200)]}
    """

    __slots__ = ("_lent", "_n", "_rec", "_run", "agent", "attempt")

    def __init__(self, run: Run, rec: TaskResult, agent: str, attempt: int) -> None:
        self._run = run
        self._rec = rec
        self.agent = agent  # the name of the agent running this attempt
        self.attempt = attempt  # 1 for the first try, 2 for the first retry, ...
        self._n = 0  # subtasks delegated by this attempt, for their ids
        self._lent = 0  # delegate calls waiting now; the agent slot is lent while any waits

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
        refs = getattr(self._run, "ray_refs", None)
        if refs:  # results a Ray agent left in the object store: fetched for this agent
            from ..agents.kinds.ray import fetch

            return {
                d: fetch(refs, d) if d in refs else tasks[d].result
                for d in self._rec.task.depends_on
            }
        return {d: tasks[d].result for d in self._rec.task.depends_on}

    @property
    def idempotency_key(self) -> str:
        """Stable across every attempt of this task in this run (also after a resume): use it
        to make side effects happen once."""
        return f"{self._run.run_id}:{self._rec.id}"

    @property
    def task(self) -> Task:
        """The task being run (its capability, input, options...)."""
        return self._rec.task

    @property
    def run(self) -> Run:
        """The live run (for coordinators and tools; handlers rarely need it)."""
        return self._run

    @property
    def options(self) -> dict[str, Any]:
        """Extra fields of the task (pattern settings and the like)."""
        return self._rec.task.options or {}

    def stream(self, text: str) -> None:
        """Show ``text``, the next piece of an answer that arrives bit by bit (an LLM's
        tokens), live under `podium run`'s progress bar while this task runs.

        >>> async for token in model.astream(prompt):
        ...     ctx.stream(token)

        Only a bounded tail is kept; outside a terminal nothing is shown.
        """
        run = self._run
        streams = getattr(run, "streams", None)
        if streams is None:  # the first streamed piece of the run: nothing costs before it
            streams = run.streams = {}  # type: ignore[attr-defined]
        tail = streams.get(self._rec.id, "") + text
        streams[self._rec.id] = tail[-_STREAM_TAIL:]

    def log(self, message: str, **fields: Any) -> None:
        """Write one line to this task's log (shown by `podium logs`, kept in the run's store
        and report), with optional structured ``fields`` (appended as JSON).

        >>> ctx.log("fetched page", url=url, bytes=len(body))
        """
        from .logs import emit

        text = str(message)
        if fields:
            import json

            text += " " + json.dumps(fields, default=str, ensure_ascii=False)
        emit(self, "ctx", text)

    # -- messaging -----------------------------------------------------------------------

    @property
    def bus(self) -> Bus:
        """The message bus of the run's agents (the orchestrator's; in-memory by default).

        >>> await ctx.bus.send("writer", {"draft": 1}, sender=ctx.agent)
        """
        bus = getattr(self._run, "bus", None)
        if bus is None:  # a run made without an orchestrator: a bus of its own
            from ..bus import MemoryBus

            bus = self._run.bus = MemoryBus()  # type: ignore[attr-defined]
        return bus

    async def publish(self, topic: str, payload: Any) -> Message:
        """Publish ``payload`` on ``topic``, sent by this task's agent.

        >>> await ctx.publish("findings", {"seed": 3, "score": 0.9})
        """
        return await self.bus.publish(topic, payload, sender=self.agent)

    async def subscribe(self, topic: str, *, maxsize: int | None = None) -> Subscription:
        """Receive what is published on ``topic`` (``*`` is a wildcard) from now on.

        >>> async with await ctx.subscribe("findings") as sub:
        ...     msg = await sub.get(timeout=1)
        """
        return await self.bus.subscribe(topic, maxsize=maxsize)

    # -- model usage ---------------------------------------------------------------------

    def record_usage(
        self,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost: float = 0.0,
        latency: float = 0.0,
        model: str | None = None,
        calls: int = 1,
    ) -> dict[str, Any]:
        """Report a model call this task made: tokens, cost and seconds it took. It is added
        to the task (``TaskResult.usage``), its agent and the run (``stats["usage"]``),
        recorded in the run's store, and charged to the run's budget.

        >>> ctx.record_usage(prompt_tokens=812, completion_tokens=95, cost=0.00018,
        ...                  latency=1.4, model="gpt-4o-mini")

        LLM agents (``kind: llm``) report their calls themselves.
        """
        from .usage import record_usage

        return record_usage(
            self._run,
            self._rec,
            self.agent,
            self.attempt,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
            latency=latency,
            model=model,
            calls=calls,
        )

    # -- delegation ----------------------------------------------------------------------

    async def delegate(
        self,
        capability: str | None = None,
        input: Any = None,
        *,
        agent: str | None = None,
        id: str | None = None,
        **fields: Any,
    ) -> Any:
        """Run a subtask on the best agent for ``capability`` (or on ``agent``) and return
        its result. The subtask is a real task of this run: scheduled, retried, recorded.

        >>> summary = await ctx.delegate("summarise", {"text": text}, timeout=30)

        Raises `TaskFailed` when the subtask fails.
        """
        sub = {"capability": capability, "agent": agent, "input": input, "id": id, **fields}
        (result,) = await self.delegate_many([sub])
        return result

    async def delegate_many(
        self,
        subtasks: Iterable[Mapping[str, Any] | Task],
        *,
        aggregate: str | Callable[[list[Any]], Any] | None = None,
        return_exceptions: bool = False,
    ) -> Any:
        """Run several subtasks at once and combine their results: the list as given
        (default), ``"concat"``, ``"vote"``, ``"merge"`` or a function of the list.
        With ``return_exceptions=True`` a subtask that failed (or could not be delegated at
        all) gives a `TaskFailed` in its place in the list instead of raising, and
        ``aggregate`` is not used.

        >>> found = await ctx.delegate_many(
        ...     [{"capability": "search", "input": {"q": q}} for q in queries],
        ...     aggregate="concat")

        While it waits, this task lends its agent slot to the subtasks, so a full agent cannot
        starve its own subtasks. Raises `TaskFailed` naming every subtask that failed.
        """
        parent = self._rec
        tasks = [self._subtask(s) for s in subtasks]
        if return_exceptions:
            return await self._settle_each(tasks)
        if not tasks:
            return _aggregate([], aggregate)
        recs = await self._settle(tasks)
        failed = [r for r in recs if r.status is not TaskStatus.COMPLETED]
        if failed:
            detail = "; ".join(f"{r.id!r}: {r.error}" for r in failed)
            raise TaskFailed(
                f"task {parent.id!r}: {len(failed)} of {len(recs)} delegated subtasks failed: "
                f"{detail}",
                task=parent.id,
            )
        return _aggregate([r.result for r in recs], aggregate)

    async def _settle_each(self, tasks: list[Task]) -> list[Any]:
        """Each subtask's result, or a `TaskFailed` saying why it has none."""
        out: list[Any] = [None] * len(tasks)
        runnable: list[tuple[int, Task]] = []
        for i, t in enumerate(tasks):
            try:  # a subtask no agent can take fails alone, not with its siblings
                self._run.check_delegable(t)
            except PodiumError as exc:
                out[i] = TaskFailed(exc.message, task=t.id)
            else:
                runnable.append((i, t))
        if runnable:
            recs = await self._settle([t for _, t in runnable])
            for (i, _), r in zip(runnable, recs, strict=True):
                if r.status is TaskStatus.COMPLETED:
                    out[i] = r.result
                else:
                    out[i] = TaskFailed(f"subtask {r.id!r} {r.status}: {r.error}", task=r.id)
        return out

    async def _settle(self, tasks: list[Task]) -> list[TaskResult]:
        """Add ``tasks`` to the run and wait until each reaches a final state; returns their
        records, failed ones included. Cancelling the wait abandons the subtasks."""
        run, parent = self._run, self._rec
        futures = []
        try:
            for t in tasks:
                futures.append(run.add_task(t, parent=parent))
        except Exception:  # e.g. no agent for one of them: none of them should run
            for t in tasks[: len(futures)]:
                run.abandon(run.records[t.id], "a sibling of it could not be delegated")
            raise
        # Lend this task's agent slot while any delegate call waits (once, however many
        # calls run concurrently, so the run's max_concurrency accounting stays right).
        agent = run.agents.get(self.agent)
        if agent is None:  # a pattern's coordinator is not a registered agent
            agent = next((a for a in self._rec.route.agents if a.name == self.agent), None)
        if agent is not None:
            if not self._lent:
                run.lend(agent)
            self._lent += 1
        try:
            if len(futures) == 1:  # one subtask: no gather machinery (pipelines do this a lot)
                return [await futures[0]]
            return await asyncio.gather(*futures)
        except asyncio.CancelledError:
            for t in tasks:
                rec = run.records.get(t.id)
                if rec is not None:
                    run.abandon(rec, f"its parent {parent.id!r} stopped")
            raise
        finally:
            if agent is not None:
                self._lent -= 1
                if not self._lent:
                    run.reclaim(agent)

    def _subtask(self, spec: Mapping[str, Any] | Task) -> Task:
        if isinstance(spec, Task):
            return spec
        fields = {k: v for k, v in spec.items() if v is not None}
        self._n += 1
        tid = fields.pop("id", None) or f"{self._rec.id}/{self._n}"
        fields.setdefault("priority", self._rec.task.priority)
        if "capability" not in fields and "agent" not in fields:
            raise ValidationError(
                f"task {self._rec.id!r}: a delegated subtask needs a capability or an agent.",
                task=self._rec.id,
                field="capability",
            )
        return Task(tid, **fields)

    def __repr__(self) -> str:
        return f"<Context run={self.run_id} task={self.task_id!r} attempt={self.attempt}>"
