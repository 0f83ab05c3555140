"""The orchestrator's own bus across event loops (run_sync makes a new loop per call)."""

from __future__ import annotations

import asyncio

import podium
from _redis import REDIS_URL, redis_namespace


def publishing_workflow(orch: podium.Orchestrator) -> podium.Workflow:
    @orch.agent(name="pub", capabilities=["x"])
    async def pub(ctx):
        await ctx.publish("news", {"from": ctx.task_id})
        return "sent"

    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    return wf


def test_run_sync_twice_with_a_redis_bus_url():
    async def probe() -> None:
        async with redis_namespace():
            pass

    asyncio.run(probe())  # skips (or fails under PODIUM_REQUIRE_SERVICES) without Redis
    orch = podium.Orchestrator(bus=REDIS_URL)  # publish only: pub/sub, no keys are stored
    wf = publishing_workflow(orch)
    assert orch.run_sync(wf).status == "completed"
    assert orch.run_sync(wf).status == "completed"  # a new loop: the bus is opened again


def test_run_sync_twice_with_the_default_bus():
    orch = podium.Orchestrator()
    wf = publishing_workflow(orch)
    assert [orch.run_sync(wf).status for _ in range(2)] == ["completed", "completed"]
