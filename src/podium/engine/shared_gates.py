"""Concurrency keys (and rate limits) shared through Redis by every process naming it.

`SharedGates` is `Gates` (engine.gates) whose concurrency keys count the tasks of every
orchestrator on one Redis, not only this one's. The scheduler stays pure and never waits on
the network: this process holds *slots* of a key, taken from Redis ahead of time, and a task
with the key starts only while this process has a slot free for it. A ready task whose key has
no free slot here is parked as with plain gates; a background task then asks Redis for as
many slots as tasks are parked (one Lua script: drop expired slots, grant while the key's
count is under its ``max``), and each slot granted sends one parked task back to its run.
It asks again every ``poll`` seconds while tasks wait and no slot is granted.

When a task with the key ends, its slot goes to the next task parked on the key here, or back
to Redis if none waits. Each slot in Redis is a member of the key's sorted set, scored by when
it expires (Redis's own clock): this process pushes that time ``ttl`` seconds ahead every
``ttl / 3`` seconds while it holds the slot, so the slots of a process that was killed come
back ``ttl`` seconds after its last refresh at most.

Consistency: the Redis count never exceeds ``max``, and a task runs only while its process
holds a slot, so tasks of every process together never exceed ``max``, as long as no process
stalls for more than ``ttl`` seconds while it holds slots (its slots would expire and be given
to others while its tasks still run). Waiting tasks of different processes are served in the
order their processes ask, not first come first served across processes.

Rate limits are shared too, with grants taken ahead of time (engine.shared_rates). Resource
requests are not: an agent's totals are its own process's.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import socket
import weakref
from collections.abc import Callable
from typing import Any

from .gates import Gates, Window
from .status import READY

__all__ = ["SharedGates", "open_gates"]

log = logging.getLogger("podium.gates")

# KEYS[1] the key's slots; ARGV: max, ttl in ms, then the slot ids wanted -> how many granted
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
local most = tonumber(ARGV[1])
local got = 0
for i = 3, #ARGV do
  if n + got >= most then break end
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
  got = got + 1
end
if got > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return got
"""

# KEYS[1] the key's slots; ARGV: ttl in ms, then this process's slots -> how many were lost
_REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local lost = 0
for i = 2, #ARGV do
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + ttl, ARGV[i]) == 0 then lost = lost + 1 end
end
redis.call('PEXPIRE', KEYS[1], ttl)
return lost
"""


class SharedGates(Gates):
    """`Gates` whose concurrency keys and rate limits are shared through Redis at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 30.0,
        poll: float = 0.05,
        prefix: str = "podium:gates",
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(clock)
        try:
            import redis.asyncio  # noqa: F401
        except ImportError as exc:  # pragma: no cover - the redis extra is missing
            from ..errors import ValidationError

            raise ValidationError(
                "shared gates need the redis package: pip install 'podium[redis]'",
                field="gates",
            ) from exc
        self.url = url
        self.ttl = ttl
        self.poll = poll
        self.prefix = prefix
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._ids = itertools.count()
        self.slots: dict[str, list[str]] = {}  # key -> this process's slots in Redis
        self._most: dict[str, int] = {}  # key -> the max its last parked task named
        self._asking: set[str] = set()  # keys a background task is getting slots for
        self._tasks: set[asyncio.Task[Any]] = set()  # kept from the garbage collector
        self._giving: set[asyncio.Task[Any]] = set()  # slots on their way back to Redis
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._scheds: weakref.WeakSet[Any] = weakref.WeakSet()  # woken when grants come

    def __repr__(self) -> str:
        return f"SharedGates({self.url!r}, ttl={self.ttl})"

    # -- the scheduler's side (pure, never waits) ------------------------------------------

    def full(self, key: str, most: int) -> bool:
        slots = self.slots.get(key)
        if self.keys.get(key, 0) < (len(slots) if slots else 0):
            return False
        self._most[key] = most
        if key not in self._asking:
            self._asking.add(key)
            self._spawn(self._ask(key))
        return True

    def spare(self, key: str) -> None:
        slots = self.slots.get(key)
        if not slots or len(slots) <= self.keys.get(key, 0):
            return
        slot = slots.pop()
        if not slots:
            del self.slots[key]
        self._giving.add(self._spawn(self._give_back(key, [slot])))

    def attach(self, sched: Any) -> None:
        self._scheds.add(sched)

    def wake_all(self) -> None:
        for sched in list(self._scheds):
            if sched._ready:  # only runs with tasks that wait (a finished run's loop is gone)
                sched.wake()

    def window(self, name: str, rule: dict[str, Any]) -> Window:
        from .shared_rates import SharedWindow

        w = self.windows.get(name)
        if w is None or (w.requests, w.tokens, w.per) != (
            rule["requests"],
            rule["tokens"],
            rule["per"],
        ):
            w = SharedWindow(self, name, rule["requests"], rule["tokens"], rule["per"])
            self.windows[name] = w
        return w

    # -- Redis (background tasks on the running loop) --------------------------------------

    def _scripts(self) -> dict[str, Any]:
        self._redis()
        return self._rate_scripts

    def _warn(self, exc: BaseException) -> None:
        log.warning("shared gates at %s: %s", self.url, exc)

    def _redis(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # a client belongs to one loop
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(self.url)
            self._loop = loop
            self._acquire = self._client.register_script(_ACQUIRE)
            self._refresh = self._client.register_script(_REFRESH)
            from .shared_rates import _GRANT, _REPORT

            self._rate_scripts = {
                "grant": self._client.register_script(_GRANT),
                "report": self._client.register_script(_REPORT),
            }
            self._refresher = None
        return self._client

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._giving.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("shared gates at %s: %s", self.url, task.exception())

    def _waiting(self, key: str) -> int:
        line = self.parked.get(key)
        return sum(1 for _, rec in line if rec.status is READY) if line else 0

    def _name(self, key: str) -> str:
        return f"{self.prefix}:key:{key}"

    async def _ask(self, key: str) -> None:
        """Get slots of ``key`` from Redis while tasks here are parked on it."""
        try:
            self._redis()
            while True:
                want = self._waiting(key)
                if not want:
                    return
                ids = [f"{self.owner}:{next(self._ids)}" for _ in range(want)]
                try:
                    got = int(
                        await self._acquire(
                            keys=[self._name(key)],
                            args=[self._most[key], int(self.ttl * 1000), *ids],
                        )
                    )
                except Exception as exc:  # Redis away: the tasks wait; try again
                    log.warning("shared gates at %s: %s", self.url, exc)
                    got = 0
                    await asyncio.sleep(max(self.poll, 1.0))
                if got:
                    self.slots.setdefault(key, []).extend(ids[:got])
                    self._keep_fresh()
                    for _ in range(got):
                        if not self.unpark(key):
                            self.spare(key)  # its task went meanwhile (cancelled)
                else:
                    await asyncio.sleep(self.poll)
        finally:
            self._asking.discard(key)

    async def _give_back(self, key: str, slots: list[str]) -> None:
        await self._redis().zrem(self._name(key), *slots)

    def _keep_fresh(self) -> None:
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(self._refreshing())

    async def _refreshing(self) -> None:
        """Push this process's slots' expiry ahead while it holds any."""
        while self.slots:
            await asyncio.sleep(self.ttl / 3)
            for key, slots in list(self.slots.items()):
                if not slots:
                    continue
                try:
                    lost = await self._refresh(
                        keys=[self._name(key)], args=[int(self.ttl * 1000), *slots]
                    )
                except Exception as exc:
                    log.warning("shared gates at %s: %s", self.url, exc)
                    continue
                if lost:
                    log.warning(
                        "shared gates: %d slot(s) of key %r expired before they were "
                        "refreshed (this process stalled longer than ttl=%gs)",
                        lost,
                        key,
                        self.ttl,
                    )

    async def settle(self) -> None:
        """Wait until the slots given back have reached Redis."""
        loop = asyncio.get_running_loop()
        pending = [t for t in self._giving if t.get_loop() is loop]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        """Give every slot this process holds back to Redis and close the connection."""
        if self._client is None or self._loop is not asyncio.get_running_loop():
            self._client = None
            return
        await self.settle()
        if self._refresher is not None:
            self._refresher.cancel()
        busy = [t for t in self._tasks if not t.done()]
        for t in busy:  # asking for slots or grants nothing waits for any more
            t.cancel()
        await asyncio.gather(*busy, return_exceptions=True)
        slots, self.slots = self.slots, {}
        for key, held in slots.items():
            if held:
                try:
                    await self._client.zrem(self._name(key), *held)
                except Exception as exc:
                    log.warning("shared gates at %s: %s", self.url, exc)
        await self._client.aclose()
        self._client = None


def open_gates(gates: Gates | str | None) -> Gates:
    """The orchestrator's gates: plain (None), shared through Redis (a URL), or as given."""
    if gates is None or gates == "":
        return Gates()
    if isinstance(gates, Gates):
        return gates
    if isinstance(gates, str) and gates.startswith(("redis://", "rediss://", "unix://")):
        return SharedGates(gates)
    from ..errors import ValidationError

    raise ValidationError(
        f"gates {gates!r} (--gates, PODIUM_GATES) is not a Redis URL: redis://HOST:PORT/DB.",
        field="gates",
    )
