"""The same work on podium and on its peers (those that are installed), with raw asyncio as
the common floor: a fan-out of no-op tasks and a chain of dependent no-op tasks.

    pip install "dask[distributed]" ray langgraph celery   # optional: missing peers are skipped
    python benchmarks/bench_peers.py [N_FANOUT] [N_CHAIN]

Each system runs in its own process and is warmed up first, so start-up costs (a Ray
cluster, a Dask scheduler) are not counted; the figure is steady-state time per task.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time


def _podium(n: int, chain: int) -> dict[str, float]:
    import asyncio

    import podium

    async def noop(ctx):
        return None

    async def main() -> dict[str, float]:
        orch = podium.Orchestrator()
        orch.register(noop, name="noop", capabilities=["noop"], capacity=n)

        def fan() -> podium.Workflow:
            wf = podium.Workflow("fan")
            for i in range(n):
                wf.task(f"t{i}", capability="noop")
            return wf

        def chained() -> podium.Workflow:
            wf = podium.Workflow("chain")
            for i in range(chain):
                wf.task(f"t{i}", capability="noop", depends_on=[f"t{i - 1}"] if i else [])
            return wf

        await orch.run(fan())  # warm-up
        t = time.perf_counter()
        await orch.run(fan())
        f = (time.perf_counter() - t) / n
        t = time.perf_counter()
        await orch.run(chained())
        c = (time.perf_counter() - t) / chain
        return {"fanout": f, "chain": c}

    return asyncio.run(main())


def _asyncio(n: int, chain: int) -> dict[str, float]:
    import asyncio

    async def noop() -> None:
        return None

    async def main() -> dict[str, float]:
        await asyncio.gather(*[noop() for _ in range(n)])
        t = time.perf_counter()
        await asyncio.gather(*[noop() for _ in range(n)])
        f = (time.perf_counter() - t) / n
        t = time.perf_counter()
        for _ in range(chain):
            await asyncio.create_task(noop())
        return {"fanout": f, "chain": (time.perf_counter() - t) / chain}

    return asyncio.run(main())


def _dask(n: int, chain: int) -> dict[str, float]:
    import dask
    from dask.distributed import Client, LocalCluster

    def noop(*_: object) -> None:
        return None

    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster,
        Client(cluster) as client,
    ):
        client.gather(client.map(noop, range(100)))  # warm-up
        t = time.perf_counter()
        client.gather(client.map(noop, range(n), pure=False))
        f = (time.perf_counter() - t) / n
        node = dask.delayed(noop)(0)
        for _ in range(chain - 1):
            node = dask.delayed(noop)(node)
        t = time.perf_counter()
        client.compute(node).result()
        c = (time.perf_counter() - t) / chain
    return {"fanout": f, "chain": c}


def _dask_threads(n: int, chain: int) -> dict[str, float]:
    """Dask's local threaded scheduler: no cluster, the lightest way to run a Dask graph."""
    import dask

    def noop(*_: object) -> None:
        return None

    dask.compute(*[dask.delayed(noop)(i) for i in range(100)], scheduler="threads")
    tasks = [dask.delayed(noop)(i) for i in range(n)]
    t = time.perf_counter()
    dask.compute(*tasks, scheduler="threads")
    f = (time.perf_counter() - t) / n
    node = dask.delayed(noop)(0)
    for _ in range(chain - 1):
        node = dask.delayed(noop)(node)
    t = time.perf_counter()
    dask.compute(node, scheduler="threads")
    return {"fanout": f, "chain": (time.perf_counter() - t) / chain}


def _ray(n: int, chain: int) -> dict[str, float]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")

    @ray.remote
    def noop(*_: object) -> None:
        return None

    ray.get([noop.remote() for _ in range(200)])  # warm-up: workers started
    t = time.perf_counter()
    ray.get([noop.remote() for _ in range(n)])
    f = (time.perf_counter() - t) / n
    t = time.perf_counter()
    ref = noop.remote()
    for _ in range(chain - 1):
        ref = noop.remote(ref)
    ray.get(ref)
    c = (time.perf_counter() - t) / chain
    ray.shutdown()
    return {"fanout": f, "chain": c}


def _langgraph(n: int, chain: int) -> dict[str, float]:
    """LangGraph: a fan-out through the Send API into one reducer, and a chain of nodes."""
    import operator
    from typing import Annotated, TypedDict

    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Send

    # functional form: this module's postponed annotations would hide the local names
    Fan = TypedDict("Fan", {"done": Annotated[list[int], operator.add]})  # noqa: UP013

    def spread(state):
        return [Send("work", {"done": []}) for _ in range(n)]

    def work(state):
        return {"done": [1]}

    g = StateGraph(Fan)
    g.add_node("work", work)
    g.add_conditional_edges(START, spread, ["work"])
    g.add_edge("work", END)
    fan = g.compile()
    fan.invoke({"done": []})  # warm-up
    t = time.perf_counter()
    out = fan.invoke({"done": []})
    f = (time.perf_counter() - t) / n
    assert len(out["done"]) == n

    Hop = TypedDict("Hop", {"hops": int})  # noqa: UP013

    def hop(state):
        return {"hops": state["hops"] + 1}

    c = StateGraph(Hop)
    names = [f"n{i}" for i in range(chain)]
    for name in names:
        c.add_node(name, hop)
    c.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        c.add_edge(a, b)
    c.add_edge(names[-1], END)
    line = c.compile()
    t = time.perf_counter()
    out = line.invoke({"hops": 0}, {"recursion_limit": chain + 10})
    assert out["hops"] == chain
    return {"fanout": f, "chain": (time.perf_counter() - t) / chain}


def _celery(n: int, chain: int) -> dict[str, float]:
    """Celery with the local Redis as broker and result backend and an in-process worker
    (threads pool): fewer tasks, since each is a broker round trip."""
    from celery import Celery
    from celery import chain as celery_chain
    from celery.contrib.testing.worker import start_worker

    url = "redis://127.0.0.1:6379/7"
    app = Celery("bench", broker=url, backend=url)
    app.conf.update(worker_hijack_root_logger=False, task_ignore_result=False)

    @app.task
    def noop(*_: object) -> None:
        return None

    n, chain = min(n, 2000), min(chain, 200)
    with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False):
        [r.get(timeout=60) for r in [noop.delay() for _ in range(50)]]  # warm-up
        t = time.perf_counter()
        results = [noop.delay() for _ in range(n)]
        for r in results:
            r.get(timeout=120)
        f = (time.perf_counter() - t) / n
        t = time.perf_counter()
        celery_chain(*[noop.s() for _ in range(chain)])().get(timeout=120)
        c = (time.perf_counter() - t) / chain
    return {"fanout": f, "chain": c}


SYSTEMS = {
    "asyncio": _asyncio,
    "podium": _podium,
    "dask-threads": _dask_threads,
    "dask-distributed": _dask,
    "ray": _ray,
    "langgraph": _langgraph,
    "celery": _celery,
}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        name, n, chain = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(SYSTEMS[name](n, chain)))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    chain = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    print(f"fan-out of {n:,} no-op tasks, chain of {chain:,}; time per task (lower is better)")
    base: dict[str, float] | None = None
    for name in SYSTEMS:
        p = subprocess.run(
            [sys.executable, __file__, "--one", name, str(n), str(chain)],
            capture_output=True,
            text=True,
        )
        if p.returncode != 0:
            last = (p.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{name:<17} skipped: {last[:90]}")
            continue
        r = json.loads(p.stdout.strip().splitlines()[-1])
        base = base or r
        fan, hop = r["fanout"], r["chain"]
        print(
            f"{name:<17} fan-out {fan * 1e6:9.2f} us/task ({fan / base['fanout']:7.2f}x asyncio)"
            f"   chain {hop * 1e6:9.2f} us/hop ({hop / base['chain']:7.2f}x)",
            flush=True,
        )


if __name__ == "__main__":
    main()
