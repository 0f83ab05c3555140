"""LLM agents against raw asyncio + the openai client, both calling the same fixture
chat-completions server (tests/llm_fixture.py, in its own process so it has its own core).

python benchmarks/bench_llm.py              # both figures
python benchmarks/bench_llm.py overhead     # one of: engine overhead throughput

- engine: podium's own cost per LLM task, everything but the client: an LLMAgent whose client
  answers at once (after one real suspension), 10,000 tasks one at a time and 10,000 at most
  1,000 at once, against awaiting the same stub by hand (target < 1 ms). Reproducible on a
  loaded machine, unlike the next one.
- overhead: one call at a time, 300 tasks, through the openai client and the fixture server;
  podium's time (and CPU) per call minus the raw client's (target < 1 ms; on a busy machine
  the spread of the raw client's own times is larger than that).
- throughput: 1,000 LLM tasks at once (capacity 1,000) against a server answering after
  100 ms; calls per second against the same 1,000 calls made with asyncio.gather on one raw
  client (as a user would write it), and on raw clients sharded as podium shards them (64
  connections each: one pool of 1,000 scans all its connections per request), which isolates
  the engine's share (target > 0.9x); and against the ideal (1,000 calls / 0.1 s), which the
  openai client's own CPU cost per call (a few ms) bounds on a small machine.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import podium
from _baseline import report

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "llm_fixture.py"
MESSAGES = [{"role": "user", "content": "hi"}]


class Server:
    def __init__(self, delay: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(FIXTURE), "--delay", str(delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.proc.stdout.readline().strip()  # type: ignore[union-attr]

    def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(10)


def raw_client(url: str, connections: int):
    import openai
    from openai._constants import DEFAULT_CONNECTION_LIMITS

    limits = type(DEFAULT_CONNECTION_LIMITS)(
        max_connections=connections, max_keepalive_connections=connections
    )
    return openai.AsyncOpenAI(
        base_url=url,
        api_key="x",
        max_retries=0,
        timeout=60.0,  # as LLMAgent's request_timeout: connect included
        http_client=openai.DefaultAsyncHttpxClient(limits=limits, timeout=60.0),
    )


def orchestrator(url: str, capacity: int) -> podium.Orchestrator:
    orch = podium.Orchestrator()
    orch.register(podium.LLMAgent("llm", ["chat"], capacity, model="m", base_url=url, stream=False))
    return orch


def workflow(n: int) -> podium.Workflow:
    wf = podium.Workflow("llm-bench")
    for i in range(n):
        wf.task(f"t{i}", capability="chat", input={"task": "hi"})
    return wf


async def podium_run(orch: podium.Orchestrator, n: int, limit: int | None) -> tuple[float, float]:
    wf = workflow(n)
    wf.max_concurrency = limit
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    result = await orch.run(wf)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert result.status == "completed", result.status
    return wall, cpu


class StubClient:
    """Answers at once: what is left is podium's own work per call."""

    async def complete(self, messages, **options):
        from podium.llm.client import Completion

        await asyncio.sleep(0)  # one real suspension, as any I/O has
        return Completion("ok", prompt_tokens=5, completion_tokens=1, latency=0.0, model="m")

    async def close(self) -> None:
        pass


class StubAgent(podium.LLMAgent):
    async def setup(self) -> None:
        self.client = StubClient()  # type: ignore[assignment]


async def engine(n: int = 10_000) -> None:
    stub = StubClient()
    for limit in (1, 1000):
        raw = pod = float("inf")
        orch = podium.Orchestrator()
        orch.register(StubAgent("llm", ["chat"], limit, model="m", stream=False))
        await podium_run(orch, 100, limit)
        for _ in range(3):
            gc.collect()
            t = time.perf_counter()
            if limit == 1:
                for _ in range(n):
                    await stub.complete(MESSAGES)
            else:
                await asyncio.gather(*[stub.complete(MESSAGES) for _ in range(n)])
            raw = min(raw, (time.perf_counter() - t) / n)
            wall, _ = await podium_run(orch, n, limit)
            pod = min(pod, wall / n)
        await orch.close()
        what = "one at a time" if limit == 1 else f"{limit:,} at once"
        report(
            f"podium's own cost per LLM task, {what}",
            f"{(pod - raw) * 1e6:7.1f} us (task {pod * 1e6:.1f} us, stub call {raw * 1e6:.1f} us)",
            None,
            "< 1,000 us",
        )


async def overhead(n: int = 300) -> None:
    srv = Server(0.0)
    try:
        client = raw_client(srv.url, 10)
        orch = orchestrator(srv.url, 1)
        for _ in range(20):  # warm both up: connections, imports, caches
            await client.chat.completions.create(model="m", messages=MESSAGES)
        await podium_run(orch, 20, 1)
        raw_wall = raw_cpu = pod_wall = pod_cpu = float("inf")
        for _ in range(5):
            gc.collect()
            t, c = time.perf_counter(), time.process_time()
            for _ in range(n):
                await client.chat.completions.create(model="m", messages=MESSAGES)
            raw_wall = min(raw_wall, (time.perf_counter() - t) / n)
            raw_cpu = min(raw_cpu, (time.process_time() - c) / n)
            wall, cpu = await podium_run(orch, n, 1)
            pod_wall, pod_cpu = min(pod_wall, wall / n), min(pod_cpu, cpu / n)
        await client.close()
        await orch.close()
    finally:
        srv.close()
    report(
        "LLM call, one at a time: wall per call",
        f"{pod_wall * 1e3:6.3f} ms (raw client {raw_wall * 1e3:.3f} ms)",
        pod_wall / raw_wall,
    )
    report(
        "  podium's overhead per call (wall)",
        f"{(pod_wall - raw_wall) * 1e3:6.3f} ms",
        None,
        "< 1 ms",
    )
    report(
        "  podium's overhead per call (CPU)",
        f"{(pod_cpu - raw_cpu) * 1e3:6.3f} ms (raw client {raw_cpu * 1e3:.3f} ms CPU)",
        None,
        "< 1 ms",
    )


async def gathered(clients: list, n: int) -> float:
    gc.collect()
    t = time.perf_counter()
    k = len(clients)
    await asyncio.gather(
        *[clients[i % k].chat.completions.create(model="m", messages=MESSAGES) for i in range(n)]
    )
    return time.perf_counter() - t


async def throughput(n: int = 1000, delay: float = 0.1) -> None:
    from podium.llm.client import SHARD

    srv = Server(delay)
    try:
        one = [raw_client(srv.url, n)]
        shards = [raw_client(srv.url, SHARD) for _ in range(-(-n // SHARD))]
        orch = orchestrator(srv.url, n)
        for clients in (one, shards):  # warm up: connections opened
            await gathered(clients, n)
        await podium_run(orch, n, None)
        raw = sharded = pod = float("inf")
        for _ in range(3):
            raw = min(raw, await gathered(one, n))
            sharded = min(sharded, await gathered(shards, n))
            wall, _ = await podium_run(orch, n, None)
            pod = min(pod, wall)
        for c in one + shards:
            await c.close()
        await orch.close()
    finally:
        srv.close()
    ideal = n / delay
    report(
        f"{n:,} concurrent LLM tasks, {delay * 1e3:.0f} ms answers",
        f"{n / pod:8,.0f} calls/s (raw: one client {n / raw:,.0f}/s, "
        f"sharded clients {n / sharded:,.0f}/s)",
        None,
    )
    print(
        f"{'  throughput to raw asyncio, one client':<44} {raw / pod:.2f}x",
        flush=True,
    )
    print(
        f"{'  throughput to raw asyncio, sharded clients':<44} {sharded / pod:.2f}x  "
        "(target > 0.9x)",
        flush=True,
    )
    print(
        f"{'  throughput to the ideal':<44} podium {n / pod / ideal:.2f}x, raw "
        f"{n / sharded / ideal:.2f}x of {ideal:,.0f} calls/s (bound by the client's CPU)",
        flush=True,
    )


async def main(which: list[str]) -> None:
    print(f"podium {podium.__version__}, Python {sys.version.split()[0]}", flush=True)
    if "engine" in which:
        await engine()
    if "overhead" in which:
        await overhead()
    if "throughput" in which:
        await throughput()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or ["engine", "overhead", "throughput"]))
