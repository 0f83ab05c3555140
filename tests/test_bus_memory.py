"""In-memory bus specifics and open_bus(); the contract suite covers what every bus does."""

from __future__ import annotations

import asyncio

import pytest

from podium import ValidationError
from podium.bus import MemoryBus, Message, open_bus
from podium.bus.memory import compile_pattern


async def test_receivers_share_the_message_without_copying() -> None:
    bus = MemoryBus()
    one, two = await bus.subscribe("t"), await bus.subscribe("t*")
    payload = {"big": list(range(100))}
    sent = await bus.publish("t", payload)
    a, b = one.get_nowait(), two.get_nowait()
    assert a is sent and b is sent and sent.payload is payload


async def test_a_new_subscription_is_seen_by_topics_already_published_to() -> None:
    bus = MemoryBus()
    await bus.publish("news.today", 1)  # caches "no subscriber" for this topic
    sub = await bus.subscribe("news.*")
    await bus.publish("news.today", 2)
    assert sub.get_nowait().payload == 2  # type: ignore[union-attr]
    await sub.close()
    await bus.publish("news.today", 3)
    assert sub.get_nowait() is None


async def test_the_route_cache_stays_bounded() -> None:
    bus = MemoryBus()
    await bus.subscribe("t.*")
    for i in range(5000):
        await bus.publish(f"t.{i}", i)
    assert len(bus._routes) <= 4096


async def test_readers_of_one_subscription_share_its_messages() -> None:
    bus = MemoryBus()
    sub = await bus.subscribe("work")
    readers = [asyncio.create_task(sub.get()) for _ in range(3)]
    await asyncio.sleep(0)
    for i in range(3):
        await bus.publish("work", i)
    got = sorted([(await r).payload for r in readers])
    assert got == [0, 1, 2]


async def test_a_cancelled_reader_does_not_swallow_a_message() -> None:
    bus = MemoryBus()
    sub = await bus.subscribe("t")
    first = asyncio.create_task(sub.get())
    second = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    await bus.publish("t", "x")  # wakes the first reader...
    first.cancel()  # ...which leaves before it runs: the wake-up passes to the second
    assert (await second).payload == "x"


async def test_a_reply_on_another_bus_is_dropped() -> None:
    one, two = MemoryBus(), MemoryBus()
    inbox = await one.inbox("s")
    pending = asyncio.create_task(one.request("s", 1, timeout=5))
    req = await inbox.get(timeout=5)
    await two.respond(req, "wrong bus")  # not waited for there: dropped, no error
    await one.respond(req, "right bus")
    assert (await pending).payload == "right bus"


def test_patterns_match_like_redis_globs_with_only_star() -> None:
    regex = compile_pattern("a.*.c")
    assert regex.match("a.b.c") and regex.match("a..c") and regex.match("a.b.x.c")
    assert not regex.match("a.b.cd") and not regex.match("ab.c")
    assert compile_pattern("x?[y]").match("x?[y]")
    assert not compile_pattern("x?").match("xy")


def test_message_to_list_round_trips() -> None:
    msg = Message("i", "request", "s", "t", {"p": 1}, "i", "r", 1.5)
    assert Message.from_list(msg.to_list()) == msg
    assert msg.topic == "t"


def test_open_bus_errors_name_the_fix() -> None:
    assert isinstance(open_bus(), MemoryBus)
    assert isinstance(open_bus("memory://"), MemoryBus)
    with pytest.raises(ValidationError, match=r"unknown bus URL 'kafka://x': use 'memory' or") as e:
        open_bus("kafka://x")
    assert e.value.field == "bus"
    with pytest.raises(
        ValidationError, match=r"the memory bus takes no options, got \['namespace'\]"
    ):
        open_bus("memory", namespace="x")
    with pytest.raises(ValidationError, match="bus URL must be a string, got 3"):
        open_bus(3)  # type: ignore[arg-type]
