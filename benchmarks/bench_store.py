"""What durability costs: a 100,000-task fan-out of no-op handlers recorded in each store.

python benchmarks/bench_store.py               # memory, sqlite, postgres (skipped if down)
python benchmarks/bench_store.py --tasks 20000 # a smaller run
PODIUM_BENCH_PG_URL=postgresql://... overrides the PostgreSQL database (default: local `test`).

Each store records every transition of the run (group commit), so the figures include the
writes; the run ends only once its last batch and final status are committed. Targets (issue
5): SQLite at least 0.5x the in-memory store's tasks/s, PostgreSQL at least 0.33x. The raw
asyncio baseline (asyncio.gather of no-op coroutines) is measured in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import podium
from _baseline import gather_per_task, report

PG_URL = os.environ.get("PODIUM_BENCH_PG_URL", "postgresql://127.0.0.1:5432/test")


async def noop(ctx):
    return None


def fanout(n: int) -> podium.Workflow:
    wf = podium.Workflow("fanout")
    for i in range(n):
        wf.task(f"t{i}", capability="noop")
    return wf


async def timed(store: object, n: int, repeat: int) -> float:
    """Best tasks/s over ``repeat`` recorded runs into ``store``."""
    best = 0.0
    orch = podium.Orchestrator(store=store)
    orch.register(noop, name="noop", capabilities=["noop"], capacity=n)
    await orch.store.open()  # connecting and migrating are not part of a run
    try:
        for _ in range(repeat):
            wf = fanout(n)
            gc.collect()
            t = time.perf_counter()
            result = await orch.run(wf)
            elapsed = time.perf_counter() - t
            assert result.status == "completed", result.status
            best = max(best, n / elapsed)
    finally:
        await orch.close()
        await orch.store.close()
    return best


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stores", default="memory,sqlite,postgres")
    args = parser.parse_args()
    n, repeat = args.tasks, args.repeat
    wanted = args.stores.split(",")

    raw = await gather_per_task(n)
    report(f"raw asyncio: gather of {n:,} no-op coroutines", f"{1 / raw:10,.0f} tasks/s")
    mem = await timed("memory", n, repeat)
    report(f"fan-out {n:,} no-op tasks, memory store", f"{mem:10,.0f} tasks/s", 1 / (mem * raw))
    ok = True
    if "sqlite" in wanted:
        with tempfile.TemporaryDirectory() as tmp:
            lite = await timed(os.path.join(tmp, "bench.db"), n, repeat)
        ratio = lite / mem
        ok &= ratio >= 0.5
        report(
            f"fan-out {n:,} no-op tasks, SQLite store",
            f"{lite:10,.0f} tasks/s  {ratio:.2f}x memory (target >= 0.5x)",
            1 / (lite * raw),
        )
    if "postgres" in wanted:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            pg = await timed(f"{PG_URL}?schema={schema}", n, repeat)
        except podium.StoreError as exc:
            print(f"PostgreSQL skipped: {exc}")
        else:
            ratio = pg / mem
            ok &= ratio >= 0.33
            report(
                f"fan-out {n:,} no-op tasks, PostgreSQL store",
                f"{pg:10,.0f} tasks/s  {ratio:.2f}x memory (target >= 0.33x)",
                1 / (pg * raw),
            )
        finally:
            await drop_schema(schema)
    return 0 if ok else 1


async def drop_schema(schema: str) -> None:
    try:
        import asyncpg

        conn = await asyncpg.connect(PG_URL, timeout=5)
    except Exception:
        return
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
