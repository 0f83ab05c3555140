"""An agent's inbox on the Redis bus: a stream read through a consumer group.

Each stream entry carries a JSON array of messages (the wire form of `Message.to_list`). The
inbox acknowledges an entry once ``get()`` has handed out every message in it; entries read
but not handed out stay pending, for this process's next inbox of the agent or, after
``claim_idle``, for another process's.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from .base import Inbox, Message

if TYPE_CHECKING:
    from .redis import RedisBus

__all__ = ["GROUP", "RedisInbox", "decode"]

log = logging.getLogger("podium.bus")

GROUP = "podium"  # the consumer group every inbox stream is read through
_READ_COUNT = 256  # stream entries per XREADGROUP
# A reader blocks in XREADGROUP for at most this long (below redis-py's default socket
# timeout), so a missed CLIENT UNBLOCK delays closing by this much at worst.
_BLOCK_MS = 2000
_STOP_TIMEOUT = 5.0  # seconds to wait for a reader to stop before cancelling it


def decode(frame: bytes) -> list[Message]:
    """The messages of one frame (a JSON array of message arrays)."""
    return [Message(*fields) for fields in json.loads(frame)]


def _entries(resp: Any) -> list[Any]:
    """The (id, fields) pairs of a one-stream XREADGROUP reply (RESP2 list or RESP3 dict)."""
    if not resp:
        return []
    if isinstance(resp, dict):
        return next(iter(resp.values()))[0]
    return resp[0][1]


class RedisInbox(Inbox):
    """An inbox fed by its own stream reader; broadcasts arrive through the bus's pub/sub."""

    __slots__ = ("_client_id", "_entry_of", "_key", "_left", "_reader", "_stop")

    def __init__(self, bus: RedisBus, agent: str, key: str) -> None:
        super().__init__(bus, agent)
        self._key = key
        self._entry_of: dict[str, bytes] = {}  # message id -> its stream entry id
        self._left: dict[bytes, int] = {}  # stream entry id -> messages not handed out yet
        self._reader: asyncio.Task[None] | None = None
        self._client_id: int | None = None  # the reader's Redis connection, for CLIENT UNBLOCK
        self._stop = False

    # -- handing out, and acknowledging ---------------------------------------------------

    def _track(self, entry: bytes, msgs: list[Message]) -> None:
        self._left[entry] = len(msgs)
        for m in msgs:
            self._entry_of[m.id] = entry

    def _taken(self, msg: Message) -> Message:
        entry = self._entry_of.pop(msg.id, None)
        if entry is not None:
            left = self._left[entry] - 1
            if left:
                self._left[entry] = left
            else:
                del self._left[entry]
                self._bus._ack(self._key, entry)  # type: ignore[attr-defined]
        return msg

    async def get(self, timeout: float | None = None) -> Message:
        return self._taken(await super().get(timeout))

    def get_nowait(self) -> Message | None:
        msg = super().get_nowait()
        return None if msg is None else self._taken(msg)

    async def __anext__(self) -> Message:
        return self._taken(await super().__anext__())

    # -- reading the stream ---------------------------------------------------------------

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name=f"podium-inbox-{self.agent}")

    async def _read(self) -> None:
        # Its own connection: a blocked XREADGROUP holds it, and stop() ends the wait with
        # CLIENT UNBLOCK instead of cancelling a command in flight (which can leave a
        # half-read connection in redis-py's pool).
        bus: RedisBus = self._bus  # type: ignore[assignment]
        key = self._key
        client = bus._connect(single_connection_client=True)
        cursor = b"0"  # first what this consumer read earlier and did not acknowledge
        claimed = False
        try:
            while not self._stop:
                try:
                    if self._client_id is None:
                        self._client_id = await client.client_id()
                    if not claimed:
                        await self._claim(client)
                        claimed = True
                    if self._stop:
                        break
                    block = _BLOCK_MS if cursor == b">" else None
                    resp = await client.xreadgroup(
                        GROUP, bus.id, {key: cursor}, count=_READ_COUNT, block=block
                    )
                except Exception as e:
                    if self._stop:
                        break
                    if "NOGROUP" in str(e):  # the stream was deleted: start over
                        await bus._ensure_group(key)
                        cursor = b"0"
                        continue
                    log.warning("podium bus: reading inbox %r failed: %s; retrying", self.agent, e)
                    await asyncio.sleep(0.5)
                    continue
                if self._stop:
                    break  # what was read stays pending: the next inbox reads it again
                entries = _entries(resp)
                if cursor != b">":
                    if not entries:
                        cursor = b">"
                        continue
                    cursor = entries[-1][0]
                self._deliver(bus, entries)
        finally:
            await client.aclose()

    def _deliver(self, bus: RedisBus, entries: list[Any]) -> None:
        for entry, fields in entries:
            data = fields.get(b"m") if fields else None
            try:
                msgs = decode(data) if data is not None else []
            except Exception as e:
                log.warning("podium bus: dropped a malformed entry in %r: %s", self._key, e)
                msgs = []
            if not msgs:
                bus._ack(self._key, entry)
                continue
            self._track(entry, msgs)
            self._put_many(msgs)

    async def _claim(self, client: Any) -> None:
        """Take over entries other consumers read but left unacknowledged for claim_idle."""
        bus: RedisBus = self._bus  # type: ignore[assignment]
        start: Any = "0-0"
        idle = int(bus.claim_idle * 1000)
        while True:
            # without JUSTID: redis-py drops the next cursor from a JUSTID reply
            res = await client.xautoclaim(self._key, GROUP, bus.id, idle, start_id=start, count=256)
            start = res[0]
            if start in (b"0-0", "0-0"):
                return

    async def stop(self) -> None:
        """Stop the reader; what it read but did not hand out stays pending in Redis."""
        self._stop = True
        task = self._reader
        if task is None:
            return
        bus: RedisBus = self._bus  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _STOP_TIMEOUT
        while not task.done():
            if self._client_id is not None:
                try:
                    await bus._r.client_unblock(self._client_id)
                except bus._errors:
                    pass
            await asyncio.wait([task], timeout=0.05)
            if not task.done() and loop.time() > deadline:
                task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        self._reader = None
