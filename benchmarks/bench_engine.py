"""Engine overhead against raw asyncio, measured in the same process.

python benchmarks/bench_engine.py            # all of issue 4's engine figures
python benchmarks/bench_engine.py fanout     # one of: fanout chain layered sleep
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import podium
from _baseline import chain_per_hop, gather_per_task, report


async def noop(ctx):
    return None


def orchestrator(capacity: int) -> podium.Orchestrator:
    orch = podium.Orchestrator()
    orch.register(noop, name="noop", capabilities=["noop"], capacity=capacity)
    return orch


async def timed_run(orch: podium.Orchestrator, wf: podium.Workflow) -> float:
    gc.collect()
    t = time.perf_counter()
    result = await orch.run(wf)
    elapsed = time.perf_counter() - t
    assert result.status == "completed", result.status
    return elapsed


async def fanout(n: int = 100_000) -> None:
    raw = await gather_per_task(n)
    best = float("inf")
    for _ in range(3):
        wf = podium.Workflow("fanout")
        for i in range(n):
            wf.task(f"t{i}", capability="noop")
        best = min(best, await timed_run(orchestrator(n), wf))
    per = best / n
    report(
        f"fan-out {n:,} no-op tasks",
        f"{per * 1e6:6.2f} us/task (raw {raw * 1e6:.2f})",
        per / raw,
        "<= 4x",
    )


async def chain(n: int = 10_000) -> None:
    raw = await chain_per_hop(n)
    best = float("inf")
    for _ in range(3):
        wf = podium.Workflow("chain")
        prev = None
        for i in range(n):
            wf.task(f"t{i}", capability="noop", depends_on=[prev] if prev else [])
            prev = f"t{i}"
        best = min(best, await timed_run(orchestrator(1), wf))
    per = best / n
    report(
        f"chain of {n:,} dependent tasks",
        f"{per * 1e6:6.2f} us/hop  (raw {raw * 1e6:.2f})",
        per / raw,
        "<= 4x",
    )


def layered_workflow(layers: int, width: int, fan_in: int = 3) -> podium.Workflow:
    wf = podium.Workflow("layered")
    prev: list[str] = []
    for layer in range(layers):
        ids = [f"{layer}.{i}" for i in range(width)]
        for i, tid in enumerate(ids):
            deps = [prev[(i + k) % width] for k in range(fan_in)] if prev else ()
            wf.task(tid, capability="noop", depends_on=deps)
        prev = ids
    return wf


async def layered_one(layers: int, width: int) -> tuple[float, float]:
    """(seconds per task including building the workflow, seconds per task of the run)."""
    gc.collect()
    t = time.perf_counter()
    wf = layered_workflow(layers, width)
    built = time.perf_counter()
    run = await timed_run(orchestrator(width * 4), wf)
    n = layers * width
    return (built - t + run) / n, run / n


async def layered() -> None:
    import subprocess

    raw = await gather_per_task(100_000)
    small_total, small_run = await layered_one(100, 1000)
    report(
        "layered DAG 100 x 1,000 (3 deps each)",
        f"{small_run * 1e6:6.2f} us/task run, {small_total * 1e6:.2f} with building",
        small_run / raw,
    )
    # the million-task DAG runs in a child process so its peak memory is its own
    code = (
        f"import asyncio, sys, resource; sys.path.insert(0, {str(Path(__file__).parent)!r});"
        "import bench_engine as b;"
        "tot, run = asyncio.run(b.layered_one(1000, 1000));"
        "print(tot, run, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    big_total, big_run, rss_kb = out.stdout.split()
    big_total, big_run = float(big_total), float(big_run)
    peak_gb = int(rss_kb) / 1024 / 1024
    report(
        "layered DAG 1,000 x 1,000 (3 deps each)",
        f"{big_run * 1e6:6.2f} us/task run, {big_total * 1e6:.2f} with building",
        big_run / raw,
    )
    report(
        "  1M vs 100k time per task (with building)",
        f"{big_total / small_total:.2f}x",
        None,
        "<= 1.5x",
    )
    report("  1M peak memory", f"{peak_gb:.2f} GB", None, "< 2 GB")


async def sleepers(n: int = 1000, at_once: int = 100, pause: float = 0.05) -> None:
    async def nap(ctx):
        await asyncio.sleep(pause)

    async def raw_nap(sem: asyncio.Semaphore) -> None:
        async with sem:
            await asyncio.sleep(pause)

    sem = asyncio.Semaphore(at_once)
    t = time.perf_counter()
    await asyncio.gather(*[raw_nap(sem) for _ in range(n)])
    raw = time.perf_counter() - t
    orch = podium.Orchestrator()
    orch.register(nap, name="nap", capabilities=["nap"], capacity=n)
    wf = podium.Workflow("sleepers", max_concurrency=at_once)
    for i in range(n):
        wf.task(f"t{i}", capability="nap")
    took = await timed_run(orch, wf)
    ideal = n / at_once * pause
    report(
        f"{n} x {pause * 1000:.0f} ms sleeps, {at_once} at once",
        f"{took:.3f} s (ideal {ideal:.2f}, raw {raw:.3f}; {(took / ideal - 1) * 100:+.1f}%)",
        took / raw,
        "within 10% of ideal",
    )


def startup() -> None:
    import subprocess

    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "podium", "--help"], capture_output=True, check=True)
        best = min(best, time.perf_counter() - t)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - t
    report("podium --help start-up", f"{best:.3f} s (bare python {bare:.3f} s)", None, "< 0.3 s")


BENCHES = {"fanout": fanout, "chain": chain, "layered": layered, "sleep": sleepers}


def main() -> None:
    names = sys.argv[1:] or [*BENCHES, "startup"]
    print(f"python {sys.version.split()[0]}, podium {podium.__version__}")
    for name in names:
        if name == "startup":
            startup()
        else:
            asyncio.run(BENCHES[name]())


if __name__ == "__main__":
    main()
