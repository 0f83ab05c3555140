"""The pipeline pattern: do its stages overlap, and what does a stage step cost?

python benchmarks/bench_pipeline.py           # 1,000 items through 3 stages (about 5 s)
python benchmarks/bench_pipeline.py 200       # fewer items

Stages sleep 1 ms, 2 ms and 1 ms per item, one item at a time each. Run stage by stage this
takes the sum (about 4 s for 1,000 items); streamed, about the slowest stage (about 2 s). The
stages' busy times come from the run's own records (each step is a subtask with start and end
times). The same pipeline written with raw asyncio (asyncio.Queue between one worker per
stage) runs in the same process for the ratio. A second figure sends no-op items through
three stages to show the engine's cost per step against a raw asyncio queue hop.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import podium
from _baseline import report

DELAYS = {"decode": 0.001, "resize": 0.002, "upload": 0.001}
QUEUE = 16


def orchestrator(delays: dict[str, float]) -> podium.Orchestrator:
    orch = podium.Orchestrator()
    for name, delay in delays.items():

        async def step(ctx: podium.Context, delay: float = delay) -> Any:
            if delay:
                await asyncio.sleep(delay)
            return ctx.input

        orch.register(podium.Agent(name, [name], handler=step))
    return orch


def workflow(delays: dict[str, float], n: int) -> podium.Workflow:
    wf = podium.Workflow("bench-pipeline")
    stages = [{"capability": name, "concurrency": 1} for name in delays]
    options = {"stages": stages, "items": list(range(n)), "queue_size": QUEUE}
    wf.task("pipe", pattern="pipeline", options=options)
    return wf


async def engine_pipeline(delays: dict[str, float], n: int) -> tuple[float, dict[str, float]]:
    """Wall time of the pipeline task, and each stage's busy time from the run's records."""
    orch = orchestrator(delays)
    gc.collect()
    t = time.perf_counter()
    result = await orch.run(workflow(delays, n))
    wall = time.perf_counter() - t
    assert result.status == "completed", result.tasks["pipe"].error
    assert result["pipe"] == list(range(n))
    busy = dict.fromkeys(delays, 0.0)
    for tid, rec in result.tasks.items():
        if tid.count("/") == 2:
            busy[tid.split("/")[1]] += rec.duration or 0.0
    await orch.close()
    return wall, busy


async def raw_pipeline(delays: dict[str, float], n: int) -> float:
    """The same shape in plain asyncio: a bounded queue between one worker per stage."""
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(QUEUE) for _ in delays]
    out: list[Any] = [None] * n

    async def feed() -> None:
        for i in range(n):
            await queues[0].put((i, i))
        await queues[0].put(None)

    async def work(j: int, delay: float) -> None:
        nxt = queues[j + 1] if j + 1 < len(queues) else None
        while (job := await queues[j].get()) is not None:
            if delay:
                await asyncio.sleep(delay)
            if nxt is None:
                out[job[0]] = job[1]
            else:
                await nxt.put(job)
        if nxt is not None:
            await nxt.put(None)

    gc.collect()
    t = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(feed())
        for j, delay in enumerate(delays.values()):
            tg.create_task(work(j, delay))
    return time.perf_counter() - t


async def main(n: int) -> None:
    raw = await raw_pipeline(DELAYS, n)
    wall, busy = await engine_pipeline(DELAYS, n)
    slowest, total = max(busy.values()), sum(busy.values())
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in busy.items())
    print(f"{n:,} items, 3 stages sleeping 1/2/1 ms, concurrency 1 each; busy: {stages}")
    report("pipeline wall time", f"{wall:6.2f} s")
    report("  slowest stage (its busy time)", f"{slowest:6.2f} s", None, "wall close to this")
    report("  sum of the stages (stage by stage)", f"{total:6.2f} s")
    report("  wall / slowest stage", f"{wall / slowest:6.2f}x", None, "about 1x, not 2x")
    report("raw asyncio pipeline, same shape", f"{raw:6.2f} s", wall / raw)

    zero = dict.fromkeys(DELAYS, 0.0)
    m = 5 * n
    await raw_pipeline(zero, 100)  # warm up
    raw0 = await raw_pipeline(zero, m)
    wall0, _ = await engine_pipeline(zero, m)
    steps = 3 * m
    report(
        f"no-op pipeline, {m:,} items x 3 stages",
        f"{wall0 / steps * 1e6:6.2f} us/step (raw {raw0 / steps * 1e6:.2f})",
        wall0 / raw0,
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
