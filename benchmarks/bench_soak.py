"""Memory stays flat: 100 runs of 10,000 tasks in one process, with and without a store.

python benchmarks/bench_soak.py                    # memory and sqlite, each in its own process
python benchmarks/bench_soak.py --runs 30 --tasks 5000
python benchmarks/bench_soak.py --store memory     # one of them, in this process

Target (issue 10): the resident memory (RSS) after the 10th run is within 10% of the RSS
after the last. The orchestrator keeps finished runs for status() only while they are recent
and small (docs/python-api.md), so nothing grows with the number of runs. Each run is also
timed against the raw-asyncio baseline (asyncio.gather of 10,000 no-op coroutines) measured
in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import podium
from _baseline import gather_per_task, report


async def noop(ctx):  # type: ignore[no-untyped-def]
    return {"n": ctx.task_id}


def rss_mb() -> float:
    """Resident memory now (not the peak), in MB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def fanout(n: int) -> podium.Workflow:
    wf = podium.Workflow("soak")
    for i in range(n):
        wf.task(f"t{i}", capability="noop", input={"i": i})
    return wf


async def soak(store: str | None, runs: int, tasks: int) -> None:
    base = await gather_per_task(tasks)
    orch = podium.Orchestrator(store=store)
    orch.register(noop, name="noop", capabilities=["noop"], capacity=tasks)
    marks: dict[int, float] = {}
    best = float("inf")
    try:
        for i in range(1, runs + 1):
            t = time.perf_counter()
            result = await orch.run(fanout(tasks))
            best = min(best, time.perf_counter() - t)
            assert result.status == "completed", result.status
            del result
            if i in (1, 10, runs):
                gc.collect()
                marks[i] = rss_mb()
    finally:
        await orch.close()
    name = store.split(":")[0] if store else "memory"
    growth = (marks[runs] - marks[10]) / marks[10]
    report(
        f"{name}: RSS after run 1 / 10 / {runs}",
        f"{marks[1]:.0f} / {marks[10]:.0f} / {marks[runs]:.0f} MB ({growth:+.1%} after the 10th)",
        target="within 10%",
    )
    report(f"{name}: best run of {tasks:,} tasks", f"{best:.3f} s", best / (base * tasks))
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--store", choices=["memory", "sqlite"])
    args = ap.parse_args()
    if args.store is None:  # each mode in a fresh process: neither inherits the other's heap
        failed = 0
        for store in ("memory", "sqlite"):
            cmd = [sys.executable, __file__, "--store", store, "--runs", str(args.runs)]
            failed += subprocess.run([*cmd, "--tasks", str(args.tasks)]).returncode != 0
        return 1 if failed else 0
    with tempfile.TemporaryDirectory() as tmp:
        url = None if args.store == "memory" else f"sqlite:///{tmp}/soak.db"
        asyncio.run(soak(url, max(args.runs, 10), args.tasks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
