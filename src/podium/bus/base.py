"""The bus interface, the message type, and the queues messages are read from.

A bus carries JSON messages between agents in five ways. An agent's name is its address; one
bus instance is shared by every agent of an orchestrator (or of a process, for Redis).

    mode                  call                               arrives in
    direct                send(to, payload)                  the inbox of agent ``to``
    broadcast             broadcast(channel, payload)        every open inbox listening on channel
    multicast             multicast(group, payload)          the inbox of every member of group
    publish-subscribe     publish(topic, payload)            every subscription matching topic
    request-response      request(to, payload, timeout=...)  inbox of ``to``; reply via respond()

Delivery guarantees differ by implementation and are listed in each module's docstring.
Messages from one sender to one destination arrive in the order they were sent.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._utils.json_values import _ATOMS, json_problem
from ..errors import BusError, BusTimeout, ValidationError

__all__ = ["ALL", "Bus", "Inbox", "Message", "Subscription"]

ALL = "all"
"""The broadcast channel every inbox listens on unless told otherwise."""


@dataclass(slots=True)
class Message:
    """One message on the bus. Treat it as read-only: a message may be shared by receivers.

    ``kind`` is ``direct``, ``broadcast``, ``multicast``, ``publish``, ``request`` or
    ``reply``; ``target`` is the agent, channel, group or topic it was sent to. A request's
    ``correlation_id`` is its own id, and its reply carries the same ``correlation_id``.
    """

    id: str
    kind: str
    sender: str | None
    target: str
    payload: Any
    correlation_id: str | None = None
    reply_to: str | None = None
    timestamp: float = 0.0

    @property
    def topic(self) -> str:
        """The topic (or channel, group, agent) the message was sent to: ``target``."""
        return self.target

    def to_list(self) -> list[Any]:
        """The message as a compact JSON array (the wire form); `from_list` reverses it."""
        return [
            self.id,
            self.kind,
            self.sender,
            self.target,
            self.payload,
            self.correlation_id,
            self.reply_to,
            self.timestamp,
        ]

    @classmethod
    def from_list(cls, fields: list[Any]) -> Message:
        return cls(*fields)


def check_name(value: Any, field: str) -> str:
    """``value`` if it is a usable address (a non-empty string), else a ValidationError."""
    if type(value) is not str or not value:
        raise ValidationError(
            f"bus {field} must be a non-empty string, got {value!r}.", field=field
        )
    return value


def check_topic(value: Any) -> str:
    """A topic to publish to: a name without the ``*`` wildcard (that is for subscribing)."""
    check_name(value, "topic")
    if "*" in value:
        raise ValidationError(
            f"cannot publish to {value!r}: '*' is a wildcard for subscribe(); "
            "publish to a concrete topic such as 'research.web'.",
            field="topic",
        )
    return value


def check_payload(payload: Any, target: str) -> None:
    """A ValidationError naming the place in ``payload`` that is not JSON."""
    if type(payload) in _ATOMS:
        return
    problem = json_problem(payload)
    if problem is not None:
        raise ValidationError(
            f"message to {target!r}: payload contains {problem}, which is not JSON. Messages "
            "cross process boundaries: send dicts, lists, strings, numbers, booleans or None.",
            field="payload",
        )


def check_timeout(timeout: Any) -> float:
    if type(timeout) not in (int, float) or not timeout > 0:
        raise ValidationError(
            f"timeout must be a positive number of seconds, got {timeout!r}.", field="timeout"
        )
    return float(timeout)


def check_request(message: Any) -> Message:
    """The request to answer, or a ValidationError saying why ``message`` cannot be answered."""
    if not isinstance(message, Message):
        raise ValidationError(
            f"respond() answers a Message received from the bus, got {type(message).__name__}.",
            field="request",
        )
    if message.kind != "request" or not message.correlation_id or not message.reply_to:
        raise ValidationError(
            f"message {message.id!r} is a {message.kind!r} message, not a request: only "
            "messages sent with bus.request() can be answered with respond().",
            field="request",
        )
    return message


def check_maxsize(maxsize: Any) -> int | None:
    if maxsize is not None and (type(maxsize) is not int or maxsize < 1):
        raise ValidationError(
            f"maxsize must be a positive int or None, got {maxsize!r}.", field="maxsize"
        )
    return maxsize


def check_sender(sender: Any) -> None:
    if sender is not None and (type(sender) is not str or not sender):
        raise ValidationError(
            f"bus sender must be an agent name (a non-empty string) or None, got {sender!r}.",
            field="sender",
        )


def channels_of(channels: Iterable[str]) -> list[str]:
    if isinstance(channels, str):  # inbox("a", channels="news") means one channel
        channels = (channels,)
    return [check_name(c, "channel") for c in channels]


def no_reply(to: str, request_id: str, timeout: float, topic: bool) -> BusTimeout:
    """The error for a request nobody answered, saying where to look."""
    if topic:
        msg = (
            f"no reply to request {request_id!r} on topic {to!r} within {timeout}s. Check that "
            f"something subscribes to {to!r} and answers with bus.respond(message, payload), "
            "or allow more time with timeout=."
        )
    else:
        msg = (
            f"no reply from agent {to!r} to request {request_id!r} within {timeout}s. Check "
            f"that agent {to!r} reads its inbox (bus.inbox({to!r})) and answers with "
            "bus.respond(message, payload), or allow more time with timeout=."
        )
    return BusTimeout(msg, target=to, timeout=timeout, correlation_id=request_id, field="timeout")


def fail_requests(waiting: dict[str, asyncio.Future[Message]]) -> None:
    """Fail the requests still waiting for a reply (``correlation id -> future``) when their
    bus closes."""
    for cid, fut in waiting.items():
        if not fut.done():
            fut.set_exception(
                BusError(f"the bus was closed while request {cid!r} waited for its reply.")
            )


class Subscription:
    """Messages that matched one topic or pattern, in arrival order.

    Read with ``await sub.get()`` or ``async for msg in sub``; iteration ends when the
    subscription or the bus is closed. Use it as ``async with await bus.subscribe(t) as sub``
    to close it on exit. ``maxsize`` (when set) keeps only the newest unread messages.
    """

    __slots__ = ("_bus", "_closed", "_q", "_waiters", "maxsize", "topic")

    def __init__(self, bus: Bus, topic: str, maxsize: int | None = None) -> None:
        self._bus = bus
        self.topic = topic
        self.maxsize = maxsize
        # A deque, not an asyncio.Queue: delivery is an append plus, only when a reader is
        # waiting, one future wake-up, so a burst of messages wakes the reader once.
        self._q: deque[Message] = deque(maxlen=maxsize)
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def qsize(self) -> int:
        """How many messages are waiting to be read."""
        return len(self._q)

    def _put(self, msg: Message) -> None:
        self._q.append(msg)
        if self._waiters:
            self._wake()

    def _put_many(self, msgs: Iterable[Message]) -> None:
        self._q.extend(msgs)
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters:
            w = waiters.popleft()
            if not w.done():
                w.set_result(None)
                return

    def _closed_error(self) -> BusError:
        return BusError(f"{self._what()} is closed; there is nothing more to read.")

    def _what(self) -> str:
        return f"subscription to {self.topic!r}"

    async def get(self, timeout: float | None = None) -> Message:
        """The next message; waits for one (at most ``timeout`` seconds, then `BusTimeout`).

        Raises `BusError` once the subscription is closed.
        """
        q = self._q
        if q:
            return q.popleft()
        await self._wait(timeout)
        return q.popleft()

    def get_nowait(self) -> Message | None:
        """The next message if one is waiting, else None."""
        return self._q.popleft() if self._q else None

    async def _wait(self, timeout: float | None) -> None:
        """Return once ``self._q`` has a message; raise if closed or out of time."""
        loop = asyncio.get_running_loop()
        while not self._q:
            if self._closed:
                raise self._closed_error()
            w = loop.create_future()
            self._waiters.append(w)
            try:
                if timeout is None:
                    await w
                else:
                    try:
                        async with asyncio.timeout(timeout):
                            await w
                    except TimeoutError:
                        raise BusTimeout(
                            f"no message on {self._what()} within {timeout}s.",
                            target=self.topic,
                            timeout=timeout,
                        ) from None
            except BaseException:
                # Woken but leaving (cancelled or timed out): pass the wake-up on.
                w.cancel()
                if self._q and self._waiters:
                    self._wake()
                raise

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        q = self._q
        if q:
            return q.popleft()
        try:
            await self._wait(None)
        except BusError:
            if self._closed:
                raise StopAsyncIteration from None
            raise
        return q.popleft()

    def _shut(self) -> None:
        """Stop: drop unread messages and wake every reader (they see ``closed``)."""
        self._closed = True
        self._q.clear()
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_result(None)

    async def close(self) -> None:
        """Stop receiving; unread messages are dropped. Closing twice is fine."""
        if not self._closed:
            self._shut()
            await self._bus._unsubscribe(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._q)} waiting"
        return f"<{type(self).__name__} {self.topic!r} {state}>"


class Inbox(Subscription):
    """An agent's mailbox: direct messages, requests, multicasts to its groups and broadcasts
    on its channels. ``agent`` is its address; ``channels`` the broadcast channels it hears.

    Closing an inbox keeps its unread messages, and those sent to the agent afterwards, for
    the agent's next ``bus.inbox(agent)``; only broadcasts are missed while no inbox is open.
    """

    __slots__ = ("channels",)

    def __init__(self, bus: Bus, agent: str, channels: Iterable[str] = ()) -> None:
        super().__init__(bus, agent)
        self.channels: set[str] = set(channels)

    @property
    def agent(self) -> str:
        return self.topic

    def _what(self) -> str:
        return f"inbox of agent {self.topic!r}"

    async def close(self) -> None:
        """Stop receiving; unread and later messages wait for the agent's next inbox."""
        if not self._closed:
            self._closed = True
            await self._bus._close_inbox(self)
            self._shut()


class Bus(ABC):
    """Messaging between agents: direct, broadcast, multicast, publish-subscribe, request.

    >>> bus = open_bus("memory")
    >>> inbox = await bus.inbox("writer")
    >>> await bus.send("writer", {"draft": 1}, sender="editor")
    >>> (await inbox.get()).payload
    {'draft': 1}

    Every payload must be a JSON value (`ValidationError` otherwise). Every method raises
    `BusError` after `close()`.
    """

    url: str

    @abstractmethod
    async def send(self, to: str, payload: Any, *, sender: str | None = None) -> Message:
        """Send ``payload`` to the agent named ``to``; it waits in that agent's inbox until read,
        even when no inbox is open yet."""

    @abstractmethod
    async def broadcast(self, channel: str, payload: Any, *, sender: str | None = None) -> Message:
        """Deliver ``payload`` to every inbox open now and listening on ``channel``
        (every inbox hears `ALL` by default). Inboxes opened later do not get it."""

    @abstractmethod
    async def multicast(self, group: str, payload: Any, *, sender: str | None = None) -> Message:
        """Send ``payload`` to the inbox of every agent in ``group`` (see `join`), like `send`
        to each member. A group without members gets nothing."""

    @abstractmethod
    async def publish(self, topic: str, payload: Any, *, sender: str | None = None) -> Message:
        """Deliver ``payload`` to every subscription whose topic or pattern matches ``topic``
        now. Nobody subscribed: the message is dropped."""

    @abstractmethod
    async def subscribe(self, topic: str, *, maxsize: int | None = None) -> Subscription:
        """Receive what is published to ``topic`` from now on. A ``*`` in ``topic`` matches
        any run of characters: ``research.*`` gets ``research.web`` and ``research.web.deep``.
        """

    @abstractmethod
    async def inbox(self, agent: str, *, channels: Iterable[str] = (ALL,)) -> Inbox:
        """The inbox of ``agent`` (one per agent and bus: asking again returns the same one,
        listening on the union of the channels asked for)."""

    @abstractmethod
    async def join(self, group: str, agent: str) -> None:
        """Add ``agent`` to ``group`` for `multicast`. Joining twice is fine."""

    @abstractmethod
    async def leave(self, group: str, agent: str) -> None:
        """Remove ``agent`` from ``group``. Leaving a group one is not in is fine."""

    @abstractmethod
    async def members(self, group: str) -> list[str]:
        """The agents in ``group``, sorted."""

    @abstractmethod
    async def request(
        self,
        to: str,
        payload: Any,
        *,
        timeout: float = 10.0,
        sender: str | None = None,
        topic: bool = False,
    ) -> Message:
        """Send a request to agent ``to`` (or, with ``topic=True``, to the subscribers of
        topic ``to``) and return the first reply; `BusTimeout` when none comes in time.

        >>> reply = await bus.request("calculator", {"op": "add", "args": [1, 2]}, timeout=2)
        >>> reply.payload
        3
        """

    @abstractmethod
    async def respond(
        self, request: Message, payload: Any, *, sender: str | None = None
    ) -> Message:
        """Answer ``request`` (a message of kind ``request``). A reply that comes after the
        requester gave up is dropped."""

    async def flush(self) -> None:  # noqa: B027 (only buffered buses need it)
        """Wait until every message sent so far has left this process."""

    @abstractmethod
    async def close(self) -> None:
        """Deliver what is buffered, then end every subscription and inbox of this bus (their
        readers stop) and fail pending requests. Closing twice is fine."""

    @abstractmethod
    async def _unsubscribe(self, sub: Subscription) -> None: ...

    @abstractmethod
    async def _close_inbox(self, box: Inbox) -> None: ...

    async def __aenter__(self) -> Bus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"
