"""Cancelling a run from outside: the task awaiting it is cancelled (Ctrl-C, a timeout, a
server request). Running handlers are cancelled, the rest is skipped, CancelledError
propagates and the run ends ``cancelled``."""

from __future__ import annotations

import asyncio
import threading

import pytest

import podium


async def started(ev: asyncio.Event) -> None:
    await asyncio.wait_for(ev.wait(), 10)


async def test_cancelling_the_run_cancels_running_handlers(orch: podium.Orchestrator) -> None:
    running = asyncio.Event()
    seen: list[str] = []

    @orch.agent(name="bot", capabilities=["x"], capacity=2)
    async def handle(ctx: podium.Context) -> str:
        if ctx.task_id.startswith("long"):
            if ctx.task_id == "long2":
                running.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                seen.append(ctx.task_id)
                raise
        return "done"

    wf = podium.Workflow("w")
    wf.task("quick", capability="x", priority="critical")
    wf.task("long1", capability="x")
    wf.task("long2", capability="x")
    wf.task("waiting", capability="x", priority="low")
    wf.task("after", capability="x", depends_on=["long1"])
    run = orch.prepare(wf)
    task = asyncio.create_task(orch.execute(run))
    await started(running)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(seen) == ["long1", "long2"]
    assert run.status == podium.RunStatus.CANCELLED
    t = run.records
    assert t["quick"].status == "completed"
    assert t["long1"].status == "cancelled" and t["long2"].status == "cancelled"
    assert "cancelled" in (t["long1"].error or "")
    assert t["waiting"].status == "skipped" and t["after"].status == "skipped"
    assert orch.agents["bot"].load == 0
    # the orchestrator remembers it
    assert orch.status("long1", run.run_id).status == "cancelled"  # type: ignore[union-attr]
    stats = orch.stats()
    assert stats["cancelled_tasks"] == 2 and stats["active_runs"] == 0
    assert run.result().to_dict()["status"] == "cancelled"


async def test_cancelling_orch_run_propagates(orch: podium.Orchestrator) -> None:
    running = asyncio.Event()
    seen: list[str] = []

    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> None:
        running.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    task = asyncio.create_task(orch.run(wf))
    await started(running)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"] and task.cancelled()
    assert orch.status("a").status == "cancelled"  # type: ignore[union-attr]


async def test_cancelling_with_a_thread_handler_running(orch: podium.Orchestrator) -> None:
    running = threading.Event()
    release = threading.Event()

    @orch.agent(name="bot", capabilities=["x"])
    def handle(ctx: podium.Context) -> str:
        running.set()
        release.wait(10)
        return "late"

    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    run = orch.prepare(wf)
    task = asyncio.create_task(orch.execute(run))
    try:
        await asyncio.to_thread(running.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        release.set()
    assert run.status == "cancelled" and run.records["a"].status == "cancelled"


async def test_cancelling_during_a_retry_backoff(orch: podium.Orchestrator) -> None:
    failed = asyncio.Event()

    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> None:
        failed.set()
        raise RuntimeError("try later")

    wf = podium.Workflow("w")
    wf.task("a", capability="x", retry={"max_attempts": 3, "initial_delay": 30})
    run = orch.prepare(wf)
    task = asyncio.create_task(orch.execute(run))
    await started(failed)
    await asyncio.sleep(0)
    assert run.records["a"].status == "retrying"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert run.status == "cancelled" and run.records["a"].status == "skipped"
    assert run.records["a"].attempts == 1


async def test_a_handler_cancelling_itself_is_not_a_run_cancellation(
    orch: podium.Orchestrator,
) -> None:
    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> str:
        inner = asyncio.create_task(asyncio.sleep(30))
        await asyncio.sleep(0)
        inner.cancel()
        try:
            await inner
        except asyncio.CancelledError:
            return "inner task cancelled"
        return "not cancelled"

    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    result = await asyncio.wait_for(orch.run(wf), 10)
    assert result.status == "completed" and result["a"] == "inner task cancelled"


async def test_cancelled_tasks_do_not_count_for_the_breaker(orch: podium.Orchestrator) -> None:
    running = asyncio.Event()

    @orch.agent(name="bot", capabilities=["x"], capacity=2, breaker_failures=3)
    async def handle(ctx: podium.Context) -> None:
        if ctx.task_id == "fails":
            raise RuntimeError("down")
        running.set()
        await asyncio.sleep(30)

    wf = podium.Workflow("w", on_failure="continue")
    wf.task("fails", capability="x", priority="critical")
    wf.task("sleeps", capability="x")
    task = asyncio.create_task(orch.run(wf))
    await started(running)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    bot = orch.agents["bot"]
    assert orch.status("sleeps").status == "cancelled"  # type: ignore[union-attr]
    # one failure and one cancellation: the cancellation is not a success
    assert bot.consecutive_failures == 1 and bot.completed == 0 and bot.load == 0
