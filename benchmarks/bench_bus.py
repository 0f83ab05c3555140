"""Message bus throughput against raw asyncio, measured in the same process.

python benchmarks/bench_bus.py                 # memory and Redis
python benchmarks/bench_bus.py memory          # one of: memory redis
PODIUM_BENCH_REDIS_URL=redis://host:6379/0 python benchmarks/bench_bus.py redis

"published to one subscriber": one task publishes N small messages ({"i": i}) to a topic,
another reads them from its subscription; the time runs until the reader has the last one.
The baseline moves the same number of items through an asyncio.Queue the same way. Both
producers yield to the loop every 256 items, as a real producer doing other work would.
For Redis, publisher and subscriber are two bus instances (two connections) in this process,
so one core encodes, writes, reads and decodes every message.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import podium
from _baseline import report
from podium.bus import Bus, open_bus

REDIS_URL = os.environ.get("PODIUM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
YIELD_EVERY = 256


async def raw_queue(n: int) -> float:
    """Seconds to move n items through an asyncio.Queue from one task to another."""
    q: asyncio.Queue[dict[str, int]] = asyncio.Queue()

    async def consume() -> None:
        for _ in range(n):
            await q.get()

    gc.collect()
    t = time.perf_counter()
    reader = asyncio.create_task(consume())
    for i in range(n):
        await q.put({"i": i})
        if i % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    await reader
    return time.perf_counter() - t


async def bus_publish(publisher: Bus, subscriber: Bus, n: int) -> float:
    """Seconds to publish n messages to a topic until its one subscriber has them all."""
    sub = await subscriber.subscribe("bench.topic")

    async def consume() -> None:
        got = 0
        async for _ in sub:
            got += 1
            if got == n:
                return

    gc.collect()
    t = time.perf_counter()
    reader = asyncio.create_task(consume())
    for i in range(n):
        await publisher.publish("bench.topic", {"i": i})
        if i % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    await publisher.flush()
    await reader
    took = time.perf_counter() - t
    await sub.close()
    return took


async def bus_send(bus: Bus, n: int, senders: int) -> float:
    """Seconds for ``senders`` tasks to send n direct messages (in all) to one inbox."""
    inbox = await bus.inbox("bench-agent")

    async def send(count: int) -> None:
        for i in range(count):
            await bus.send("bench-agent", {"i": i})

    async def consume() -> None:
        for _ in range(n):
            await inbox.get()

    gc.collect()
    t = time.perf_counter()
    reader = asyncio.create_task(consume())
    await asyncio.gather(*(send(len(range(k, n, senders))) for k in range(senders)))
    await reader
    return time.perf_counter() - t


def best(times: list[float]) -> float:
    return min(times)


async def memory(n: int = 200_000) -> None:
    raw = best([await raw_queue(n) for _ in range(3)])
    bus = open_bus("memory")
    took = best([await bus_publish(bus, bus, n) for _ in range(3)])
    report(
        f"memory bus: publish {n:,} to one subscriber",
        f"{n / took:>10,.0f} msg/s  (raw queue {n / raw:,.0f}/s)",
        took / raw,
        ">= 200,000 msg/s",
    )
    sent = best([await bus_send(bus, n, 1) for _ in range(3)])
    report(
        f"memory bus: send {n:,} to one inbox",
        f"{n / sent:>10,.0f} msg/s",
        sent / raw,
    )
    await bus.close()


async def redis(n: int = 100_000) -> None:
    namespace = f"podium-bench-{secrets.token_hex(4)}"
    publisher = open_bus(REDIS_URL, namespace=namespace)
    subscriber = open_bus(REDIS_URL, namespace=namespace)
    try:
        await subscriber.members("ping")  # reachable?
    except podium.BusError as e:
        print(f"redis bus: skipped: {e}", flush=True)
        await publisher.close()
        await subscriber.close()
        return
    try:
        raw = best([await raw_queue(n) for _ in range(3)])
        took = best([await bus_publish(publisher, subscriber, n) for _ in range(3)])
        report(
            f"redis bus: publish {n:,} to one subscriber",
            f"{n / took:>10,.0f} msg/s  (raw queue {n / raw:,.0f}/s)",
            took / raw,
            ">= 20,000 msg/s",
        )
        m = n // 10
        for senders in (1, 64):
            sent = await bus_send(subscriber, m, senders)
            report(
                f"redis bus: send {m:,} to one inbox, {senders} sender(s)",
                f"{m / sent:>10,.0f} msg/s",
                sent / raw * n / m,
            )
    finally:
        await publisher.close()
        await subscriber.close()
        await _drop(namespace)


async def _drop(namespace: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=f"{namespace}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


BENCHES = {"memory": memory, "redis": redis}


def main() -> None:
    names = sys.argv[1:] or list(BENCHES)
    print(f"python {sys.version.split()[0]}, podium {podium.__version__}")
    for name in names:
        asyncio.run(BENCHES[name]())


if __name__ == "__main__":
    main()
