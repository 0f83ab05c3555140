"""Rate limits shared through Redis: the windows of `SharedGates` (engine.shared_gates).

The scheduler stays pure: a task over a shared limit starts only with a *grant* this process
already holds. Grants come from Redis in the background (one Lua script: drop the window's
old entries, then grant while the window holds fewer than ``requests`` entries and fewer than
``tokens`` tokens), each one an entry of the window scored with Redis's clock when it was
granted. A grant is used within ``HOLD`` seconds of its arrival or dropped, and the window in
Redis is ``MARGIN`` seconds longer than ``per``: so whatever the delay between a grant and its
task's start (under ``MARGIN``), no window of ``per`` seconds holds more starts than the limit.
Grants dropped unused still count in Redis until they leave its window.

Tokens in Redis are each task's estimate when it starts; its first ``ctx.record_usage``
replaces that entry with what it reported (in the background), as the local window does.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Any

from .gates import Window

__all__ = ["HOLD", "MARGIN", "SharedWindow"]

HOLD = 0.2  # seconds a grant may wait here for its task before it is dropped
MARGIN = 0.35  # seconds the window in Redis is longer than ``per`` (must exceed HOLD)
PREFETCH = 16  # at most this many grants asked for at once

# KEYS: the window's requests, its tokens; ARGV: requests (-1: none), tokens (-1: none),
# window in ms, tokens per grant, then the grant ids -> how many were granted, or when none
# was, minus the ms until the oldest entry leaves the window
_GRANT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local span = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - span)
local nreq = redis.call('ZCARD', KEYS[1])
local most = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local each = tonumber(ARGV[4])
local used = 0
if limit >= 0 then
  for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    used = used + tonumber(string.match(m, '(%d+)$'))
  end
end
local got = 0
for i = 5, #ARGV do
  if most >= 0 and nreq + got >= most then break end
  if limit >= 0 and used > 0 and used + each > limit then break end
  redis.call('ZADD', KEYS[1], now, ARGV[i])
  if each > 0 then
    redis.call('ZADD', KEYS[2], now, ARGV[i] .. ':' .. each)
    used = used + each
  end
  got = got + 1
end
redis.call('PEXPIRE', KEYS[1], span)
redis.call('PEXPIRE', KEYS[2], span)
if got > 0 then return got end
local key = KEYS[2]
if most >= 0 and nreq >= most then key = KEYS[1] end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if oldest[2] == nil then return 0 end
return -math.max(1, tonumber(oldest[2]) + span - now)
"""

# KEYS: the window's tokens; ARGV: the estimate's entry (or ''), window in ms, the report's
_REPORT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


class _Entry(list):  # type: ignore[type-arg]
    """A window's log entry [time, tokens, 1] that knows its grant's entry in Redis."""

    __slots__ = ("member",)

    def __init__(self, items: Any) -> None:
        super().__init__(items)
        self.member = ""


class SharedWindow(Window):
    """A rate limit counted in Redis by every process of one `SharedGates`' URL."""

    __slots__ = ("asking", "demand", "gates", "grants", "ids", "key", "want")

    def __init__(
        self, gates: Any, name: str, requests: int | None, tokens: int | None, per: float
    ) -> None:
        super().__init__(name, requests, tokens, per)
        self.gates = gates
        self.key = f"{gates.prefix}:rate:{name}"
        self.grants: deque[tuple[float, str, int]] = deque()  # (use before, id, tokens)
        self.demand = 0  # grants wanted since the last ask
        self.want = 0.0  # tokens the last task that waited was estimated at
        self.asking = False
        self.ids = itertools.count()

    def wait(self, now: float, tokens: float) -> float:
        grants = self.grants
        while grants and grants[0][0] <= now:
            grants.popleft()  # too old to be used: its task could start outside the margin
        if grants:
            return 0.0
        self.demand += 1
        self.want = tokens
        self._ask()
        return self.gates.poll

    def take(self, now: float, tokens: float) -> list[Any]:
        self._expire(now)
        entry = _Entry((now, tokens, 1))
        self.log.append(entry)
        self.nreq += 1
        self.used += tokens
        if self.grants:
            _, gid, granted = self.grants.popleft()
            entry.member = f"{gid}:{granted}" if granted else ""
        self.demand += 1  # ask for the next one ahead of time
        self._ask()
        return entry

    def report(self, now: float, entry: list[Any] | None, tokens: float) -> None:
        first = entry is not None and entry[1] and entry[0] > now - self.per
        super().report(now, entry, tokens)
        if self.tokens is None or not tokens:
            return
        old = getattr(entry, "member", "") if first else ""
        gid = f"{self.gates.owner}:{next(self.ids)}:r:{int(tokens)}"
        self.gates._spawn(self._report(old, gid))

    # -- Redis ------------------------------------------------------------------------------

    def _span(self) -> int:
        return int((self.per + MARGIN) * 1000)

    def _ask(self) -> None:
        if not self.asking:
            self.asking = True
            self.gates._spawn(self._asking())

    async def _asking(self) -> None:
        gates = self.gates
        try:
            script = gates._scripts()["grant"]
            while self.demand and len(self.grants) < PREFETCH:
                n = min(self.demand, PREFETCH - len(self.grants))
                if self.requests is not None:
                    n = min(n, self.requests)
                self.demand = 0
                ids = [f"{gates.owner}:{next(self.ids)}" for _ in range(n)]
                each = int(self.want) if self.tokens is not None else 0
                try:
                    got = int(
                        await script(
                            keys=[f"{self.key}:req", f"{self.key}:tok"],
                            args=[
                                -1 if self.requests is None else self.requests,
                                -1 if self.tokens is None else self.tokens,
                                self._span(),
                                each,
                                *ids,
                            ],
                        )
                    )
                except Exception as exc:  # Redis away: the tasks wait; try again
                    gates._warn(exc)
                    got = 0
                    await asyncio.sleep(max(gates.poll, 1.0))
                if got > 0:
                    until = gates.clock() + HOLD
                    self.grants.extend((until, gid, each) for gid in ids[:got])
                    gates.wake_all()
                else:  # nothing before the oldest entry leaves; the runs' polls add demand
                    await asyncio.sleep(max(gates.poll, -got / 1000))
        finally:
            self.asking = False

    async def _report(self, old: str, new: str) -> None:
        script = self.gates._scripts()["report"]
        await script(keys=[f"{self.key}:tok"], args=[old, self._span(), new])
