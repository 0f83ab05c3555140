"""Raw-asyncio baselines that every benchmark measures in its own process and run."""

from __future__ import annotations

import asyncio
import time


async def _noop() -> None:
    return None


async def gather_per_task(n: int) -> float:
    """Seconds per task for asyncio.gather of n no-op coroutines (best of 3)."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        await asyncio.gather(*[_noop() for _ in range(n)])
        best = min(best, time.perf_counter() - t)
    return best / n


async def chain_per_hop(n: int) -> float:
    """Seconds per hop for awaiting one asyncio Task after another (best of 3)."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            await asyncio.create_task(_noop())
        best = min(best, time.perf_counter() - t)
    return best / n


def report(name: str, value: str, ratio: float | None = None, target: str = "") -> None:
    r = f"  ratio to raw asyncio {ratio:.2f}x" if ratio is not None else ""
    t = f"  (target {target})" if target else ""
    print(f"{name:<44} {value}{r}{t}", flush=True)
