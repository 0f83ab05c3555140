"""Many servers, one database: who runs which run, and taking over the runs of a dead server.

Every `lease_ttl / 3` seconds a server renews the lease of all the running runs it owns (one
statement), picks up cancel requests for them, and looks for orphans: running runs whose lease
ran out (their server died or hung) or that have none and whose process is gone on this
machine (`podium run --db` killed, or a server from before leases). It claims each with a
compare-and-set on the owner, so of several servers one wins, and resumes it: completed tasks
keep their results, the rest run again. A run it owned that another server claimed meanwhile
(this server was frozen past its lease) stops here without writing anything more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ..errors import PodiumError
from .workers import WorkerAgent

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger("podium.server")

WORKER_GONE = 3  # a worker silent this many lease ttls is removed


class Ownership:
    def __init__(self, service: Service) -> None:
        self.service = service

    async def loop(self) -> None:
        interval = self.service.config.lease_ttl / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tick()
            except PodiumError as exc:  # the store is away: try again next time
                log.warning("upkeep: %s", exc)
            except Exception:
                log.exception("upkeep failed")

    async def tick(self) -> None:
        s = self.service
        now = time.time()
        mine = set(await s.store.renew_leases(s.owner, now + s.config.lease_ttl))
        for run_id in [r for r in s.jobs if r not in mine]:
            if s.live(run_id) is not None and run_id not in mine:
                log.warning("run %s was taken over by another server: stopping it here", run_id)
                await s.release(run_id)
        for run_id in await s.store.cancel_requests(s.owner):
            job = s.jobs.get(run_id)
            if job is not None:
                job.cancel()
        await self.take_over()
        await s._sync_agents()
        await self._forget_workers(now)

    async def take_over(self, *, at_start: bool = False) -> list[str]:
        s = self.service
        now = time.time()
        taken = []
        for orphan in await s.store.orphans(now):
            if orphan.run_id in s.jobs:
                continue
            if orphan.lease_expires is None:
                saved = await s.store.get_run(orphan.run_id)
                # no lease: a run of `podium run --db` (or of a server from before leases);
                # take it only when its process is gone, which can be told on this machine
                if saved.owner != s.owner and saved.owner_alive() is not False:
                    continue
            ok = await s.store.claim_run(
                orphan.run_id,
                s.owner,
                now + s.config.lease_ttl,
                now=now,
                from_owner=orphan.owner,
            )
            if not ok:
                continue
            try:
                await s.resume_here(orphan.run_id)
            except PodiumError as exc:
                log.warning("run %s could not be resumed here: %s", orphan.run_id, exc)
                continue
            log.info("took over run %s from %s", orphan.run_id, orphan.owner)
            taken.append(orphan.run_id)
        return taken

    async def _forget_workers(self, now: float) -> None:
        orch = self.service.orch
        for name, agent in list(orch.agents.items()):
            if isinstance(agent, WorkerAgent) and now - agent.last_seen > WORKER_GONE * agent.ttl:
                await orch.terminate_agent(name)
                self.service.hub.publish("worker_gone", agent=name)
