"""Pipeline: items stream through stages, each moving on as soon as its stage is done.

    - id: thumbnails
      pattern: pipeline
      pipeline:
        items: [a.png, b.png, c.png]        # or items_from: fetch.files (a dependency's result)
        queue_size: 16                      # items waiting between two stages (backpressure)
        on_error: fail                      # or skip
        stages:
          - {capability: decode, concurrency: 4}
          - {capability: resize, concurrency: 2, retry: {max_attempts: 3}}
          - {capability: upload}

Each stage has ``concurrency`` workers. A worker takes the next item from its stage's queue,
runs that step as a subtask ``<task>/<stage name>/<item index>`` (input: the item for the first
stage, the previous stage's result after that) and puts the result on the next stage's queue.
Queues hold at most ``queue_size`` items: a fast stage waits for a slow one instead of piling
up work, and stages overlap, so the pipeline takes about as long as its slowest stage.

The result is the last stage's results in item order. A failed step fails the pipeline
(``on_error: fail``: the other steps in flight are cancelled) or leaves null in that item's
place (``on_error: skip``: the failed step stays in the run's tasks with its error).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..errors import CapabilityError, TaskFailed
from ..spec.workflow import Retry, Task
from . import register_pattern
from ._common import COMPLETED, MISSING, dig, settings

if TYPE_CHECKING:
    from ..engine.context import Context

_DONE: Any = None  # end-of-stream marker on a queue (items travel as (index, value) tuples)


def _items(ctx: Context, s: Any) -> list[Any]:
    if s.items is not None:
        return s.items
    dep, _, path = s.items_from.partition(".")
    value = dig(ctx.deps[dep], path or None)
    if not isinstance(value, list):
        got = "nothing there" if value is MISSING else type(value).__name__
        raise TaskFailed(
            f"task {ctx.task_id!r}: pipeline.items_from {s.items_from!r} must be a list, "
            f"found {got}.",
            task=ctx.task_id,
            field="pipeline.items_from",
        )
    return value


@register_pattern("pipeline")
async def coordinate(ctx: Context) -> list[Any]:
    s = settings(ctx)
    t = ctx.task
    run = ctx.run
    items = _items(ctx, s)
    stages = s.stages
    for j, st in enumerate(stages):
        if not run.scheduler.route_for(
            Task("probe", capability=st.capability, agent=st.agent)
        ).agents:
            what = (
                f"agent {st.agent!r} is not registered"
                if st.agent
                else (f"no agent has capability {st.capability!r}")
            )
            src = run.workflow.source
            raise CapabilityError(
                f"{src + ': ' if src else ''}task {t.id!r}: pipeline stage {j + 1} "
                f"({st.label!r}): {what}. Add an agent for it or fix the name.",
                file=src,
                task=t.id,
                field=f"pipeline.stages.{j}",
            )
    results: list[Any] = [None] * len(items)
    if not items:
        return results
    retries = [Retry(**st.retry.model_dump()) if st.retry else None for st in stages]
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(s.queue_size) for _ in stages]
    left = [st.concurrency for st in stages]  # workers of each stage still running

    async def feed() -> None:
        q = queues[0]
        for i, item in enumerate(items):
            await q.put((i, item))
        for _ in range(stages[0].concurrency):
            await q.put(_DONE)

    async def work(j: int) -> None:
        st = stages[j]
        q = queues[j]
        nxt = queues[j + 1] if j + 1 < len(stages) else None
        prefix = f"{t.id}/{st.label}/"
        while True:
            job = await q.get()
            if job is _DONE:
                left[j] -= 1
                if not left[j] and nxt is not None:  # this stage is done: so is its stream
                    for _ in range(stages[j + 1].concurrency):
                        await nxt.put(_DONE)
                return
            i, value = job
            sub = Task(
                prefix + str(i),
                capability=st.capability,
                agent=st.agent,
                input=value,
                depends_on=t.depends_on,
                priority=t.priority,
                timeout=st.timeout,
                retry=retries[j],
            )
            (rec,) = await ctx._settle([sub])
            if rec.status is COMPLETED:
                if nxt is None:
                    results[i] = rec.result
                else:
                    await nxt.put((i, rec.result))
            elif s.on_error == "fail":
                raise TaskFailed(
                    f"task {t.id!r}: item {i} failed at stage {j + 1} ({st.label!r}, subtask "
                    f"{rec.id!r}): {rec.error}. Set pipeline.on_error: skip to go on without it.",
                    task=t.id,
                )

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(feed())
            for j, st in enumerate(stages):
                for _ in range(st.concurrency):
                    tg.create_task(work(j))
    except ExceptionGroup as eg:  # the first failure, not a group of one
        raise eg.exceptions[0] from None
    return results
