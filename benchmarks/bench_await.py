"""Handlers that suspend on I/O, against a hand-written asyncio worker pool (issue 12).

python benchmarks/bench_await.py             # both workloads
python benchmarks/bench_await.py one ten     # one of: one (1 await x 100,000), ten (10 x 20,000)

The baseline is the fastest plain-asyncio shape for this work, measured in the same process:
``capacity`` worker Tasks pulling the same coroutines from one shared iterator. Each handler
awaits ``asyncio.sleep(0)`` (a real suspension: a loop round trip) once or ten times.

Figures are CPU time of this process (``time.process_time``), best of 5, which other load on
a shared machine barely moves; wall-clock figures follow in brackets. podium's figure is the
whole ``orch.run`` (building the run's records included); the part after ``run`` excludes
``orch.prepare``.

``python benchmarks/bench_await.py mechanisms`` measures the candidate ways to run such
handlers on their own, without the engine's bookkeeping (see `_mechanisms.py`).
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


class Best:
    """Best CPU and wall-clock seconds over several timed rounds."""

    def __init__(self, collect: bool = True) -> None:
        self.cpu = self.wall = float("inf")
        self.collect = collect  # a full collection first (not inside another timing)

    def __enter__(self) -> Best:
        if self.collect:
            gc.collect()
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu = min(self.cpu, time.process_time() - self._cpu)
        self.wall = min(self.wall, time.perf_counter() - self._wall)


async def worker_pool(n: int, awaits: int, capacity: int = CAPACITY) -> Best:
    """``capacity`` worker Tasks draining one iterator of coroutines."""
    fn = handler(awaits)

    async def worker(coros: Iterator[Coroutine[Any, Any, None]]) -> None:
        for coro in coros:
            await coro

    best = Best()
    for _ in range(ROUNDS):
        with best:
            coros = (fn(None) for _ in range(n))
            await asyncio.gather(*[worker(coros) for _ in range(capacity)])
    return best


async def engine(n: int, awaits: int, capacity: int = CAPACITY) -> tuple[Best, Best]:
    """A podium run of ``n`` such tasks on one agent of ``capacity``: (whole, after prepare)."""
    orch = podium.Orchestrator()
    orch.register(handler(awaits), name="io", capabilities=["io"], capacity=capacity)
    whole, run_only = Best(), Best(collect=False)
    for _ in range(ROUNDS):
        wf = podium.Workflow("await")
        for i in range(n):
            wf.task(f"t{i}", capability="io")
        with whole:
            run = orch.prepare(wf)
            with run_only:
                result = await orch.execute(run)
        assert result.status == "completed", result.status
    return whole, run_only


async def bench(n: int, awaits: int, target: str) -> None:
    raw = await worker_pool(n, awaits)
    whole, run_only = await engine(n, awaits)
    us = 1e6 / n
    report(
        f"{awaits} await{'s' if awaits > 1 else ''} x {n:,} tasks, {CAPACITY:,} at once",
        f"{whole.cpu * us:6.2f} us/task, run {run_only.cpu * us:.2f} (worker pool "
        f"{raw.cpu * us:.2f}) [wall {whole.wall * us:.2f}, pool {raw.wall * us:.2f}]",
        whole.cpu / raw.cpu,
        target,
    )
    report("  the run alone (without orch.prepare)", "", run_only.cpu / raw.cpu)


async def one() -> None:
    await bench(100_000, 1, "<= 1.5x")


async def ten() -> None:
    await bench(20_000, 10, "<= 1.3x")


async def mechanisms() -> None:
    from _mechanisms import compare

    await compare()


BENCHES = {"one": one, "ten": ten, "mechanisms": mechanisms}


def main() -> None:
    names = sys.argv[1:] or ["one", "ten"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {sys.version.split()[0]}, podium {podium.__version__}, load {load:.2f}")
    print("(ratios are to the hand-written worker pool, not asyncio.gather)")
    for name in names:
        asyncio.run(BENCHES[name]())


if __name__ == "__main__":
    main()
