"""The in-memory bus: agents in one process (one event loop) talk through in-memory queues.

Delivery guarantees (nothing leaves the process; everything is lost when it ends):

- ``send``, ``multicast``, ``request`` to an agent: exactly once into the agent's inbox, kept
  until read, also when the inbox is opened later or closed and reopened.
- ``broadcast``: exactly once to each inbox open on the channel at that moment; inboxes that
  are not open miss it.
- ``publish``: exactly once to each subscription that matches at that moment, unless the
  subscription's ``maxsize`` is reached (then its oldest unread messages are dropped).
- ``request``/``respond``: the first reply wins; later replies and replies after the timeout
  are dropped.

Every receiver sees messages in the order they were sent. Receivers share the message and
its payload (nothing is copied): do not change a payload after sending it.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

from .._utils.json_values import _ATOMS
from ..errors import BusError
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

__all__ = ["MemoryBus"]

_MAX_ROUTES = 4096  # cached topic -> subscriptions lookups, cleared beyond this


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A regex for a subscribe pattern: ``*`` matches any run of characters, nothing else is
    special (the same as a Redis PSUBSCRIBE pattern with its other wildcards escaped)."""
    return re.compile(".*".join(map(re.escape, pattern.split("*"))) + r"\Z", re.DOTALL)


class MemoryBus(Bus):
    """A bus for the agents of one process; see the module docstring for its guarantees.

    >>> bus = MemoryBus()
    >>> sub = await bus.subscribe("research.*")
    >>> await bus.publish("research.web", {"url": "https://example.org"})
    >>> (await sub.get()).topic
    'research.web'
    """

    def __init__(self) -> None:
        self.url = "memory"
        self._prefix = secrets.token_hex(4) + "-"
        self._ids = itertools.count(1).__next__
        self._reply_to = f"memory:{self._prefix[:-1]}"
        self._boxes: dict[str, Inbox] = {}  # agent -> its (possibly not yet opened) inbox
        self._channels: dict[str, dict[Inbox, None]] = {}  # channel -> open inboxes
        self._groups: dict[str, dict[str, None]] = {}
        self._exact: dict[str, list[Subscription]] = {}
        self._patterns: dict[str, tuple[re.Pattern[str], list[Subscription]]] = {}
        # topic -> every subscription it reaches; rebuilt lazily after (un)subscribe, so
        # publish costs one dict lookup however many patterns there are.
        self._routes: dict[str, tuple[Subscription, ...]] = {}
        self._waiting: dict[str, asyncio.Future[Message]] = {}
        self._closed = False

    # -- sending --------------------------------------------------------------------------

    def _closed_error(self) -> BusError:
        return BusError("the memory bus is closed; open a new one with open_bus('memory').")

    def _message(
        self,
        kind: str,
        sender: str | None,
        target: str,
        payload: Any,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> Message:
        if self._closed:
            raise self._closed_error()
        if type(payload) not in _ATOMS:
            check_payload(payload, target)
        if sender is not None and type(sender) is not str:
            check_sender(sender)
        mid = f"{self._prefix}{self._ids()}"
        return Message(
            mid, kind, sender, target, payload, correlation_id or None, reply_to, time.time()
        )

    def _box(self, agent: str) -> Inbox:
        box = self._boxes.get(agent)
        if box is None:
            box = self._boxes[agent] = Inbox(self, agent)
        return box

    async def send(self, to: str, payload: Any, *, sender: str | None = None) -> Message:
        """Exactly once into the inbox of agent ``to``, kept until read."""
        try:
            box = self._boxes.get(to)
        except TypeError:  # unhashable: check_name says what is wrong
            box = None
        if box is None:
            check_name(to, "to")
        msg = self._message("direct", sender, to, payload)
        if box is None:
            box = self._box(to)
        box._put(msg)
        return msg

    async def broadcast(self, channel: str, payload: Any, *, sender: str | None = None) -> Message:
        """Exactly once to each inbox open on ``channel`` now; others miss it."""
        check_name(channel, "channel")
        msg = self._message("broadcast", sender, channel, payload)
        for box in self._channels.get(channel, ()):
            box._put(msg)
        return msg

    async def multicast(self, group: str, payload: Any, *, sender: str | None = None) -> Message:
        """Exactly once into the inbox of each member of ``group``, kept until read."""
        check_name(group, "group")
        msg = self._message("multicast", sender, group, payload)
        for agent in self._groups.get(group, ()):
            self._box(agent)._put(msg)
        return msg

    async def publish(self, topic: str, payload: Any, *, sender: str | None = None) -> Message:
        """Exactly once to each matching subscription now (at most once beyond ``maxsize``)."""
        try:
            subs = self._routes.get(topic)
        except TypeError:  # unhashable: check_topic says what is wrong
            subs = None
        if subs is None:
            subs = self._route(check_topic(topic))
        msg = self._message("publish", sender, topic, payload)
        for sub in subs:
            sub._put(msg)
        return msg

    def _route(self, topic: str) -> tuple[Subscription, ...]:
        subs = list(self._exact.get(topic, ()))
        for regex, pattern_subs in self._patterns.values():
            if regex.match(topic):
                subs.extend(pattern_subs)
        if len(self._routes) >= _MAX_ROUTES:
            self._routes.clear()
        route = self._routes[topic] = tuple(subs)
        return route

    # -- receiving ------------------------------------------------------------------------

    async def subscribe(self, topic: str, *, maxsize: int | None = None) -> Subscription:
        """Every message published to a matching topic from now on, in order."""
        check_name(topic, "topic")
        check_maxsize(maxsize)
        if self._closed:
            raise self._closed_error()
        sub = Subscription(self, topic, maxsize)
        if "*" in topic:
            entry = self._patterns.get(topic)
            if entry is None:
                entry = self._patterns[topic] = (compile_pattern(topic), [])
            entry[1].append(sub)
        else:
            self._exact.setdefault(topic, []).append(sub)
        self._routes.clear()
        return sub

    async def _unsubscribe(self, sub: Subscription) -> None:
        topic = sub.topic
        if "*" in topic:
            entry = self._patterns.get(topic)
            subs = entry[1] if entry else []
        else:
            subs = self._exact.get(topic, [])
        if sub in subs:
            subs.remove(sub)
        if not subs:
            self._patterns.pop(topic, None)
            self._exact.pop(topic, None)
        self._routes.clear()

    async def inbox(self, agent: str, *, channels: Iterable[str] = (ALL,)) -> Inbox:
        """The inbox of ``agent``, with every message sent to it so far that is unread."""
        check_name(agent, "agent")
        names = channels_of(channels)
        if self._closed:
            raise self._closed_error()
        box = self._box(agent)
        box.channels.update(names)
        for c in names:
            self._channels.setdefault(c, {})[box] = None
        return box

    async def _close_inbox(self, box: Inbox) -> None:
        for c in box.channels:
            listeners = self._channels.get(c)
            if listeners is not None:
                listeners.pop(box, None)
                if not listeners:
                    del self._channels[c]
        if not self._closed and self._boxes.get(box.agent) is box:
            # Unread and later messages wait in a fresh inbox for the next inbox() call.
            fresh = self._boxes[box.agent] = Inbox(self, box.agent)
            fresh._q.extend(box._q)

    async def join(self, group: str, agent: str) -> None:
        check_name(group, "group")
        check_name(agent, "agent")
        if self._closed:
            raise self._closed_error()
        self._groups.setdefault(group, {})[agent] = None

    async def leave(self, group: str, agent: str) -> None:
        check_name(group, "group")
        check_name(agent, "agent")
        if self._closed:
            raise self._closed_error()
        members = self._groups.get(group)
        if members is not None:
            members.pop(agent, None)
            if not members:
                del self._groups[group]

    async def members(self, group: str) -> list[str]:
        check_name(group, "group")
        if self._closed:
            raise self._closed_error()
        return sorted(self._groups.get(group, ()))

    # -- request and response -------------------------------------------------------------

    async def request(
        self,
        to: str,
        payload: Any,
        *,
        timeout: float = 10.0,
        sender: str | None = None,
        topic: bool = False,
    ) -> Message:
        """Deliver like `send` (or `publish` with ``topic=True``); the first reply wins."""
        timeout = check_timeout(timeout)
        if topic:
            check_topic(to)
        else:
            check_name(to, "to")
        msg = self._message("request", sender, to, payload, reply_to=self._reply_to)
        msg.correlation_id = msg.id
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[msg.id] = fut
        try:
            if topic:
                subs = self._routes.get(to)
                for sub in self._route(to) if subs is None else subs:
                    sub._put(msg)
            else:
                self._box(to)._put(msg)
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                return fut.result()
            raise no_reply(to, msg.id, timeout, topic) from None
        finally:
            self._waiting.pop(msg.id, None)

    async def respond(
        self, request: Message, payload: Any, *, sender: str | None = None
    ) -> Message:
        """Hand the reply to the waiting requester; dropped when it has given up."""
        check_request(request)
        reply = self._message(
            "reply",
            sender,
            request.sender or request.reply_to or "",
            payload,
            correlation_id=request.correlation_id,
        )
        fut = self._waiting.get(request.correlation_id or "")
        if fut is not None and not fut.done():
            fut.set_result(reply)
        return reply

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for box in self._boxes.values():
            box._shut()
        for subs in self._exact.values():
            for sub in subs:
                sub._shut()
        for _, subs in self._patterns.values():
            for sub in subs:
                sub._shut()
        fail_requests(self._waiting)
        self._channels.clear()
        self._exact.clear()
        self._patterns.clear()
        self._routes.clear()
