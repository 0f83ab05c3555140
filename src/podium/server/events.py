"""The live event stream: every transition of every run, as server-sent events.

The engine's hot path pays one call and one tuple per transition (`EventHub.listen` gives each
run a sink that appends a snapshot to a list). A flusher wakes every `INTERVAL` seconds and
turns what accumulated into numbered events: kept in a ring for clients that reconnect with
``Last-Event-ID``, counted for the metrics, and sent to subscribers as one chunk each per
wake-up. An event is encoded once however many clients watch (clients without a filter share
one chunk), and not at all while nobody watches, so a hundred clients cost a hundred writes
every 50 ms, not a hundred per transition.

Event ids grow across restarts (they start from the clock in microseconds). A reconnecting
client gets the events after its ``Last-Event-ID`` that are still in the ring (the last
`ServerConfig.events_kept`); ids are per server: behind a load balancer, reconnect to the same
server or accept a gap.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.run import Run

__all__ = ["EventHub"]

INTERVAL = 0.05
PING = 15.0  # seconds between keep-alive comments on an idle stream
QUEUE = 256  # chunks a slow client may fall behind before it is dropped (it can reconnect)
_FIRST_KEPT = 10_000  # runs whose first event id is remembered (see EventHub.stream)
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


class _Sub:
    __slots__ = ("agent", "queue", "rows", "run")

    def __init__(self, run: str | None, agent: str | None, rows: bool = False) -> None:
        self.run = run
        self.agent = agent
        self.rows = rows
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE)

    def wants(self, run_id: str | None, agent: str | None) -> bool:
        return (self.run is None or self.run == run_id) and (
            self.agent is None or self.agent == agent
        )


class EventHub:
    """Collects transitions from runs and fans them out to subscribers and observers."""

    def __init__(self, keep: int = 100_000) -> None:
        self._buf: list[tuple[Any, ...]] = []
        # [id, run_id, agent, raw, encoded or None]
        self._ring: deque[list[Any]] = deque(maxlen=keep)
        # each run's first event id in the ring: a client following one run from its start
        # (the dashboard's run page) reads the ring from there, not all of it
        self._first: dict[str, int] = {}
        self._subs: set[_Sub] = set()
        self._next = time.time_ns() // 1000
        self._task: asyncio.Task[None] | None = None
        # called with each batch of raw entries (the metrics count them)
        self.observers: list[Callable[[list[tuple[Any, ...]]], None]] = []

    # -- in -------------------------------------------------------------------------------

    def listen(self, run: Run) -> Callable[[str, Any], None]:
        """The sink for one run (see `Orchestrator.listeners`)."""
        app = self._buf.append
        rid = run.run_id

        def sink(kind: str, rec: Any) -> None:
            if kind == "event":
                app((rid, "event", rec))
            elif kind == "run":
                app((rid, "run", str(run.status), run.total))
            else:
                app(
                    (rid, kind, rec.id, rec.status, rec.attempts, rec.agent,
                     rec.started_at, rec.finished_at, rec.error)
                )  # fmt: skip

        return sink

    def publish(self, event: str, run_id: str | None = None, /, **data: Any) -> None:
        """A server-level event (a run resumed, an agent registered or paused)."""
        self._buf.append((run_id, "event", {"event": event, "at": time.time(), **data}))

    # -- the flusher ------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        for sub in list(self._subs):
            self._drop(sub)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            if self._buf:
                self.flush()

    def flush(self) -> None:
        batch = self._buf[:]
        self._buf.clear()  # sinks hold its append: empty it in place
        for observe in self.observers:
            observe(batch)
        entries = []
        n = self._next
        first = self._first
        for raw in batch:
            n += 1
            rid = raw[0]
            if rid is not None and rid not in first:
                first[rid] = n
            entries.append([n, rid, _agent_of(raw), raw, None])
        self._next = n
        if len(first) > _FIRST_KEPT:  # forget runs whose events left the ring
            oldest = self._ring[0][0] if self._ring else n
            self._first = {r: i for r, i in first.items() if i >= oldest}
        self._ring.extend(entries)
        if self._subs:
            self._send(entries)

    def _send(self, entries: list[list[Any]]) -> None:
        shared: bytes | None = None
        shared_rows: bytes | None = None
        for sub in list(self._subs):
            if sub.rows:
                if sub.run is None and sub.agent is None:
                    if shared_rows is None:
                        shared_rows = _rows(entries)
                    chunk = shared_rows
                else:
                    chunk = _rows([e for e in entries if sub.wants(e[1], e[2])])
            elif sub.run is None and sub.agent is None:
                if shared is None:
                    shared = b"".join(_encoded(e) for e in entries)
                chunk = shared
            else:
                chunk = b"".join(_encoded(e) for e in entries if sub.wants(e[1], e[2]))
            if chunk:
                try:
                    sub.queue.put_nowait(chunk)
                except asyncio.QueueFull:
                    self._drop(sub)

    def _drop(self, sub: _Sub) -> None:
        self._subs.discard(sub)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)  # the stream ends; the client reconnects

    # -- out ----------------------------------------------------------------------------------

    async def stream(
        self, run: str | None, agent: str | None, last_id: int | None, rows: bool = False
    ) -> AsyncIterator[bytes]:
        """The SSE body for one client: missed events first (``last_id``), then live ones.
        With ``rows``, task transitions come as `_rows` batches (see there)."""
        sub = _Sub(run, agent, rows)
        backlog = []
        if last_id is not None:
            if run is not None and run in self._first:
                last_id = max(last_id, self._first[run] - 1)
            ring = self._ring
            # ids are consecutive: skip what is older than last_id without looking at it
            skip = last_id - ring[0][0] + 1 if ring else 0
            kept = itertools.islice(ring, skip, None) if skip > 0 else ring
            backlog = [e for e in kept if e[0] > last_id and sub.wants(e[1], e[2])]
        self._subs.add(sub)
        try:
            missed = _rows(backlog) if rows else b"".join(_encoded(e) for e in backlog)
            yield b"retry: 1000\n\n" + missed
            while True:
                try:
                    chunk = await asyncio.wait_for(sub.queue.get(), PING)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if chunk is None:
                    return
                yield chunk
        finally:
            self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)


def _agent_of(raw: tuple[Any, ...]) -> str | None:
    kind = raw[1]
    if kind == "event":
        return raw[2].get("agent")
    if kind == "run":
        return None
    return raw[5]


def _encoded(entry: list[Any]) -> bytes:
    data = entry[4]
    if data is None:
        data = entry[4] = _format(entry[0], entry[3])
    return data


def _format(n: int, raw: tuple[Any, ...]) -> bytes:
    # compact on purpose: a hundred clients of a 10,000-task run get 20,000 of these each, so
    # the id stays on its `id:` line only and empty fields are left out
    kind = raw[1]
    if kind == "event":
        doc = {"run_id": raw[0], **raw[2]}
        name = "event"
    elif kind == "run":
        doc = {"run_id": raw[0], "status": raw[2], "total": raw[3], "at": round(time.time(), 3)}
        name = "run"
    else:
        _, _, tid, status, attempts, agent, started, finished, error = raw
        at = finished if kind != "start" and finished is not None else started
        doc = {
            "run_id": raw[0],
            "task": tid,
            "status": {"start": "running", "retry": "retrying"}.get(kind) or str(status),
            "attempt": attempts,
            "agent": agent,
            "at": round(at, 3) if at is not None else None,
        }
        if error is not None and kind != "start":
            doc["error"] = error
        name = "task"
    return f"id: {n}\nevent: {name}\ndata: {_dumps(doc)}\n\n".encode()


_KIND_STATUS = {"start": "running", "retry": "retrying"}


def _rows(entries: list[list[Any]]) -> bytes:
    """Task transitions as one ``event: rows`` whose data is a JSON array of
    ``[run_id, task, status, attempt, agent, at, error]``, then the other events as usual.

    For clients that follow thousands of transitions a second (the dashboard): one JSON array
    costs a few times less to encode, send and parse than one event per transition. Its id is
    the last transition's, so ``Last-Event-ID`` resumes after the whole batch.
    """
    rows = []
    others = []
    last = None
    for e in entries:
        raw = e[3]
        kind = raw[1]
        if kind == "event" or kind == "run":
            others.append(e)
            continue
        last = e[0]
        _, _, tid, status, attempt, agent, started, finished, error = raw
        if kind == "start":
            rows.append((raw[0], tid, "running", attempt, agent, started, None))
        else:  # an attempt's end, or its failure before a retry
            at = finished if finished is not None else started
            rows.append((raw[0], tid, _KIND_STATUS.get(kind, status), attempt, agent, at, error))
    out = [f"id: {last}\nevent: rows\ndata: {_dumps(rows)}\n\n".encode()] if rows else []
    out.extend(_encoded(e) for e in others)
    return b"".join(out)
