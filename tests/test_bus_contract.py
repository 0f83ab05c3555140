"""The bus contract: every implementation (memory, Redis) passes the same tests.

Redis tests use the server of ``_redis.py`` (PODIUM_TEST_REDIS_URL) with a fresh key namespace
per test; they skip when it is unreachable, and fail instead under PODIUM_REQUIRE_SERVICES=1.

To prove that a message did *not* arrive, a test sends a later marker message the same way
from the same sender and checks that the marker comes next (messages keep their order).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from _redis import REDIS_URL, redis_namespace
from podium import BusError, BusTimeout, ValidationError
from podium.bus import ALL, Bus, Inbox, Message, Subscription, open_bus

WAIT = 5.0  # seconds a test waits for a message that must arrive; never a timing assertion

MakeBus = Callable[[], Bus]


@pytest.fixture(params=["memory", "redis"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[MakeBus]:
    """``make_bus()`` opens a bus; for Redis every bus of one test shares a namespace (as
    processes of one application would). All are closed, and Redis keys dropped, after."""
    buses: list[Bus] = []
    async with AsyncExitStack() as stack:
        if request.param == "redis":
            namespace = await stack.enter_async_context(redis_namespace())

        def make() -> Bus:
            if request.param == "memory":
                bus = open_bus("memory")
            else:
                bus = open_bus(REDIS_URL, namespace=namespace)
            buses.append(bus)
            return bus

        yield make
        for bus in buses:
            await bus.close()


@pytest.fixture
def bus(make_bus: MakeBus) -> Bus:
    return make_bus()


async def next_payload(box: Subscription) -> Any:
    return (await box.get(timeout=WAIT)).payload


async def payloads(box: Subscription, n: int) -> list[Any]:
    return [await next_payload(box) for _ in range(n)]


# -- direct -------------------------------------------------------------------------------


async def test_send_reaches_the_agents_inbox_with_every_field(bus: Bus) -> None:
    inbox = await bus.inbox("writer")
    sent = await bus.send("writer", {"draft": [1, 2]}, sender="editor")
    got = await inbox.get(timeout=WAIT)
    assert got == sent
    assert (got.kind, got.sender, got.target, got.topic) == ("direct", "editor", "writer", "writer")
    assert got.payload == {"draft": [1, 2]}
    assert got.id and got.timestamp > 0 and got.correlation_id is None


async def test_a_message_sent_before_the_inbox_opens_waits_for_it(bus: Bus) -> None:
    await bus.send("late", "first")
    await bus.send("late", "second")
    inbox = await bus.inbox("late")
    assert await payloads(inbox, 2) == ["first", "second"]


async def test_each_senders_messages_arrive_in_order(bus: Bus) -> None:
    inbox = await bus.inbox("sink")

    async def sender(name: str) -> None:
        for i in range(50):
            await bus.send("sink", i, sender=name)

    await asyncio.gather(sender("a"), sender("b"))
    got: dict[str, list[int]] = {"a": [], "b": []}
    for _ in range(100):
        msg = await inbox.get(timeout=WAIT)
        got[msg.sender or ""].append(msg.payload)
    assert got == {"a": list(range(50)), "b": list(range(50))}


async def test_asking_twice_for_an_inbox_gives_the_same_one(bus: Bus) -> None:
    first = await bus.inbox("a")
    assert await bus.inbox("a") is first
    assert isinstance(first, Inbox) and first.agent == "a"


async def test_a_closed_inbox_keeps_messages_for_the_next_one(bus: Bus) -> None:
    inbox = await bus.inbox("a")
    await bus.send("a", 1)
    assert await next_payload(inbox) == 1
    await inbox.close()
    await inbox.close()  # twice is fine
    await bus.send("a", 2)
    again = await bus.inbox("a")
    assert again is not inbox
    assert await next_payload(again) == 2


# -- broadcast ----------------------------------------------------------------------------


async def test_broadcast_reaches_every_open_inbox_on_the_channel(bus: Bus) -> None:
    a = await bus.inbox("a")
    b = await bus.inbox("b")
    news = await bus.inbox("c", channels=["news"])
    await bus.broadcast(ALL, "hello all", sender="boss")
    await bus.broadcast("news", "hello news")
    assert await next_payload(a) == "hello all"
    assert await next_payload(b) == "hello all"
    assert await next_payload(news) == "hello news"  # c listens on "news" only
    msg = await bus.broadcast(ALL, "again")
    assert (await a.get(timeout=WAIT)).kind == "broadcast"
    assert msg.target == ALL


async def test_broadcast_misses_inboxes_not_open_at_the_time(bus: Bus) -> None:
    await bus.broadcast(ALL, "too early")
    await bus.flush()  # Redis has routed it (to nobody)
    inbox = await bus.inbox("late")
    await bus.broadcast(ALL, "marker")
    assert await next_payload(inbox) == "marker"


async def test_inbox_channels_add_up(bus: Bus) -> None:
    inbox = await bus.inbox("a", channels="x")  # one channel as a plain string
    assert await bus.inbox("a", channels=["y"]) is inbox
    assert inbox.channels == {"x", "y"}
    await bus.broadcast("x", 1)
    await bus.broadcast("y", 2)
    await bus.broadcast(ALL, 3)  # "a" did not ask for ALL
    await bus.broadcast("y", "marker")
    assert await payloads(inbox, 3) == [1, 2, "marker"]


# -- multicast ----------------------------------------------------------------------------


async def test_multicast_reaches_the_members_of_the_group(bus: Bus) -> None:
    boxes = {name: await bus.inbox(name) for name in ("a", "b", "c")}
    await bus.join("reviewers", "b")
    await bus.join("reviewers", "a")
    await bus.join("reviewers", "a")  # twice is fine
    assert await bus.members("reviewers") == ["a", "b"]
    sent = await bus.multicast("reviewers", {"review": 7}, sender="c")
    for name in ("a", "b"):
        got = await boxes[name].get(timeout=WAIT)
        assert (got.kind, got.target, got.payload, got.id) == (
            "multicast",
            "reviewers",
            {"review": 7},
            sent.id,
        )
    await bus.send("c", "marker")
    assert await next_payload(boxes["c"]) == "marker"


async def test_leave_stops_multicasts(bus: Bus) -> None:
    a = await bus.inbox("a")
    await bus.join("g", "a")
    await bus.leave("g", "a")
    await bus.leave("g", "a")  # not a member: fine
    assert await bus.members("g") == []
    await bus.multicast("g", "nobody hears this")
    await bus.send("a", "marker")
    assert await next_payload(a) == "marker"


async def test_multicast_waits_in_inboxes_not_open_yet(bus: Bus) -> None:
    await bus.join("g", "later")
    await bus.multicast("g", "kept")
    inbox = await bus.inbox("later")
    assert await next_payload(inbox) == "kept"


# -- publish / subscribe ------------------------------------------------------------------


async def test_publish_reaches_every_subscriber_of_the_topic(bus: Bus) -> None:
    one = await bus.subscribe("news")
    two = await bus.subscribe("news")
    sent = await bus.publish("news", {"n": 1}, sender="press")
    for sub in (one, two):
        got = await sub.get(timeout=WAIT)
        assert (got.kind, got.topic, got.sender, got.payload, got.id) == (
            "publish",
            "news",
            "press",
            {"n": 1},
            sent.id,
        )


async def test_wildcard_patterns_match_topics(bus: Bus) -> None:
    research = await bus.subscribe("research.*")
    everything = await bus.subscribe("*")
    for topic in ("research.web", "research.web.deep", "researchers", "other.web", "research."):
        await bus.publish(topic, topic)
    await bus.publish("research.marker", "marker")
    assert await payloads(research, 4) == [
        "research.web",
        "research.web.deep",
        "research.",
        "marker",
    ]
    assert len(await payloads(everything, 6)) == 6


async def test_pattern_characters_other_than_star_are_literal(bus: Bus) -> None:
    sub = await bus.subscribe("a[1]?.*")
    await bus.publish("a1x.b", "not this")
    await bus.publish("a[1]?.b", "this")
    assert await next_payload(sub) == "this"


async def test_publish_keeps_order_across_topics_for_a_pattern(bus: Bus) -> None:
    sub = await bus.subscribe("t.*")
    for i in range(300):
        await bus.publish(f"t.{i % 3}", i)
    assert await payloads(sub, 300) == list(range(300))


async def test_publish_without_subscribers_is_dropped(bus: Bus) -> None:
    msg = await bus.publish("nobody.listens", 1)
    assert msg.kind == "publish"
    sub = await bus.subscribe("nobody.listens")
    await bus.publish("nobody.listens", "marker")
    assert await next_payload(sub) == "marker"


async def test_unsubscribe_stops_delivery_and_ends_iteration(bus: Bus) -> None:
    sub = await bus.subscribe("t")
    other = await bus.subscribe("t")
    await sub.close()
    await sub.close()  # twice is fine
    assert sub.closed
    await bus.publish("t", 1)
    assert await next_payload(other) == 1  # the other subscriber still gets it
    assert [m async for m in sub] == []
    with pytest.raises(BusError, match=r"subscription to 't' is closed"):
        await sub.get()


async def test_subscription_as_context_manager_closes(bus: Bus) -> None:
    async with await bus.subscribe("t") as sub:
        await bus.publish("t", 1)
        assert await next_payload(sub) == 1
    assert sub.closed


async def test_async_for_reads_in_order(bus: Bus) -> None:
    sub = await bus.subscribe("t")
    for i in range(5):
        await bus.publish("t", i)
    got = []
    async for msg in sub:
        got.append(msg.payload)
        if len(got) == 5:
            break
    assert got == [0, 1, 2, 3, 4]


async def test_a_reader_waiting_on_a_subscription_wakes_up(bus: Bus) -> None:
    sub = await bus.subscribe("t")
    reader = asyncio.create_task(sub.get(timeout=WAIT))
    await asyncio.sleep(0)
    await bus.publish("t", "wake")
    assert (await reader).payload == "wake"


async def test_maxsize_keeps_the_newest_messages(bus: Bus) -> None:
    small = await bus.subscribe("t", maxsize=2)
    full = await bus.subscribe("t")
    for i in range(5):
        await bus.publish("t", i)
    assert await payloads(full, 5) == [0, 1, 2, 3, 4]
    assert [small.get_nowait().payload, small.get_nowait().payload] == [3, 4]  # type: ignore[union-attr]
    assert small.get_nowait() is None


async def test_get_timeout_raises_bus_timeout(bus: Bus) -> None:
    sub = await bus.subscribe("quiet")
    with pytest.raises(BusTimeout, match=r"no message on subscription to 'quiet' within 0.01s"):
        await sub.get(timeout=0.01)
    inbox = await bus.inbox("idle")
    with pytest.raises(TimeoutError, match=r"no message on inbox of agent 'idle'"):
        await inbox.get(timeout=0.01)


# -- request / response -------------------------------------------------------------------


def serve(bus: Bus, box: Subscription, answer: Callable[[Message], Any]) -> asyncio.Task[None]:
    async def loop() -> None:
        async for msg in box:
            if msg.kind == "request":
                await bus.respond(msg, answer(msg), sender="server")

    return asyncio.create_task(loop())


async def test_request_gets_the_reply_with_the_correlation_id(bus: Bus) -> None:
    server = serve(bus, await bus.inbox("calc"), lambda m: sum(m.payload["args"]))
    reply = await bus.request("calc", {"args": [1, 2, 3]}, timeout=WAIT, sender="client")
    assert (reply.kind, reply.payload, reply.sender, reply.target) == (
        "reply",
        6,
        "server",
        "client",
    )
    assert reply.correlation_id and reply.correlation_id != reply.id
    replies = await asyncio.gather(
        *(bus.request("calc", {"args": [i]}, timeout=WAIT) for i in range(20))
    )
    assert [r.payload for r in replies] == list(range(20))
    server.cancel()


async def test_the_request_carries_its_id_as_correlation_id(bus: Bus) -> None:
    inbox = await bus.inbox("s")
    pending = asyncio.create_task(bus.request("s", "q", timeout=WAIT, sender="c"))
    req = await inbox.get(timeout=WAIT)
    assert (req.kind, req.correlation_id, req.sender) == ("request", req.id, "c")
    assert req.reply_to
    await bus.respond(req, "a")
    assert (await pending).correlation_id == req.id


async def test_request_to_a_topic_gets_the_first_reply(bus: Bus) -> None:
    server = serve(bus, await bus.subscribe("math.*"), lambda m: m.payload * 2)
    reply = await bus.request("math.double", 21, timeout=WAIT, topic=True)
    assert reply.payload == 42
    server.cancel()


async def test_request_without_reply_raises_a_clear_timeout(bus: Bus) -> None:
    with pytest.raises(BusTimeout) as info:
        await bus.request("nobody", {"q": 1}, timeout=0.05)
    err = info.value
    assert isinstance(err, TimeoutError)
    assert "no reply from agent 'nobody'" in str(err) and "within 0.05s" in str(err)
    assert "bus.inbox('nobody')" in str(err) and "bus.respond(message, payload)" in str(err)
    assert (err.target, err.timeout, err.field) == ("nobody", 0.05, "timeout")
    assert err.correlation_id and err.correlation_id in str(err)
    with pytest.raises(BusTimeout, match=r"no reply to request .* on topic 'void'.*subscribes"):
        await bus.request("void", 1, timeout=0.05, topic=True)


async def test_a_late_reply_is_dropped(bus: Bus) -> None:
    inbox = await bus.inbox("slow")
    with pytest.raises(BusTimeout):
        await bus.request("slow", 1, timeout=0.05)
    req = await inbox.get(timeout=WAIT)
    late = await bus.respond(req, "too late")
    assert late.kind == "reply"
    await bus.flush()


async def test_respond_only_answers_requests(bus: Bus) -> None:
    inbox = await bus.inbox("a")
    await bus.send("a", 1)
    msg = await inbox.get(timeout=WAIT)
    with pytest.raises(ValidationError, match=r"is a 'direct' message, not a request") as info:
        await bus.respond(msg, 2)
    assert info.value.field == "request"
    with pytest.raises(ValidationError, match="respond\\(\\) answers a Message"):
        await bus.respond({"id": 1}, 2)  # type: ignore[arg-type]


# -- bad input ----------------------------------------------------------------------------

NOT_JSON: list[tuple[str, Callable[[Bus, Any], Awaitable[Any]]]] = [
    ("send", lambda b, p: b.send("a", p)),
    ("broadcast", lambda b, p: b.broadcast(ALL, p)),
    ("multicast", lambda b, p: b.multicast("g", p)),
    ("publish", lambda b, p: b.publish("t", p)),
    ("request", lambda b, p: b.request("a", p, timeout=1)),
]


@pytest.mark.parametrize(("mode", "call"), NOT_JSON, ids=[m for m, _ in NOT_JSON])
async def test_a_payload_that_is_not_json_is_refused(
    bus: Bus, mode: str, call: Callable[[Bus, Any], Awaitable[Any]]
) -> None:
    with pytest.raises(ValidationError) as info:
        await call(bus, {"items": [1, {2, 3}]})
    assert info.value.field == "payload"
    assert "payload contains ['items'][1]: a set, which is not JSON" in str(info.value)
    assert "Messages cross process boundaries" in str(info.value)


async def test_a_reply_that_is_not_json_is_refused(bus: Bus) -> None:
    inbox = await bus.inbox("s")
    pending = asyncio.create_task(bus.request("s", 1, timeout=WAIT))
    req = await inbox.get(timeout=WAIT)
    with pytest.raises(ValidationError, match=r"payload contains a tuple \(return a list"):
        await bus.respond(req, (1, 2))
    await bus.respond(req, [1, 2])
    assert (await pending).payload == [1, 2]


async def test_bad_names_are_refused_with_the_field(bus: Bus) -> None:
    with pytest.raises(ValidationError, match=r"bus to must be a non-empty string, got ''"):
        await bus.send("", 1)
    with pytest.raises(ValidationError, match=r"cannot publish to 'a\.\*': '\*' is a wildcard"):
        await bus.publish("a.*", 1)
    with pytest.raises(ValidationError, match=r"bus agent must be a non-empty string, got 3"):
        await bus.inbox(3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="bus channel must be"):
        await bus.inbox("a", channels=[""])
    with pytest.raises(ValidationError, match="bus group must be"):
        await bus.join(None, "a")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="timeout must be a positive number") as info:
        await bus.request("a", 1, timeout=0)
    assert info.value.field == "timeout"
    with pytest.raises(ValidationError, match="sender must be an agent name"):
        await bus.send("a", 1, sender=7)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="maxsize must be a positive int"):
        await bus.subscribe("t", maxsize=0)
    with pytest.raises(ValidationError, match="bus topic must be"):
        await bus.publish(["t"], 1)  # type: ignore[arg-type]


# -- close --------------------------------------------------------------------------------


async def test_close_ends_readers_fails_requests_and_refuses_new_calls(bus: Bus) -> None:
    sub = await bus.subscribe("t")
    inbox = await bus.inbox("a")
    readers = [asyncio.create_task(_drain(sub)), asyncio.create_task(_drain(inbox))]
    pending = asyncio.create_task(bus.request("nobody", 1, timeout=WAIT))
    await asyncio.sleep(0.05)  # let the readers and the request start waiting
    await bus.close()
    assert await asyncio.gather(*readers) == [[], []]
    with pytest.raises(BusError, match=r"closed while request .* waited for its reply"):
        await pending
    assert sub.closed and inbox.closed
    with pytest.raises(BusError, match=r"bus.* is closed; open a new one"):
        await bus.send("a", 1)
    with pytest.raises(BusError, match="is closed"):
        await bus.subscribe("t")
    with pytest.raises(BusError, match="is closed"):
        await inbox.get()
    await bus.close()  # twice is fine


async def test_bus_as_context_manager_closes(make_bus: MakeBus) -> None:
    async with make_bus() as bus:
        sub = await bus.subscribe("t")
    assert sub.closed


async def _drain(box: Subscription) -> list[Any]:
    return [m.payload async for m in box]
