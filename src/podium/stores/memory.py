"""The in-memory store: everything in dicts of this process, gone when it exits.

A real store, not a stand-in: tests run the same contract suite against it as against SQLite
and PostgreSQL, and it is what the benchmarks compare the durable stores with. Batches are
kept as the recorder's snapshots and turned into rows only when read.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

from ..errors import StoreError
from .base import CacheEntry, RunRecord, Store, Transition, count_states, fold, normalize
from .service import ApiKey, Orphan

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
        self._keys: dict[str, ApiKey] = {}
        self._idem: dict[str, str] = {}
        self._agents: dict[str, dict[str, Any]] = {}
        self._leases: dict[str, float | None] = {}  # run id -> lease expiry
        self._cancel: set[str] = set()

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
        if self.lease_ttl:
            self._leases[run.run_id] = time.time() + self.lease_ttl

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
            if self.lease_ttl:
                self._leases[run_id] = time.time() + self.lease_ttl
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
        runs = sorted(self._runs.values(), key=lambda r: r.started_at, reverse=True)
        runs = [
            r
            for r in runs
            if (status is None or r.status == status)
            and (workflow is None or r.workflow == workflow)
            and (since is None or r.started_at >= since)
            and (until is None or r.started_at < until)
        ]
        runs = runs[offset:]
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

    # -- the service --------------------------------------------------------------------------

    async def create_key(self, key: ApiKey) -> None:
        if key.key_id in self._keys:
            raise StoreError(f"memory: an API key with id {key.key_id!r} exists.", field="key")
        self._keys[key.key_id] = dataclasses.replace(key)

    async def get_key(self, key_id: str) -> ApiKey | None:
        k = self._keys.get(key_id)
        return dataclasses.replace(k) if k is not None else None

    async def list_keys(self) -> list[ApiKey]:
        return [dataclasses.replace(k) for k in self._keys.values()]

    async def revoke_key(self, key_id: str, at: float) -> bool:
        k = self._keys.get(key_id)
        if k is None:
            return False
        if k.revoked_at is None:
            k.revoked_at = at
        return True

    async def claim_idempotency(self, key: str, run_id: str, at: float) -> str:
        return self._idem.setdefault(key, run_id)

    async def save_agent(self, name: str, spec: dict[str, Any], at: float) -> None:
        self._agents[name] = copy.deepcopy(spec)

    async def delete_agent(self, name: str) -> bool:
        return self._agents.pop(name, None) is not None

    async def list_agents(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self._agents)

    async def renew_leases(self, owner: str, expires: float) -> list[str]:
        mine = [r.run_id for r in self._runs.values() if r.owner == owner and r.status == "running"]
        for rid in mine:
            self._leases[rid] = expires
        return mine

    async def orphans(self, now: float, limit: int = 100) -> list[Orphan]:
        out = []
        for r in self._runs.values():
            lease = self._leases.get(r.run_id)
            if r.status == "running" and (lease is None or lease < now):
                out.append(Orphan(r.run_id, r.owner, lease))
        return out[:limit]

    async def claim_run(
        self, run_id: str, owner: str, expires: float, *, now: float, from_owner: str | None
    ) -> bool:
        r = self._runs.get(run_id)
        lease = self._leases.get(run_id)
        if r is None or r.status != "running" or r.owner != from_owner:
            return False
        if lease is not None and lease >= now:
            return False
        r.owner = owner
        self._leases[run_id] = expires
        return True

    async def request_cancel(self, run_id: str) -> None:
        if run_id not in self._runs:
            raise self.unknown_run(run_id)
        self._cancel.add(run_id)

    async def cancel_requests(self, owner: str) -> list[str]:
        return [
            rid
            for rid in self._cancel
            if (r := self._runs.get(rid)) is not None and r.owner == owner and r.status == "running"
        ]


def _copy(run: RunRecord) -> RunRecord:
    # the definition is never changed in place: share it (a 100,000-task one is big)
    return dataclasses.replace(
        run,
        counts=dict(run.counts) if run.counts is not None else None,
        stats=copy.deepcopy(run.stats),
    )
