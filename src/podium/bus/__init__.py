"""Messaging between agents: direct, broadcast, multicast, publish-subscribe, request-response.

``open_bus("memory")`` for agents in one process (the default), ``open_bus("redis://...")``
for agents in several processes. ``base`` holds the interface and the message type; each
implementation is one module with its delivery guarantees in its docstring.

>>> bus = open_bus("memory")
>>> inbox = await bus.inbox("writer")
>>> await bus.send("writer", {"draft": 1}, sender="editor")
>>> msg = await inbox.get()
"""

from __future__ import annotations

from typing import Any

from ..errors import ValidationError
from .base import ALL as ALL
from .base import Bus as Bus
from .base import Inbox as Inbox
from .base import Message as Message
from .base import Subscription as Subscription
from .memory import MemoryBus as MemoryBus

__all__ = ["ALL", "Bus", "Inbox", "MemoryBus", "Message", "Subscription", "open_bus"]


def open_bus(url: str = "memory", **options: Any) -> Bus:
    """A bus for ``url``: ``"memory"`` or ``"redis://host:port/db"`` (options go to the
    implementation, e.g. ``namespace=`` for Redis). Connections are made on first use.

    >>> bus = open_bus("redis://127.0.0.1:6379/0", namespace="myapp")
    """
    if not isinstance(url, str):
        raise ValidationError(f"bus URL must be a string, got {url!r}.", field="bus")
    if url in ("memory", "memory://"):
        if options:
            raise ValidationError(
                f"the memory bus takes no options, got {sorted(options)}.", field="bus"
            )
        return MemoryBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisBus

        return RedisBus(url, **options)
    raise ValidationError(
        f"unknown bus URL {url!r}: use 'memory' or 'redis://host:port/db'.", field="bus"
    )
