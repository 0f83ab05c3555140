"""Handlers that suspend on I/O, against a hand-written asyncio worker pool (issue 12).

python benchmarks/bench_await.py             # both workloads
python benchmarks/bench_await.py one ten     # one of: one (1 await x 100,000), ten (10 x 20,000)

The baseline is the fastest plain-asyncio shape for this work, measured in the same process:
``capacity`` worker Tasks pulling the same coroutines from one shared iterator. Each handler
awaits ``asyncio.sleep(0)`` (a real suspension: a loop round trip) once or ten times.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import podium
from _baseline import report

CAPACITY = 1_000
ROUNDS = 5  # best of


def handler(awaits: int) -> Callable[[Any], Coroutine[Any, Any, None]]:
    if awaits == 1:

        async def once(ctx: Any) -> None:
            await asyncio.sleep(0)

        return once

    async def many(ctx: Any) -> None:
        for _ in range(awaits):
            await asyncio.sleep(0)

    return many


async def worker_pool(n: int, awaits: int, capacity: int = CAPACITY) -> float:
    """Seconds per task: ``capacity`` worker Tasks draining one iterator of coroutines."""
    fn = handler(awaits)

    async def worker(coros: Iterator[Coroutine[Any, Any, None]]) -> None:
        for coro in coros:
            await coro

    best = float("inf")
    for _ in range(ROUNDS):
        gc.collect()
        t = time.perf_counter()
        coros = (fn(None) for _ in range(n))
        await asyncio.gather(*[worker(coros) for _ in range(capacity)])
        best = min(best, time.perf_counter() - t)
    return best / n


async def engine(n: int, awaits: int, capacity: int = CAPACITY) -> float:
    """Seconds per task for a podium run of ``n`` such tasks on one agent of ``capacity``."""
    orch = podium.Orchestrator()
    orch.register(handler(awaits), name="io", capabilities=["io"], capacity=capacity)
    best = float("inf")
    for _ in range(ROUNDS):
        wf = podium.Workflow("await")
        for i in range(n):
            wf.task(f"t{i}", capability="io")
        gc.collect()
        t = time.perf_counter()
        result = await orch.run(wf)
        best = min(best, time.perf_counter() - t)
        assert result.status == "completed", result.status
    return best / n


async def bench(n: int, awaits: int, target: str) -> None:
    raw = await worker_pool(n, awaits)
    per = await engine(n, awaits)
    report(
        f"{awaits} await{'s' if awaits > 1 else ''} x {n:,} tasks, {CAPACITY:,} at once",
        f"{per * 1e6:6.2f} us/task (worker pool {raw * 1e6:.2f})",
        per / raw,
        target,
    )


async def one() -> None:
    await bench(100_000, 1, "<= 1.5x")


async def ten() -> None:
    await bench(20_000, 10, "<= 1.3x")


BENCHES = {"one": one, "ten": ten}


def main() -> None:
    names = sys.argv[1:] or list(BENCHES)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {sys.version.split()[0]}, podium {podium.__version__}, load {load:.2f}")
    print("(ratios are to the hand-written worker pool, not asyncio.gather)")
    for name in names:
        asyncio.run(BENCHES[name]())


if __name__ == "__main__":
    main()
