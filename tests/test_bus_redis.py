"""Redis bus specifics: buses in different "processes" (instances) talking, messages kept for
absent receivers, redelivery of unacknowledged messages, batching, and errors that name the
server. Uses the server of ``_redis.py``; see the contract suite for what every bus does."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from _redis import REDIS_URL, redis_namespace
from podium import BusError, ValidationError
from podium.bus import ALL, Bus, Message, Subscription, open_bus
from podium.bus.redis import RedisBus

WAIT = 5.0

MakeBus = Callable[..., RedisBus]


@pytest.fixture
async def make_bus() -> AsyncIterator[MakeBus]:
    """``make_bus(**options)``: a Redis bus on this test's namespace, closed after the test."""
    buses: list[RedisBus] = []
    async with redis_namespace() as namespace:

        def make(**options: Any) -> RedisBus:
            bus = open_bus(REDIS_URL, namespace=namespace, **options)
            assert isinstance(bus, RedisBus)
            buses.append(bus)
            return bus

        yield make
        for bus in buses:
            await bus.close()


async def until(check: Callable[[], bool]) -> None:
    """Wait (a bounded time) for ``check()``; fail if it never holds."""
    for _ in range(int(WAIT / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def take(box: Subscription, n: int) -> list[Any]:
    return [(await box.get(timeout=WAIT)).payload for _ in range(n)]


async def test_two_processes_talk_in_every_mode(make_bus: MakeBus) -> None:
    a, b = make_bus(), make_bus()
    inbox = await b.inbox("worker")
    topic = await b.subscribe("jobs.*")
    await a.join("crew", "worker")
    assert await b.members("crew") == ["worker"]

    async def serve() -> None:
        async for msg in inbox:
            if msg.kind == "request":
                await b.respond(msg, {"echo": msg.payload}, sender="worker")

    await a.send("worker", "direct", sender="boss")
    await a.multicast("crew", "multicast")
    await a.broadcast(ALL, "broadcast")
    await a.publish("jobs.new", "published")
    await a.flush()
    got = await take(inbox, 3)
    assert sorted(got) == ["broadcast", "direct", "multicast"]
    assert await take(topic, 1) == ["published"]
    server = asyncio.create_task(serve())
    reply = await a.request("worker", 7, timeout=WAIT, sender="boss")
    assert (reply.payload, reply.sender, reply.target) == ({"echo": 7}, "worker", "boss")
    server.cancel()


async def test_a_message_waits_in_redis_for_a_receiver_not_started_yet(make_bus: MakeBus) -> None:
    sender = make_bus()
    for i in range(3):
        await sender.send("later", i)
    await sender.close()
    receiver = make_bus()
    inbox = await receiver.inbox("later")
    assert await take(inbox, 3) == [0, 1, 2]


async def test_messages_handed_out_are_acknowledged_and_deleted(make_bus: MakeBus) -> None:
    bus = make_bus()
    inbox = await bus.inbox("a")
    for i in range(5):
        await bus.send("a", i)
    assert await take(inbox, 5) == [0, 1, 2, 3, 4]
    await bus.flush()
    key = f"{bus.namespace}:in:a"
    assert await bus._r.xlen(key) == 0
    assert (await bus._r.xpending(key, "podium"))["pending"] == 0


async def test_messages_a_dead_process_read_but_did_not_hand_out_are_redelivered(
    make_bus: MakeBus,
) -> None:
    sender = make_bus()
    for i in range(4):
        await sender.send("job", i)
    crashed = make_bus()
    box = await crashed.inbox("job")
    first = await box.get(timeout=WAIT)  # handed out: acknowledged
    await until(lambda: box.qsize() == 3)  # read from Redis, not handed out
    await crashed.close()  # like a process that dies: the three stay pending
    survivor = make_bus(claim_idle=0)
    again = await survivor.inbox("job")
    assert first.payload == 0
    assert await take(again, 3) == [1, 2, 3]


async def test_processes_sharing_an_agent_share_its_messages(make_bus: MakeBus) -> None:
    sender, one, two = make_bus(), make_bus(), make_bus()
    boxes = [await one.inbox("pool"), await two.inbox("pool")]
    for i in range(40):
        await sender.send("pool", i)
    got: list[int] = []

    async def drain() -> None:
        while len(got) < 40:
            for box in boxes:
                msg = box.get_nowait()
                if msg is not None:
                    got.append(msg.payload)
            await asyncio.sleep(0.001)

    await asyncio.wait_for(drain(), WAIT)
    assert sorted(got) == list(range(40))  # each message once, to one of them


async def test_a_burst_arrives_whole_and_in_order(make_bus: MakeBus) -> None:
    pub, sub_bus = make_bus(), make_bus()
    sub = await sub_bus.subscribe("burst")
    inbox = await sub_bus.inbox("bulk")
    sends = [pub.send("bulk", i) for i in range(600)]  # concurrent: written as batches
    for i in range(3000):
        await pub.publish("burst", {"i": i, "pad": "x" * 200})
    await asyncio.gather(*sends)
    await pub.flush()
    assert [p["i"] for p in await take(sub, 3000)] == list(range(3000))
    assert await take(inbox, 600) == list(range(600))


async def test_first_pubsub_users_at_once_share_one_connection(make_bus: MakeBus) -> None:
    # An inbox, a subscription and requests opening the bus's pub/sub connection at the same
    # moment (as the handlers of one run do) must all end up on it: none may be lost.
    bus = make_bus()

    async def server() -> None:
        box = await bus.inbox("calc")
        for _ in range(3):
            msg = await box.get(timeout=WAIT)
            await bus.respond(msg, sum(msg.payload), sender="calc")

    async def ask(i: int) -> Any:
        return (await bus.request("calc", [i, 10], timeout=WAIT)).payload

    async def watch() -> Any:
        sub = await bus.subscribe("done.*")
        await bus.publish("done.x", "ok")
        return (await sub.get(timeout=WAIT)).payload

    *replies, seen, _ = await asyncio.gather(*(ask(i) for i in range(3)), watch(), server())
    assert replies == [10, 11, 12]
    assert seen == "ok"


async def test_namespaces_keep_applications_apart(make_bus: MakeBus) -> None:
    async with redis_namespace() as other_namespace:
        mine = make_bus()
        other = open_bus(REDIS_URL, namespace=other_namespace)
        try:
            sub = await other.subscribe("t")
            await mine.publish("t", "mine")
            await other.publish("t", "theirs")
            assert await take(sub, 1) == ["theirs"]
        finally:
            await other.close()


async def test_a_malformed_frame_is_dropped_with_a_warning(
    make_bus: MakeBus, caplog: pytest.LogCaptureFixture
) -> None:
    bus = make_bus()
    sub = await bus.subscribe("t")
    await bus._r.publish(f"{bus.namespace}:t:t", b"not json")
    await bus.publish("t", "fine")
    with caplog.at_level(logging.WARNING, logger="podium.bus"):
        assert await take(sub, 1) == ["fine"]
    assert "dropped a malformed frame" in caplog.text


async def test_closing_an_inbox_leaves_unread_messages_pending(make_bus: MakeBus) -> None:
    bus = make_bus()
    inbox = await bus.inbox("a")
    for i in range(3):
        await bus.send("a", i)
    await until(lambda: inbox.qsize() == 3)
    await inbox.close()
    again = await bus.inbox("a")  # same process: reads its own pending entries first
    assert await take(again, 3) == [0, 1, 2]


async def test_the_message_round_trips_every_field(make_bus: MakeBus) -> None:
    a, b = make_bus(), make_bus()
    inbox = await b.inbox("x")
    sent = await a.send("x", {"n": [1, 2.5, None, True, "é"]}, sender="s")
    got = await inbox.get(timeout=WAIT)
    assert got == sent and isinstance(got, Message)


# -- errors -------------------------------------------------------------------------------


async def test_an_unreachable_server_is_named_in_every_error() -> None:
    bus = open_bus("redis://127.0.0.1:1/0")
    with pytest.raises(BusError, match=r"cannot talk to Redis at redis://127.0.0.1:1/0: ") as info:
        await bus.send("a", 1)
    assert str(info.value).endswith("Start Redis or fix the bus URL.")
    await bus.publish("t", 1)  # queued: the write error comes with the next call
    with pytest.raises(BusError, match="cannot talk to Redis"):
        await bus.flush()
    with pytest.raises(BusError, match="cannot talk to Redis"):
        await bus.subscribe("t")
    with pytest.raises(BusError, match="cannot talk to Redis"):
        await bus.inbox("a")
    with pytest.raises(BusError, match="cannot talk to Redis"):
        await bus.join("g", "a")
    await bus.close()


async def test_a_failed_queued_write_is_raised_by_the_next_call() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0")
    await bus.publish("t", 1)
    await until(lambda: bus._lost is not None)  # the writer tried and failed meanwhile
    with pytest.raises(BusError, match="cannot talk to Redis"):
        await bus.publish("t", 2)
    await bus.close()


def test_bad_urls_and_options_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"bad Redis URL .*notaport.*redis://host:port/db"):
        open_bus("redis://127.0.0.1:notaport/0")
    with pytest.raises(ValidationError, match="bus namespace must be a non-empty string"):
        open_bus(REDIS_URL, namespace="")
    with pytest.raises(ValidationError, match="claim_idle must be a number of seconds"):
        open_bus(REDIS_URL, claim_idle=-1)
    with pytest.raises(TypeError):
        open_bus(REDIS_URL, colour="blue")


def test_without_the_redis_package_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(BusError, match=r"pip install 'podium\[redis\]'"):
        open_bus(REDIS_URL)


def test_open_bus_picks_the_implementation() -> None:
    assert isinstance(open_bus("redis://127.0.0.1:6379/0"), RedisBus)
    bus: Bus = open_bus("rediss://127.0.0.1:6380/0")
    assert bus.url == "rediss://127.0.0.1:6380/0"
    assert repr(bus) == "<RedisBus rediss://127.0.0.1:6380/0>"


def test_a_bus_is_used_from_one_event_loop() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0")
    asyncio.run(bus.publish("t", 1))
    with pytest.raises(BusError, match=r"belongs to another event loop.*one bus per event loop"):
        asyncio.run(bus.publish("t", 2))
