"""Concurrency keys and rate limits in one process (`Gates`) against shared through Redis
(`SharedGates`): what the Redis round trips cost per task.

python benchmarks/bench_shared_gates.py [n] [redis_url]

n tasks (default 20,000) on one agent of capacity 100, each with a concurrency key of max 50
(first pair of lines), then with an agent rate limit too large to bind (second pair): the
figure is the cost of asking Redis, not of waiting. The raw-asyncio yardstick is
``asyncio.gather`` of n no-op coroutines, in the same process.
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
from podium.engine.shared_gates import SharedGates


async def work(ctx):
    return None


def workflow(n: int, keyed: bool) -> podium.Workflow:
    wf = podium.Workflow("bench-gates")
    rule = {"key": "bench", "max": 50} if keyed else None
    for i in range(n):
        wf.task(f"t{i}", capability="w", concurrency=rule)
    return wf


async def per_task(n: int, url: str | None, keyed: bool) -> float:
    best = float("inf")
    limit = None if keyed else {"requests": 10 * n, "per": 60}
    for _ in range(3):
        gates = SharedGates(url, prefix=f"bench:{time.time_ns()}") if url else None
        orch = podium.Orchestrator(gates=gates)
        orch.register(podium.Agent("w", ["w"], 100, handler=work, rate_limit=limit))
        wf = workflow(n, keyed)
        gc.collect()
        t = time.perf_counter()
        result = await orch.run(wf)
        best = min(best, time.perf_counter() - t)
        await orch.close()
        assert result.status == "completed", result.status
    return best / n


async def main(n: int, url: str) -> None:
    raw = await gather_per_task(n)
    for keyed, what in ((True, "a concurrency key (max 50)"), (False, "a rate limit")):
        local = await per_task(n, None, keyed)
        shared = await per_task(n, url, keyed)
        report(f"{n:,} tasks, {what}, in process", f"{local * 1e6:7.2f} us/task", local / raw)
        report(
            f"{n:,} tasks, {what}, Redis",
            f"{shared * 1e6:7.2f} us/task (raw {raw * 1e6:.2f})",
            shared / raw,
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    n = int(args[0]) if args else 20_000
    asyncio.run(main(n, args[1] if len(args) > 1 else "redis://127.0.0.1:6379/0"))
