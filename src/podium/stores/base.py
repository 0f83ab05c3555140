"""The run store interface, the records it keeps, and `open_store` (URL -> store).

A store keeps three things: runs (one row each: id, workflow, status, the definition needed to
resume it), the ordered log of every task transition of every run, and the result cache. A
run's task states are not stored separately: they are rebuilt from its transitions, so a
transition is the unit of durability. Writes come in batches (see `podium.stores.recorder`);
each batch is one transaction, so a crash leaves every transition fully recorded or absent.

Transitions arrive as the recorder's sink snapshotted them (*entries*): tuples of 5 fields for
``running``, 7 for ``retrying``, 8 for a final state (status still a `TaskStatus`), full rows
of 9 for anything else, and dicts for run-level events. `normalize` turns a batch of entries
into rows; a ``running`` entry followed by the same task's next transition in the same batch
is folded into it (that row carries ``started_at`` too), so a task that starts and ends within
one batch costs one row and the history loses nothing.
"""

from __future__ import annotations

import json
import os
import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ..errors import StoreError
from ..result import TaskStatus, add_usage, iso, task_dict
from .service import ServiceRecords

__all__ = [
    "CacheEntry",
    "RunRecord",
    "Store",
    "TaskState",
    "Transition",
    "normalize",
    "redact",
]

FINAL_STATES = ("completed", "failed", "skipped", "cancelled")
_STATUS = {s: str(s.value) for s in TaskStatus}
_COMPLETED = TaskStatus.COMPLETED
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode


_OWNER: tuple[int, str] | None = None


def owner_id() -> str:
    """``host:pid`` of this process: who is running a run right now."""
    global _OWNER
    pid = os.getpid()
    if _OWNER is None or _OWNER[0] != pid:  # gethostname() is a system call: once a process
        _OWNER = (pid, f"{socket.gethostname()}:{pid}")
    return _OWNER[1]


@dataclass(slots=True)
class RunRecord:
    """One run as the store keeps it."""

    run_id: str
    workflow: str
    status: str = "running"
    started_at: float = 0.0
    finished_at: float | None = None
    definition: dict[str, Any] | None = None  # what `resume` needs to rebuild the workflow
    total: int = 0
    counts: dict[str, int] | None = None  # tasks per state; None until the run finishes
    stats: dict[str, Any] | None = None
    owner: str | None = None  # host:pid of the process that runs it
    sessions: int = 1  # 1 + the number of resumes

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at

    def owner_alive(self) -> bool | None:
        """Whether the process running it is alive: None when it runs on another machine."""
        if not self.owner:
            return None
        host, _, pid = self.owner.rpartition(":")
        if host != socket.gethostname() or not pid.isdigit():
            return None
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def to_dict(self) -> dict[str, Any]:
        """The run as one object of ``podium runs --json``."""
        alive = self.owner_alive() if self.status == "running" else None
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration": None if self.duration is None else round(self.duration, 6),
            "total": self.total,
            "counts": self.counts or {},
            "sessions": self.sessions,
            "owner": self.owner,
            # a run whose process died (crash, kill) before it finished: resume it
            "interrupted": self.status == "running" and alive is False,
        }


@dataclass(slots=True)
class Transition:
    """One recorded change of one task (``task_id`` is None for run-level events)."""

    seq: int
    task_id: str | None
    status: str
    attempt: int | None = None
    agent: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    result: Any = None
    error: str | None = None
    note: str | None = None
    traceback: str | None = None  # of a failed attempt (see `link_tracebacks`), not a column

    @property
    def at(self) -> float | None:
        """When it happened: the end of the attempt, or its start while it runs."""
        return self.finished_at if self.finished_at is not None else self.started_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "task": self.task_id,
            "status": self.status,
            "attempt": self.attempt,
            "agent": self.agent,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "result": self.result,
            "error": self.error,
            "note": self.note,
        }


@dataclass(slots=True)
class TaskState:
    """A task's state as rebuilt from its transitions (the shape of `TaskResult.to_dict`)."""

    task_id: str
    status: str = "pending"
    result: Any = None
    agent: str | None = None
    attempts: int = 0
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    note: str | None = None
    usage: dict[str, Any] | None = None  # model calls' tokens, cost, latency (all attempts)
    traceback: str | None = None  # the last attempt's, when it failed by raising
    logs: list[tuple[float, int, str, str]] | None = None  # (at, attempt, stream, text)

    def to_dict(self) -> dict[str, Any]:
        return task_dict(self)

    def preset(self) -> dict[str, Any]:
        """What the engine needs to restore it on resume (see ``Run(preset=...)``)."""
        if self.status == "completed":
            return {
                "status": "completed",
                "result": self.result,
                "attempts": self.attempts,
                "agent": self.agent,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
            }
        return {"status": self.status, "attempts": self.attempts}


@dataclass(slots=True)
class CacheEntry:
    """A stored result that tasks with the same key reuse."""

    key: str
    route: str
    result: Any
    run_id: str | None = None
    task_id: str | None = None
    agent: str | None = None
    created_at: float = field(default=0.0)


def fold(transitions: list[Transition]) -> dict[str, TaskState]:
    """Task states rebuilt from a run's transitions, in order. Run-level ``usage`` events
    (model calls a task reported) add up on the task they name."""
    states: dict[str, TaskState] = {}
    tracebacks: dict[str, tuple[Any, str]] = {}
    for t in transitions:
        tid = t.task_id
        if tid is None:
            data = t.result
            owner = data.get("task") if isinstance(data, dict) else None
            if not isinstance(owner, str) or t.note not in _TASK_EVENTS:
                continue
            s = states.get(owner)
            if s is None:
                s = states[owner] = TaskState(owner)
            if t.note == "usage":
                s.usage = add_usage(s.usage, data)
            elif t.note == "traceback":
                tracebacks[owner] = (data.get("attempt"), str(data.get("traceback")))
            else:  # log
                if s.logs is None:
                    s.logs = []
                s.logs.append(_log_line(t.at, data))
            continue
        s = states.get(tid)
        if s is None:
            s = states[tid] = TaskState(tid)
        s.status = t.status
        s.agent = t.agent
        if t.attempt is not None:
            s.attempts = t.attempt
        s.started_at = t.started_at
        s.finished_at = t.finished_at
        s.result = t.result if t.status == "completed" else None
        s.error = t.error
        s.note = t.note
    for tid, (attempt, text) in tracebacks.items():
        s = states[tid]
        if attempt == s.attempts and s.error is not None and s.status != "completed":
            s.traceback = text
    return states


_TASK_EVENTS = frozenset(("usage", "traceback", "log"))


def _log_line(at: float | None, data: dict[str, Any]) -> tuple[float, int, str, str]:
    attempt = data.get("attempt")
    return (
        at or 0.0,
        attempt if isinstance(attempt, int) else 0,
        str(data.get("stream", "log")),
        str(data.get("text", "")),
    )


def link_tracebacks(transitions: list[Transition]) -> list[Transition]:
    """Give each failed or retrying transition the traceback its attempt recorded (a
    run-level ``traceback`` event); returns ``transitions``."""
    found: dict[tuple[Any, Any], str] = {}
    for t in transitions:
        if t.task_id is None and t.note == "traceback" and isinstance(t.result, dict):
            data = t.result
            found[(data.get("task"), data.get("attempt"))] = str(data.get("traceback"))
    if found:
        for t in transitions:
            if t.task_id is not None and t.status in ("failed", "retrying"):
                t.traceback = found.get((t.task_id, t.attempt))
    return transitions


def tally(pairs: Any, total: int) -> dict[str, int]:
    """Tasks per state from ``(status, n)`` pairs; tasks never seen are ``pending``."""
    counts = dict.fromkeys(
        ("pending", "running", "retrying", "completed", "failed", "skipped", "cancelled"), 0
    )
    seen = 0
    for status, n in pairs:
        counts[status] = counts.get(status, 0) + n
        seen += n
    counts["pending"] += max(0, total - seen)
    return counts


def count_states(states: dict[str, TaskState], total: int) -> dict[str, int]:
    return tally(((s.status, 1) for s in states.values()), total)


def normalize(entries: list[Any]) -> list[tuple[Any, ...]]:
    """Rows ``(task_id, status, attempt, agent, started_at, finished_at, result, error, note)``
    from a batch of engine entries (see the module docstring); ``result`` stays a Python value.
    """
    out: list[tuple[Any, ...]] = []
    later: set[str] = set()  # tasks with a later entry in this batch
    add = later.add
    append = out.append
    status_of = _STATUS
    for e in reversed(entries):
        if type(e) is tuple:
            n = len(e)
            tid = e[0]
            if n == 5:  # running: (id, "running", attempt, agent, started_at)
                if tid in later:
                    continue
                append((tid, "running", e[2], e[3], e[4], None, None, None, None))
            elif n == 8:  # final: (id, status, attempt, agent, started, finished, result, error)
                add(tid)
                st = e[1]
                append(
                    (
                        tid,
                        status_of[st],
                        e[2],
                        e[3],
                        e[4],
                        e[5],
                        e[6] if st is _COMPLETED else None,
                        e[7],
                        None,
                    )
                )
            elif n == 7:  # retrying: (id, "retrying", attempt, agent, started, finished, error)
                add(tid)
                append((tid, "retrying", e[2], e[3], e[4], e[5], None, e[6], None))
            else:
                if tid is not None:
                    add(tid)
                append(e)
        else:  # a run-level event from Run.event(): a dict
            data = dict(e)
            kind = data.pop("event", "event")
            at = data.pop("at", None)
            append((None, "event", None, None, at, at, data, None, str(kind)))
    out.reverse()
    return out


def encode(value: Any) -> str | None:
    """A result as JSON text; None stays NULL (a completed task's NULL result reads as null)."""
    return None if value is None else _dumps(value)


def decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Store(ServiceRecords, ABC):
    """Where runs, their transitions and the result cache live. One implementation per file:
    `MemoryStore`, `SQLiteStore`, `PostgresStore`; get one with `open_store(url)`.

    Methods are coroutines; `open` must be awaited before anything else (it is idempotent).
    """

    url: str = ""

    @abstractmethod
    async def open(self) -> None:
        """Connect, check the database is a podium store, migrate its schema to the latest."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def create_run(self, run: RunRecord) -> None:
        """Record a new run; `StoreError` if its id exists."""

    @abstractmethod
    async def update_run(
        self,
        run_id: str,
        *,
        status: str,
        finished_at: float | None = None,
        counts: dict[str, int] | None = None,
        stats: dict[str, Any] | None = None,
        owner: str | None = None,
        new_session: bool = False,
        session: int | None = None,
    ) -> None:
        """Set a run's status (and, when it ends, its counts and stats).

        With ``session``, only while the run is still at that session: a resume claims the
        run this way, so of two processes resuming it at once, one gets `StoreError`.
        """

    @abstractmethod
    async def append(
        self, run_id: str, entries: list[Any], cache: list[CacheEntry] | None = None
    ) -> None:
        """Record a batch of transitions (and cache entries) in one transaction."""

    @abstractmethod
    async def get_run(self, run_id: str) -> RunRecord:
        """One run; `StoreError` naming the store when the id is unknown."""

    @abstractmethod
    async def list_runs(
        self,
        limit: int | None = None,
        *,
        offset: int = 0,
        status: str | None = None,
        workflow: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, with ``counts`` filled in (also for unfinished runs); only those
        with ``status``, of ``workflow``, started in ``[since, until)`` when given."""

    @abstractmethod
    async def transitions(self, run_id: str) -> list[Transition]:
        """Every transition of a run, in the order they happened."""

    @abstractmethod
    async def cache_get(self, keys: list[str]) -> dict[str, CacheEntry]:
        """The stored entries among ``keys``."""

    async def task_states(self, run_id: str) -> dict[str, TaskState]:
        """Each task's latest state, rebuilt from the run's transitions."""
        return fold(await self.transitions(run_id))

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def unknown_run(self, run_id: str) -> StoreError:
        return StoreError(
            f"{redact(self.url)}: no run with id {run_id!r}. List the runs with "
            f"`podium runs --db {redact(self.url)}`.",
            file=self.url,
            field="run_id",
        )

    def claimed(self, run_id: str) -> StoreError:
        """The error of a resume that another process's resume claimed first."""
        return StoreError(
            f"{redact(self.url)}: run {run_id!r} was resumed by another process at the same "
            "time. Run or resume a run from one process at a time.",
            file=self.url,
            field="run_id",
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {redact(self.url)}>"


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    cred, _, host = rest.rpartition("@")
    if ":" in cred:
        cred = cred.split(":", 1)[0] + ":***"
    return f"{scheme}://{cred}@{host}"
