"""Recording a live run into a store: the engine's sink, group commit, the cache, resume.

The engine calls the sink synchronously for every transition, on its hot path, so the sink
only appends a small snapshot tuple to a list. A flusher task on the same loop wakes every
``interval`` seconds (5 ms), takes what has accumulated and hands it to the store as one batch
(one transaction): group commit. While a batch is being written (SQLite: on the store's writer
thread; PostgreSQL: awaiting the server) the engine goes on and the next batch accumulates, so
batches grow with the load and durability costs a few tuples per task on the loop.

A transition is durable once its batch commits: a task counts as completed when its
``completed`` row is in the store. A crash loses at most the last few milliseconds of
transitions; the tasks they concern run again on resume (at-least-once).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import StoreError, StoreUnavailable, ValidationError
from ..result import TaskStatus
from ..stores.base import CacheEntry, RunRecord, Store, TaskState, owner_id
from ..stores.definition import describe

if TYPE_CHECKING:
    from ..spec.workflow import Task
    from .run import Run

__all__ = ["Recorder", "begin", "cache_key", "check_run_id", "finish", "load_for_resume"]

INTERVAL = 0.005  # seconds between group commits while the run is busy
_COMPLETED = TaskStatus.COMPLETED
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ValidationError(
            f"run id {run_id!r} is not valid: use 1-128 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit.",
            field="run_id",
        )
    return run_id


def cache_key(task: Task) -> str:
    """The cache key of a task: its route (capability, or pinned agent) and its input as
    canonical JSON, or its ``cache_key`` in place of the input. Dependencies' results are not
    part of it: give a ``cache_key`` when they matter."""
    if task.cache_key is not None:
        material = f"{task.route}\0key\0{task.cache_key}"
    else:
        canon = json.dumps(task.input, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        material = f"{task.route}\0input\0{canon}"
    return hashlib.sha256(material.encode()).hexdigest()


class Recorder:
    """Buffers a run's transitions (``sink``) and writes them in batches to ``store``."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        cache_keys: dict[str, tuple[str, str]] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        interval: float = INTERVAL,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.cache_keys = cache_keys or {}  # task id -> (key, route) for cacheable tasks
        self.on_error = on_error
        self.interval = interval
        self.error: BaseException | None = None
        self._buf: list[Any] = []
        self._task: asyncio.Task[None] | None = None
        self._nap: asyncio.Future[None] | None = None
        self._closing = False
        self.sink = self._make_sink()

    def _make_sink(self) -> Callable[[str, Any], None]:
        app = self._buf.append

        def sink(kind: str, rec: Any) -> None:
            # the hot path: one snapshot tuple per transition, nothing else
            if kind == "end":
                app(
                    (
                        rec.id,
                        rec.status,
                        rec.attempts,
                        rec.agent,
                        rec.started_at,
                        rec.finished_at,
                        rec.result,
                        rec.error,
                    )
                )
                if rec.error is not None:
                    _traceback(rec)
            elif kind == "start":
                app((rec.id, "running", rec.attempts, rec.agent, rec.started_at))
            elif kind == "retry":
                app(
                    (rec.id, "retrying", rec.attempts, rec.agent, rec.started_at,
                     rec.finished_at, rec.error)
                )  # fmt: skip
                _traceback(rec)
            elif kind == "event":
                app(rec)  # a dict from Run.event()
            # "run": the run ended; the orchestrator closes the recorder next

        def _traceback(rec: Any) -> None:
            # a failed attempt's traceback, as a run-level event (stores.base.fold and
            # link_tracebacks put it back on the task and its transition)
            tb = rec.traceback
            if tb is not None:
                app(
                    {
                        "event": "traceback",
                        "at": rec.finished_at,
                        "task": rec.id,
                        "attempt": rec.attempts,
                        "traceback": tb,
                    }
                )

        return sink

    def add(self, row: tuple[Any, ...]) -> None:
        """Queue a full row ``(task_id, status, attempt, agent, started_at, finished_at,
        result, error, note)``."""
        self._buf.append(row)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._flush_loop(), name=f"podium-recorder-{self.run_id}"
        )

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing:
            nap = self._nap = loop.create_future()
            timer = loop.call_later(self.interval, _wake, nap)
            try:
                await nap
            finally:
                timer.cancel()
                self._nap = None
            if self._buf:
                try:
                    await self.flush()
                except Exception as exc:
                    self.error = exc
                    if self.on_error is not None:
                        self.on_error(exc)
                    return

    async def flush(self) -> None:
        """Write what has accumulated, as one transaction."""
        buf = self._buf
        if not buf:
            return
        batch = buf[:]
        buf.clear()  # the sink holds buf.append: empty it in place
        cache = self._cache_entries(batch) if self.cache_keys else None
        await self.store.append(self.run_id, batch, cache)

    def _cache_entries(self, batch: list[Any]) -> list[CacheEntry]:
        keys = self.cache_keys
        out = []
        for e in batch:
            if type(e) is tuple and len(e) == 8 and e[1] is _COMPLETED and e[0] in keys:
                key, route = keys[e[0]]
                out.append(CacheEntry(key, route, e[6], self.run_id, e[0], e[3], e[5] or 0.0))
        return out

    async def close(self) -> None:
        """Stop the flusher and write the rest; raises `StoreError` if a write failed."""
        self._closing = True
        if self._nap is not None and not self._nap.done():
            self._nap.set_result(None)
        task, self._task = self._task, None
        if task is not None:
            await asyncio.wait([task])
        if self.error is None:
            try:
                await self.flush()
            except Exception as exc:
                self.error = exc
        if self.error is not None:
            err = self.error
            if isinstance(err, StoreError):
                raise type(err)(
                    f"{err.message} The run was stopped: its last transitions are not recorded.",
                    file=err.file,
                    field=err.field,
                ) from err
            kind = StoreUnavailable if isinstance(err, OSError | ConnectionError) else StoreError
            raise kind(
                f"{self.store.url}: recording run {self.run_id!r} failed: "
                f"{type(err).__name__}: {err}",
                file=self.store.url,
            ) from err


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def load_for_resume(store: Store, run_id: str) -> tuple[RunRecord, dict[str, TaskState]]:
    """A run and its task states, checked to be resumable from this process."""
    await store.open()
    saved = await store.get_run(run_id)
    if saved.status == "running" and saved.owner != owner_id() and saved.owner_alive():
        raise StoreError(
            f"run {run_id!r} is still running (process {saved.owner}). Wait for it to end or "
            "stop it before resuming.",
            field="run_id",
        )
    return saved, await store.task_states(run_id)


async def begin(
    store: Store,
    run: Run,
    *,
    resumed: RunRecord | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> Recorder:
    """Record ``run`` (a new run, or ``resumed``'s next session) before it starts: apply cache
    hits to it, write its run row, and start the flusher. Nothing runs on the hot path but
    the returned recorder's ``sink``."""
    check_run_id(run.run_id)
    await store.open()
    # described before the clock starts: reading a big workflow file back takes a while, and
    # the run's recorded start (its report's time axis) should not include it
    definition = describe(run.workflow, run.agents.values()) if resumed is None else None
    now = time.time()
    cacheable = {
        t.id: (cache_key(t), t.route)
        for t in [t for t in run.workflow.tasks.values() if t.cache]
        if run.records[t.id].status is not _COMPLETED
    }
    hits = await store.cache_get([k for k, _ in cacheable.values()]) if cacheable else {}
    rows: list[tuple[Any, ...]] = []
    if resumed is not None:
        await store.update_run(
            run.run_id,
            status="running",
            owner=owner_id(),
            new_session=True,
            session=resumed.sessions,  # claim it: of two resumes at once, one goes on
            counts=None,
        )
        rows.append((None, "event", None, None, now, now, {}, None, "resumed"))
    else:
        await store.create_run(
            RunRecord(
                run_id=run.run_id,
                workflow=run.workflow.name,
                status="running",
                started_at=now,
                definition=definition,
                total=run.total,
                owner=owner_id(),
            )
        )
    preset = {}
    for tid, (key, _) in list(cacheable.items()):
        hit = hits.get(key)
        if hit is None:
            continue
        del cacheable[tid]
        preset[tid] = {
            "status": "completed",
            "result": hit.result,
            "attempts": 0,
            "agent": hit.agent,
            "started_at": now,
            "finished_at": now,
        }
        note = f"cached: the result of task {hit.task_id!r} in run {hit.run_id}"
        rows.append((tid, "completed", 0, hit.agent, now, now, hit.result, None, note))
    if preset:
        run.restore(preset)
    rec = Recorder(store, run.run_id, cache_keys=cacheable, on_error=on_error)
    for row in rows:
        rec.add(row)
    await rec.flush()
    rec.start()
    return rec


async def finish(rec: Recorder, run: Run) -> None:
    """Write the run's last transitions and its final status, counts and stats."""
    await rec.close()
    counts = {
        "pending": 0,
        "running": run.n_running,
        "retrying": run.n_retrying,
        "completed": run.n_completed,
        "failed": run.n_failed,
        "skipped": run.n_skipped,
        "cancelled": run.n_cancelled,
    }
    counts["pending"] = max(0, run.total - sum(counts.values()))
    stats = run.stats()
    stats["attempts"] = sum(r.attempts for r in run.records.values())
    await rec.store.update_run(
        run.run_id,
        status=str(run.status),
        finished_at=run.finished_at or time.time(),
        counts=counts,
        stats=stats,
    )
