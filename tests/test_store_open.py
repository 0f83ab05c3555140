"""Opening a store is safe from any number of runs and processes at once: several runs started
together on one orchestrator with a fresh store, and two processes opening one fresh SQLite
file, all complete (no "database is locked", no "transaction within a transaction")."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import podium
from _pg import pg_schema

RUNS = 6


async def work(ctx: podium.Context) -> int:
    return 1


def flow(i: int) -> podium.Workflow:
    wf = podium.Workflow(f"w{i}")
    for k in range(5):
        wf.task(f"t{k}", capability="x")
    return wf


async def six_runs(store: str) -> list[str]:
    orch = podium.Orchestrator(store=store)
    orch.register(work, name="w", capabilities=["x"])
    try:
        results = await asyncio.gather(*(orch.run(flow(i)) for i in range(RUNS)))
    finally:
        await orch.close()
    return [str(r.status) for r in results]


def test_runs_started_together_open_a_fresh_sqlite_store(tmp_path: Path) -> None:
    for round_ in range(8):  # the race was lost about half the time
        db = tmp_path / f"runs{round_}.db"
        assert asyncio.run(six_runs(f"sqlite:///{db}")) == ["completed"] * RUNS


def test_runs_started_together_open_a_fresh_postgres_store() -> None:
    async def main() -> list[str]:
        async with pg_schema() as url:
            return await six_runs(url)

    assert asyncio.run(main()) == ["completed"] * RUNS


SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    sys.path.insert(0, {tests!r})
    from test_store_open import six_runs
    start = float(sys.argv[2])
    time.sleep(max(0.0, start - time.time()))  # both processes open the file at once
    statuses = asyncio.run(six_runs("sqlite:///" + sys.argv[1]))
    assert statuses == ["completed"] * 6, statuses
    """
)


def test_two_processes_open_one_fresh_sqlite_file(tmp_path: Path) -> None:
    script = tmp_path / "open_twice.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    for round_ in range(3):
        db = tmp_path / f"shared{round_}.db"
        start = time.time() + 2.0
        procs = [
            subprocess.Popen(
                [sys.executable, str(script), str(db), str(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            assert "locked" not in err and "within a transaction" not in err
        assert asyncio.run(count_runs(db)) == 2 * RUNS


async def count_runs(db: Path) -> int:
    store = podium.stores.open_store(str(db))
    try:
        return len(await store.list_runs(limit=100))
    finally:
        await store.close()
