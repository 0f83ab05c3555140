"""The Redis bus: agents in several processes (or machines) talk through one Redis server.

Needs ``pip install 'podium[redis]'``. Keys and channels start with ``<namespace>:`` (default
``podium``): ``in:<agent>`` inbox streams, ``g:<group>`` group sets, ``t:<topic>`` topic
channels, ``b:<channel>`` broadcast channels, ``r:<bus id>`` reply channels.

Delivery guarantees:

- ``send``, ``multicast``, ``request`` to an agent: **at least once**. The message is appended
  to the agent's inbox stream (``send`` returns once Redis has it), stays there until read,
  also when no inbox is open yet, and is acknowledged (and deleted) when ``get()`` hands it
  out. If a process dies holding messages it read from Redis but had not handed out yet,
  they are redelivered when an inbox of that agent is opened and they have waited
  ``claim_idle`` seconds (default 30), so a message can arrive twice: give handlers an
  idempotency key. Several processes opening the same agent's inbox share its messages
  (each message goes to one of them).
- ``publish``, ``broadcast`` and replies: **at most once**, over Redis pub/sub. Only
  subscriptions (inboxes, for broadcasts) open when Redis routes the message get it; a
  subscriber disconnected at that moment, or so slow that Redis drops it
  (``client-output-buffer-limit pubsub``), misses it. ``publish`` returns once the message is
  queued in this process; ``await bus.flush()`` waits until Redis has it, and a write error
  is raised by the next call.
- ``request``/``respond``: the reply goes to the requester's process over pub/sub; the first
  reply wins, later ones are dropped.

Messages from one sender to one inbox or subscription arrive in the order they were sent.
Sends are written in batches: every message queued while a write is in flight goes out in
the next pipeline, and consecutive messages to one destination share one Redis command.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

from .._utils.json_values import _ATOMS
from ..errors import BusError, BusUnavailable, ValidationError
from ._redis_inbox import GROUP, RedisInbox, decode
from .base import (
    ALL,
    Bus,
    Inbox,
    Message,
    Subscription,
    channels_of,
    check_maxsize,
    check_name,
    check_payload,
    check_request,
    check_sender,
    check_timeout,
    check_topic,
    fail_requests,
    no_reply,
)

__all__ = ["RedisBus"]

log = logging.getLogger("podium.bus")

_FRAME_MESSAGES = 512  # messages per Redis command (one PUBLISH or XADD carries a JSON array)
_FRAME_BYTES = 512 * 1024
_HIGH_WATER = 8192  # queued messages beyond which publish() waits for the write in flight
# Acknowledgements ride along with the next write, or go out on their own after this delay:
# one pipeline per message handed out would double the commands of a busy inbox.
_ACK_DELAY = 0.02
_STOP_TIMEOUT = 5.0  # seconds to wait for the pub/sub reader to stop before cancelling it
_CONFIRM_TIMEOUT = 10.0  # seconds to wait for Redis to confirm a subscription
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

# Adds one stream entry to the inbox of every member of a group, atomically: no member can
# join or leave between reading the group and writing to it.
_MULTICAST = """
local members = redis.call('SMEMBERS', KEYS[1])
for _, m in ipairs(members) do
  redis.call('XADD', ARGV[1] .. m, '*', 'm', ARGV[2])
end
return #members
"""


def _import_redis() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise BusError(
            "the Redis bus needs the redis package: pip install 'podium[redis]'.", field="bus"
        ) from e
    return aioredis


def _glob_escape(text: str) -> str:
    return re.sub(r"([\\*?\[\]])", r"\\\1", text)


class RedisBus(Bus):
    """A bus shared by processes through Redis; see the module docstring for its guarantees.

    >>> bus = RedisBus("redis://127.0.0.1:6379/0", namespace="myapp")
    >>> await bus.send("writer", {"draft": 1})
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "podium",
        claim_idle: float = 30.0,
    ) -> None:
        aioredis = self._redis = _import_redis()
        check_name(namespace, "namespace")
        if type(claim_idle) not in (int, float) or claim_idle < 0:
            raise ValidationError(
                f"claim_idle must be a number of seconds >= 0, got {claim_idle!r}.",
                field="claim_idle",
            )
        self.url = url
        try:
            self._r = self._connect()
        except ValueError as e:
            raise ValidationError(
                f"bad Redis URL {url!r}: {e}. Use redis://host:port/db.", field="bus"
            ) from e
        self._errors: tuple[type[BaseException], ...] = (aioredis.RedisError, OSError)
        self.namespace = namespace
        self.claim_idle = float(claim_idle)
        self.id = secrets.token_hex(6)  # this bus: consumer name and reply channel
        self._ids = itertools.count(1).__next__
        self._ns = namespace + ":"
        self._reply_ch = f"{namespace}:r:{self.id}"
        self._reply_key = self._reply_ch.encode()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop its tasks run on
        self._multicast = self._r.register_script(_MULTICAST)
        # writing: [op, key, encoded messages, bytes]; only consecutive messages to one key
        # share an entry, so the order of every sender's messages is kept.
        self._out: list[list[Any]] = []
        self._out_n = 0
        self._acks: dict[str, list[bytes]] = {}
        self._pending: asyncio.Future[None] | None = None  # resolved when _out is written
        self._inflight: asyncio.Future[None] | None = None  # the write under way
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._ack_timer: asyncio.TimerHandle | None = None
        self._stop_writer = False
        self._lost: BusError | None = None  # a failed write nobody waited for
        self._unawaited = False  # the queued batch holds messages nobody waits on
        # reading
        self._ps: Any = None
        self._ps_task: asyncio.Task[None] | None = None
        self._ps_stop = False
        # One (P)SUBSCRIBE at a time: redis-py's PubSub opens its connection on the first
        # command, and first commands sent at once would each open one (all but the last,
        # with their subscriptions, lost).
        self._ps_lock = asyncio.Lock()
        self._local: dict[bytes, list[Subscription]] = {}  # channel -> subs and inboxes
        self._plocal: dict[bytes, list[Subscription]] = {}  # pattern -> subs
        self._confirm: dict[tuple[str, bytes], list[asyncio.Future[None]]] = {}
        self._boxes: dict[str, RedisInbox] = {}
        self._opened: set[str] = set()  # inbox streams read by this bus
        self._waiting: dict[str, asyncio.Future[Message]] = {}
        self._topics: dict[str, str] = {}  # topic -> channel, for topics already checked

    # -- errors ---------------------------------------------------------------------------

    def _connect(self, **options: Any) -> Any:
        """A redis-py client for this bus's server. RESP2: with it, redis-py checks a pooled
        connection for unread replies before reusing it."""
        return self._redis.Redis.from_url(self.url, protocol=2, **options)

    def _io_error(self, e: BaseException) -> BusError:
        gone = isinstance(
            e, self._redis.ConnectionError | self._redis.TimeoutError | OSError | ConnectionError
        )
        return (BusUnavailable if gone else BusError)(
            f"cannot talk to Redis at {self.url}: {str(e).rstrip('.')}. "
            "Start Redis or fix the bus URL.",
            field="bus",
        )

    def _check_open(self) -> None:
        if self._closed:
            raise BusError(
                f"the Redis bus for {self.url} is closed; open a new one with open_bus(url)."
            )
        if self._lost is not None:
            err, self._lost = self._lost, None
            raise err
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                raise BusError(
                    f"this Redis bus for {self.url} belongs to another event loop (its "
                    "connections and readers live there); open one bus per event loop, "
                    "e.g. per asyncio.run()."
                )
            self._loop = loop

    # -- writing --------------------------------------------------------------------------

    def _message(
        self,
        kind: str,
        sender: str | None,
        target: str,
        payload: Any,
        reply_to: str | None = None,
    ) -> Message:
        self._check_open()
        if type(payload) not in _ATOMS:
            check_payload(payload, target)
        if sender is not None and type(sender) is not str:
            check_sender(sender)
        mid = f"{self.id}-{self._ids()}"
        cid = mid if kind == "request" else None
        return Message(mid, kind, sender, target, payload, cid, reply_to, time.time())

    def _queue(self, op: str, key: str, msg: Message) -> asyncio.Future[None]:
        """Queue ``msg`` for the writer; the future resolves once Redis has it."""
        data = _encode(msg.to_list())
        out = self._out
        last = out[-1] if out else None
        if last is not None and last[1] == key and last[0] == op and last[3] < _FRAME_BYTES:
            last[2].append(data)
            last[3] += len(data)
        else:
            out.append([op, key, [data], len(data)])
        self._out_n += 1
        return self._kick()

    def _kick(self) -> asyncio.Future[None]:
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_future()
            self._wake.set()
            if self._writer is None:
                self._writer = asyncio.create_task(self._write_loop(), name="podium-bus-writer")
        return self._pending

    async def _confirmed(self, fut: asyncio.Future[None]) -> None:
        # shield: a caller that gives up must not cancel a write other callers wait on
        await asyncio.shield(fut)

    async def _backpressure(self) -> None:
        while self._out_n >= _HIGH_WATER:
            fut = self._inflight
            if fut is None:
                await asyncio.sleep(0)  # let the writer start
            else:
                try:
                    await asyncio.shield(fut)
                except BusError:
                    return  # reported by the next call

    def _ack(self, key: str, entry: bytes) -> None:
        self._acks.setdefault(key, []).append(entry)
        if self._pending is None and self._ack_timer is None:
            self._ack_timer = asyncio.get_running_loop().call_later(_ACK_DELAY, self._acks_due)

    def _acks_due(self) -> None:
        self._ack_timer = None
        if self._acks and not self._stop_writer:
            self._kick()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            out, acks, done = self._out, self._acks, self._pending
            if done is None:
                if self._stop_writer:
                    return
                continue
            self._out, self._acks, self._out_n, self._pending = [], {}, 0, None
            unawaited, self._unawaited = self._unawaited, False
            self._inflight = done
            try:
                await self._write(out, acks)
            except asyncio.CancelledError:
                done.cancel()
                raise
            except Exception as e:
                err = e if isinstance(e, BusError) else self._io_error(e)
                done.set_exception(err)
                done.exception()  # retrieved here; callers awaiting it get it too
                if unawaited:
                    self._lost = err
            else:
                done.set_result(None)
            finally:
                self._inflight = None

    async def _write(self, out: list[list[Any]], acks: dict[str, list[bytes]]) -> None:
        pipe = self._r.pipeline(transaction=False)
        inbox_prefix = self._ns + "in:"
        for op, key, items, _ in out:
            for i in range(0, len(items), _FRAME_MESSAGES):
                frame = "[" + ",".join(items[i : i + _FRAME_MESSAGES]) + "]"
                if op == "pub":
                    pipe.publish(key, frame)
                elif op == "add":
                    pipe.xadd(key, {"m": frame})
                else:  # "multi": key is the group's set
                    await self._multicast(keys=[key], args=[inbox_prefix, frame], client=pipe)
        for key, entries in acks.items():
            pipe.xack(key, GROUP, *entries)
            pipe.xdel(key, *entries)
        await pipe.execute()

    async def flush(self) -> None:
        """Wait until Redis has every message queued so far."""
        self._check_open()
        await self._flush()

    async def _flush(self) -> None:
        if self._acks:
            self._kick()
        while self._pending is not None or self._inflight is not None:
            fut = self._pending or self._inflight
            assert fut is not None
            try:
                await asyncio.shield(fut)
            except BusError:
                err, self._lost = self._lost, None
                if err is not None:
                    raise err from None
                raise

    # -- the five ways to talk ------------------------------------------------------------

    async def send(self, to: str, payload: Any, *, sender: str | None = None) -> Message:
        """At least once into the inbox stream of ``to``; returns once Redis has it."""
        check_name(to, "to")
        msg = self._message("direct", sender, to, payload)
        await self._confirmed(self._queue("add", f"{self._ns}in:{to}", msg))
        return msg

    async def multicast(self, group: str, payload: Any, *, sender: str | None = None) -> Message:
        """At least once into the inbox stream of every member; returns once Redis has it."""
        check_name(group, "group")
        msg = self._message("multicast", sender, group, payload)
        await self._confirmed(self._queue("multi", f"{self._ns}g:{group}", msg))
        return msg

    async def broadcast(self, channel: str, payload: Any, *, sender: str | None = None) -> Message:
        """At most once to every inbox open on ``channel``; returns once queued."""
        check_name(channel, "channel")
        msg = self._message("broadcast", sender, channel, payload)
        self._queue("pub", f"{self._ns}b:{channel}", msg)
        self._unawaited = True
        if self._out_n >= _HIGH_WATER:
            await self._backpressure()
        return msg

    async def publish(self, topic: str, payload: Any, *, sender: str | None = None) -> Message:
        """At most once to every matching subscription; returns once queued."""
        try:
            key = self._topics.get(topic)
        except TypeError:
            key = None
        if key is None:
            key = f"{self._ns}t:{check_topic(topic)}"
            if len(self._topics) < 4096:
                self._topics[topic] = key
        msg = self._message("publish", sender, topic, payload)
        self._queue("pub", key, msg)
        self._unawaited = True
        if self._out_n >= _HIGH_WATER:
            await self._backpressure()
        return msg

    async def request(
        self,
        to: str,
        payload: Any,
        *,
        timeout: float = 10.0,
        sender: str | None = None,
        topic: bool = False,
    ) -> Message:
        """Send like `send` (or `publish` with ``topic=True``); the reply comes over pub/sub."""
        timeout = check_timeout(timeout)
        key = f"{self._ns}t:{check_topic(to)}" if topic else f"{self._ns}in:{check_name(to, 'to')}"
        self._check_open()
        await self._listen_replies()
        msg = self._message("request", sender, to, payload, reply_to=self._reply_ch)
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[msg.id] = fut
        try:
            async with asyncio.timeout(timeout):
                await self._confirmed(self._queue("pub" if topic else "add", key, msg))
                return await fut
        except TimeoutError:
            raise no_reply(to, msg.id, timeout, topic) from None
        finally:
            self._waiting.pop(msg.id, None)

    async def respond(
        self, request: Message, payload: Any, *, sender: str | None = None
    ) -> Message:
        """At most once to the requester's process; returns once queued."""
        check_request(request)
        reply = self._message("reply", sender, request.sender or request.reply_to or "", payload)
        reply.correlation_id = request.correlation_id
        self._queue("pub", request.reply_to or "", reply)
        self._unawaited = True
        return reply

    async def _listen_replies(self) -> None:
        if self._ps_task is None:
            await self._pubsub()

    # -- groups ---------------------------------------------------------------------------

    async def join(self, group: str, agent: str) -> None:
        await self._call(
            "sadd", f"{self._ns}g:{check_name(group, 'group')}", check_name(agent, "agent")
        )

    async def leave(self, group: str, agent: str) -> None:
        await self._call(
            "srem", f"{self._ns}g:{check_name(group, 'group')}", check_name(agent, "agent")
        )

    async def members(self, group: str) -> list[str]:
        names = await self._call("smembers", f"{self._ns}g:{check_name(group, 'group')}")
        return sorted(n.decode() for n in names)

    async def _call(self, command: str, *args: Any) -> Any:
        self._check_open()
        try:
            return await getattr(self._r, command)(*args)
        except self._errors as e:
            raise self._io_error(e) from e

    # -- pub/sub reading ------------------------------------------------------------------

    async def _pubsub(self) -> None:
        """Open the pub/sub connection and its reader. It always listens on this bus's reply
        channel, which is also how close() wakes the reader up to stop it."""
        if self._ps is None:
            self._ps = self._r.pubsub()
            self._local[self._reply_key] = []
        if self._ps_task is None:
            await self._ps_command("subscribe", self._reply_key)

    async def _ps_command(self, command: str, name: bytes) -> None:
        """(P)SUBSCRIBE and wait for Redis to confirm, so that what is published after this
        returns is received."""
        if self._ps is None:
            await self._pubsub()
        fut = asyncio.get_running_loop().create_future()
        waiters = self._confirm.setdefault((command, name), [])
        waiters.append(fut)
        try:
            async with self._ps_lock:
                await getattr(self._ps, command)(name)
            if self._ps_task is None:
                self._ps_task = asyncio.create_task(self._ps_loop(), name="podium-bus-pubsub")
            async with asyncio.timeout(_CONFIRM_TIMEOUT):
                await fut
        except TimeoutError:
            raise BusError(
                f"Redis at {self.url} did not confirm {command} {name.decode()!r} within "
                f"{_CONFIRM_TIMEOUT}s; check that the server is responsive."
            ) from None
        except self._errors as e:
            raise self._io_error(e) from e
        finally:
            if fut in waiters:
                waiters.remove(fut)

    async def _ps_loop(self) -> None:
        ps = self._ps
        while not self._ps_stop:
            try:
                m = await ps.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # lost connection: redis-py resubscribes on reconnect
                if self._ps_stop:
                    return
                log.warning("podium bus: pub/sub read from %s failed: %s; retrying", self.url, e)
                await asyncio.sleep(0.5)
                continue
            if m is None or self._ps_stop:
                continue
            kind = m["type"]
            if kind == "message":
                subs = self._local.get(m["channel"])
            elif kind == "pmessage":
                subs = self._plocal.get(m["pattern"])
            else:
                if kind in ("subscribe", "psubscribe"):
                    for fut in self._confirm.get((kind, m["channel"]), ()):
                        if not fut.done():
                            fut.set_result(None)
                continue
            if subs is None:
                continue
            try:
                msgs = decode(m["data"])
            except Exception as e:
                log.warning("podium bus: dropped a malformed frame on %r: %s", m["channel"], e)
                continue
            if m["channel"] != self._reply_key or kind == "pmessage":
                for sub in subs:
                    sub._put_many(msgs)
            else:
                waiting = self._waiting
                for msg in msgs:
                    fut = waiting.get(msg.correlation_id or "")
                    if fut is not None and not fut.done():
                        fut.set_result(msg)

    async def _attach(
        self, table: dict[bytes, list[Subscription]], key: bytes, sub: Subscription, command: str
    ) -> None:
        subs = table.get(key)
        if subs:
            subs.append(sub)
            return
        table[key] = [sub]
        try:
            await self._ps_command(command, key)
        except BaseException:
            table.pop(key, None)
            raise

    async def _detach(
        self, table: dict[bytes, list[Subscription]], key: bytes, sub: Subscription, command: str
    ) -> None:
        subs = table.get(key)
        if subs is None or sub not in subs:
            return
        subs.remove(sub)
        if not subs:
            del table[key]
            if self._ps is not None and not self._closed:
                try:
                    async with self._ps_lock:
                        await getattr(self._ps, command)(key)
                except self._errors as e:
                    log.warning("podium bus: %s %r failed: %s", command, key, e)

    async def subscribe(self, topic: str, *, maxsize: int | None = None) -> Subscription:
        """Pub/sub subscription; ``*`` in ``topic`` becomes a PSUBSCRIBE pattern."""
        check_name(topic, "topic")
        check_maxsize(maxsize)
        self._check_open()
        sub = Subscription(self, topic, maxsize)
        if "*" in topic:
            pattern = _glob_escape(self._ns + "t:") + "*".join(map(_glob_escape, topic.split("*")))
            await self._attach(self._plocal, pattern.encode(), sub, "psubscribe")
        else:
            await self._attach(self._local, f"{self._ns}t:{topic}".encode(), sub, "subscribe")
        return sub

    async def _unsubscribe(self, sub: Subscription) -> None:
        topic = sub.topic
        if "*" in topic:
            pattern = _glob_escape(self._ns + "t:") + "*".join(map(_glob_escape, topic.split("*")))
            await self._detach(self._plocal, pattern.encode(), sub, "punsubscribe")
        else:
            await self._detach(self._local, f"{self._ns}t:{topic}".encode(), sub, "unsubscribe")

    # -- inboxes --------------------------------------------------------------------------

    async def inbox(self, agent: str, *, channels: Iterable[str] = (ALL,)) -> Inbox:
        """The agent's inbox: its stream (read through a consumer group) plus broadcasts."""
        check_name(agent, "agent")
        names = channels_of(channels)
        self._check_open()
        box = self._boxes.get(agent)
        if box is None:
            key = f"{self._ns}in:{agent}"
            box = RedisInbox(self, agent, key)
            try:
                await self._ensure_group(key)
            except self._errors as e:
                raise self._io_error(e) from e
            self._boxes[agent] = box
            self._opened.add(key)
            box.start()
        for c in names:
            if c not in box.channels:
                box.channels.add(c)
                await self._attach(self._local, f"{self._ns}b:{c}".encode(), box, "subscribe")
        return box

    async def _ensure_group(self, key: str) -> None:
        try:
            # id 0: messages sent before the first inbox was ever opened are read too
            await self._r.xgroup_create(key, GROUP, id="0", mkstream=True)
        except Exception as e:
            if "BUSYGROUP" not in str(e):
                raise

    async def _close_inbox(self, box: Inbox) -> None:
        assert isinstance(box, RedisInbox)
        if self._boxes.get(box.agent) is box:
            del self._boxes[box.agent]
        await box.stop()
        for c in box.channels:
            await self._detach(self._local, f"{self._ns}b:{c}".encode(), box, "unsubscribe")

    # -- closing --------------------------------------------------------------------------

    async def close(self) -> None:
        """Write what is queued, end every subscription and inbox, disconnect."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._flush()
        except BusError as e:
            log.warning("podium bus: messages lost on close: %s", e)
        boxes = list(self._boxes.values())
        self._boxes.clear()
        for table in (self._local, self._plocal):
            for subs in table.values():
                for sub in subs:
                    sub._shut()
        for box in boxes:
            box._shut()
        fail_requests(self._waiting)
        await asyncio.gather(*(box.stop() for box in boxes))
        await self._stop_pubsub()
        try:
            await self._flush()  # acknowledgements of the last messages handed out
            await self._forget_consumer()
        except (BusError, *self._errors) as e:
            log.warning("podium bus: cleanup on close failed: %s", e)
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        if self._writer is not None:
            self._stop_writer = True
            self._wake.set()
            await asyncio.gather(self._writer, return_exceptions=True)
        if self._ps is not None:
            await self._ps.aclose()
        await self._r.aclose()

    async def _stop_pubsub(self) -> None:
        """Stop the pub/sub reader: wake it with an empty frame on its own reply channel."""
        task = self._ps_task
        if task is None:
            return
        self._ps_stop = True
        try:
            await self._r.publish(self._reply_ch, "[]")
            await asyncio.wait([task], timeout=_STOP_TIMEOUT)
        except self._errors:
            pass
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _forget_consumer(self) -> None:
        """Remove this bus from the consumer groups it read, unless it holds unacknowledged
        entries (those stay pending so another inbox can claim them)."""
        for key in self._opened:
            pending = await self._r.xpending_range(key, GROUP, "-", "+", 1, consumername=self.id)
            if not pending:
                await self._r.xgroup_delconsumer(key, GROUP, self.id)
