"""The in-memory store: everything in dicts of this process, gone when it exits.

A real store, not a stand-in: tests run the same contract suite against it as against SQLite
and PostgreSQL, and it is what the benchmarks compare the durable stores with. Batches are
kept as the recorder's snapshots and turned into rows only when read.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from ..errors import StoreError
from .base import CacheEntry, RunRecord, Store, Transition, count_states, fold, normalize

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Runs, transitions and cache entries held in this process.

    >>> orch = podium.Orchestrator(store="memory")
    """

    def __init__(self) -> None:
        self.url = "memory"
        self._runs: dict[str, RunRecord] = {}
        self._batches: dict[str, list[list[Any]]] = {}
        self._cache: dict[str, CacheEntry] = {}
        self._open = False

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def create_run(self, run: RunRecord) -> None:
        if run.run_id in self._runs:
            raise StoreError(
                f"memory: a run with id {run.run_id!r} exists already. Resume it, or choose "
                "another id.",
                field="run_id",
            )
        self._runs[run.run_id] = _copy(run)
        self._batches[run.run_id] = []

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
        run = self._runs.get(run_id)
        if run is None:
            raise self.unknown_run(run_id)
        if session is not None and run.sessions != session:
            raise self.claimed(run_id)
        run.status = status
        run.finished_at = finished_at
        run.counts = counts
        run.stats = stats
        if owner is not None:
            run.owner = owner
        if new_session:
            run.sessions += 1

    async def append(
        self, run_id: str, entries: list[Any], cache: list[CacheEntry] | None = None
    ) -> None:
        log = self._batches.get(run_id)
        if log is None:
            raise self.unknown_run(run_id)
        log.append(list(entries))
        if cache:
            for c in cache:
                self._cache[c.key] = copy.deepcopy(c)  # results outlive the run: own a copy

    async def get_run(self, run_id: str) -> RunRecord:
        run = self._runs.get(run_id)
        if run is None:
            raise self.unknown_run(run_id)
        return _copy(run)

    async def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        runs = sorted(self._runs.values(), key=lambda r: r.started_at, reverse=True)
        if limit is not None:
            runs = runs[:limit]
        out = []
        for r in runs:
            r = _copy(r)
            if r.counts is None:
                r.counts = count_states(fold(self._rows(r.run_id)), r.total)
            out.append(r)
        return out

    async def transitions(self, run_id: str) -> list[Transition]:
        if run_id not in self._runs:
            raise self.unknown_run(run_id)
        return self._rows(run_id)

    def _rows(self, run_id: str) -> list[Transition]:
        out: list[Transition] = []
        seq = 0
        for batch in self._batches[run_id]:  # folded per batch, as the other stores write them
            for row in normalize(batch):
                seq += 1
                out.append(Transition(seq, *row))
        return out

    async def cache_get(self, keys: list[str]) -> dict[str, CacheEntry]:
        found = {}
        for k in keys:
            c = self._cache.get(k)
            if c is not None:
                found[k] = copy.deepcopy(c)
        return found


def _copy(run: RunRecord) -> RunRecord:
    # the definition is never changed in place: share it (a 100,000-task one is big)
    return dataclasses.replace(
        run,
        counts=dict(run.counts) if run.counts is not None else None,
        stats=copy.deepcopy(run.stats),
    )
