"""Batching: 100,000 tasks on one agent, in lists of up to 100 against one call per task.

python benchmarks/bench_batch.py [n]

The handler stands for a model or service call. Each call awaits one I/O round trip
(``asyncio.sleep(0)``) and pays a fixed ``CALL_COST`` of CPU whatever it is given (setting up
a model's forward pass, a request's headers), then does trivial work per item. Unbatched,
every task pays both; batched, 100 tasks share them. A second pair of lines sets the fixed
cost to 0, leaving the round trip alone: what batching saves in podium itself. The
raw-asyncio yardstick is ``asyncio.gather`` of n no-op coroutines, in the same process.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import podium
from _baseline import gather_per_task, report

CALL_COST = 20e-6  # seconds of CPU per call, whatever its size


def _spend(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def handlers(cost: float):
    async def one(ctx):
        await asyncio.sleep(0)  # the call's round trip
        _spend(cost)
        return ctx.input

    async def many(ctxs):
        await asyncio.sleep(0)  # one round trip for the whole list
        _spend(cost)
        return [c.input for c in ctxs]

    return one, many


def workflow(n: int) -> podium.Workflow:
    wf = podium.Workflow("batch")
    for i in range(n):
        wf.task(f"t{i}", capability="embed", input=str(i))
    return wf


async def per_task(n: int, batch: dict | None, cost: float) -> float:
    best = float("inf")
    one, many = handlers(cost)
    for _ in range(3):
        orch = podium.Orchestrator()
        handler = many if batch else one
        orch.register(podium.Agent("embed", ["embed"], 100, handler=handler, batch=batch))
        wf = workflow(n)
        gc.collect()
        t = time.perf_counter()
        result = await orch.run(wf)
        best = min(best, time.perf_counter() - t)
        assert result.status == "completed", result.status
    return best / n


async def main(n: int) -> None:
    raw = await gather_per_task(n)
    for cost in (CALL_COST, 0.0):
        plain = await per_task(n, None, cost)
        batched = await per_task(n, {"max_size": 100, "max_wait": 0.01}, cost)
        what = f"{cost * 1e6:g} us/call"
        report(f"{n:,} tasks, one call each, {what}", f"{plain * 1e6:6.2f} us/task", plain / raw)
        report(
            f"{n:,} tasks, batches of 100, {what}",
            f"{batched * 1e6:6.2f} us/task (raw {raw * 1e6:.2f})",
            batched / raw,
        )
        target = "<= 0.25" if cost else ""
        report(f"  batched / one call each, {what}", f"{batched / plain:.2f}", None, target)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
