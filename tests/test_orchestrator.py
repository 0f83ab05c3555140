"""The Python API's one-call operations: delegate, sequence, parallel, status, stats; runs
sharing agents; agent statistics and lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

import podium

T = TypeVar("T")


async def guard(aw: Awaitable[T]) -> T:
    """Await, failing the test instead of hanging it when the engine gets stuck."""
    return await asyncio.wait_for(aw, 10)


async def until(cond: Callable[[], bool]) -> None:
    """Let the loop run until ``cond()`` holds."""
    for _ in range(10_000):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


def echo_agent(orch: podium.Orchestrator, fail: set[str] | None = None) -> list[str]:
    """Registers 'bot' (capability x): returns input and deps, fails for inputs in ``fail``."""
    order: list[str] = []

    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> Any:
        order.append(ctx.task_id)
        await asyncio.sleep(0)
        if fail and ctx.input in fail:
            raise RuntimeError(f"cannot do {ctx.input}")
        return {"input": ctx.input, "deps": ctx.deps}

    return order


# -- delegate --------------------------------------------------------------------------------


async def test_delegate_returns_the_result(orch: podium.Orchestrator) -> None:
    @orch.agent(name="translator", capabilities=["translate"])
    async def translate(ctx: podium.Context) -> str:
        return ctx.input["text"].upper()

    assert await orch.delegate("translate", {"text": "hi"}) == "HI"


async def test_delegate_failure_raises_task_failed(orch: podium.Orchestrator) -> None:
    @orch.agent(name="translator", capabilities=["translate"])
    async def translate(ctx: podium.Context) -> str:
        raise ValueError("unknown language 'xx'")

    with pytest.raises(podium.TaskFailed) as e:
        await orch.delegate(
            "translate", {"text": "hi"}, retry={"max_attempts": 2, "initial_delay": 0}
        )
    msg = str(e.value)
    assert "'translate'" in msg and "'translator'" in msg
    assert "ValueError: unknown language 'xx'" in msg


async def test_delegate_timeout(orch: podium.Orchestrator) -> None:
    @orch.agent(name="slow", capabilities=["slow"])
    async def slow(ctx: podium.Context) -> None:
        await asyncio.sleep(30)

    with pytest.raises(podium.TaskFailed, match="timeout"):
        await guard(orch.delegate("slow", timeout=0.05))


async def test_delegate_to_a_capability_nobody_has(orch: podium.Orchestrator) -> None:
    echo_agent(orch)
    with pytest.raises(podium.CapabilityError) as e:
        await orch.delegate("paint")
    assert "'paint'" in str(e.value) and "capabilities: x" in str(e.value)


# -- sequence and parallel -------------------------------------------------------------------


async def test_strict_sequence_chains_results(orch: podium.Orchestrator) -> None:
    order = echo_agent(orch)
    result = await guard(orch.sequence([{"capability": "x", "input": n} for n in (1, 2, 3)]))
    assert result.status == "completed" and order == ["t1", "t2", "t3"]
    assert result["t1"] == {"input": 1, "deps": {}}
    assert result["t2"] == {"input": 2, "deps": {"t1": result["t1"]}}
    assert result["t3"]["deps"] == {"t2": result["t2"]}


async def test_strict_sequence_stops_at_the_first_failure(orch: podium.Orchestrator) -> None:
    order = echo_agent(orch, fail={2})
    result = await guard(orch.sequence([{"capability": "x", "input": n} for n in (1, 2, 3, 4)]))
    assert order == ["t1", "t2"]
    assert result.status == "failed"
    assert [result.tasks[f"t{i}"].status for i in (1, 2, 3, 4)] == [
        "completed",
        "failed",
        "skipped",
        "skipped",
    ]


async def test_loose_sequence_runs_everything_in_order(orch: podium.Orchestrator) -> None:
    order = echo_agent(orch, fail={2})
    tasks: list[Any] = [podium.Task("first", capability="x", input=1)]
    tasks += [{"id": f"n{n}", "capability": "x", "input": n} for n in (2, 3, 4, 5)]
    result = await guard(orch.sequence(tasks, strict=False))
    assert order == ["first", "n2", "n3", "n4", "n5"]
    assert result.status == "partial"
    assert result.tasks["n2"].status == "failed"
    assert all(result.tasks[t].status == "completed" for t in ("first", "n3", "n4", "n5"))
    assert result["n3"]["deps"] == {}


async def test_parallel_runs_tasks_at_once(orch: podium.Orchestrator) -> None:
    arrived = 0
    all_here = asyncio.Event()

    @orch.agent(name="bot", capabilities=["x"], capacity=10)
    async def handle(ctx: podium.Context) -> int:
        nonlocal arrived
        arrived += 1
        if arrived == 3:
            all_here.set()
        await all_here.wait()  # only returns if all three run at the same time
        return ctx.input

    result = await guard(orch.parallel([{"capability": "x", "input": i} for i in range(3)]))
    assert result.status == "completed"
    assert [result[f"t{i}"] for i in (1, 2, 3)] == [0, 1, 2]


async def test_parallel_failures_do_not_stop_the_others(orch: podium.Orchestrator) -> None:
    echo_agent(orch, fail={"b"})
    result = await guard(orch.parallel([{"capability": "x", "input": s} for s in "abc"]))
    assert result.status == "partial"
    assert [t.status for t in result.tasks.values()] == ["completed", "failed", "completed"]


async def test_parallel_max_concurrency(orch: podium.Orchestrator) -> None:
    now = peak = 0

    @orch.agent(name="bot", capabilities=["x"], capacity=10)
    async def handle(ctx: podium.Context) -> None:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await asyncio.sleep(0.001)
        now -= 1

    result = await guard(orch.parallel([{"capability": "x"}] * 12, max_concurrency=3))
    assert result.status == "completed" and peak == 3


# -- status and stats ------------------------------------------------------------------------


async def test_status_during_and_after_a_run(orch: podium.Orchestrator) -> None:
    running = asyncio.Event()
    go_on = asyncio.Event()

    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> str:
        if ctx.task_id == "a":
            running.set()
            await go_on.wait()
        return ctx.task_id

    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    wf.task("b", capability="x", depends_on=["a"])
    assert orch.status("a") is None
    task = asyncio.create_task(orch.run(wf, run_id="r1"))
    await guard(running.wait())
    a, b = orch.status("a"), orch.status("b", run_id="r1")
    assert a is not None and a.status == "running" and a.agent == "bot" and a.attempts == 1
    assert b is not None and b.status == "pending"
    stats = orch.stats()
    assert stats["in_progress_tasks"] == 1 and stats["active_runs"] == 1
    assert stats["total_tasks"] == 2 and stats["completed_tasks"] == 0
    assert stats["agent_stats"]["bot"]["load"] == 1
    assert stats["agent_stats"]["bot"]["state"] == "running"
    go_on.set()
    await guard(task)
    assert orch.status("a").status == "completed"  # type: ignore[union-attr]
    assert orch.status("b", run_id="r1").result == "b"  # type: ignore[union-attr]
    assert orch.status("zzz") is None and orch.status("a", run_id="nope") is None


async def test_stats_across_runs(orch: podium.Orchestrator) -> None:
    echo_agent(orch, fail={"bad"})
    empty = orch.stats()
    assert empty["agents"] == 1 and empty["total_tasks"] == 0
    assert empty["success_rate"] is None and empty["in_progress_tasks"] == 0
    await guard(orch.parallel([{"capability": "x", "input": s} for s in ("a", "b", "bad")]))
    wf = podium.Workflow("w")
    wf.task("bad", capability="x", input="bad")
    wf.task("after", capability="x", depends_on=["bad"])
    await guard(orch.run(wf))
    s = orch.stats()
    assert s["agents"] == 1 and s["active_runs"] == 0
    assert (s["total_tasks"], s["completed_tasks"], s["failed_tasks"]) == (5, 2, 2)
    assert s["skipped_tasks"] == 1 and s["in_progress_tasks"] == 0
    assert s["success_rate"] == 0.5


async def test_agent_statistics(orch: podium.Orchestrator) -> None:
    echo_agent(orch, fail={"bad"})
    await guard(orch.parallel([{"capability": "x", "input": s} for s in ("a", "b", "c", "bad")]))
    a = orch.agents["bot"].stats()
    assert (a["completed"], a["failed"], a["load"]) == (3, 1, 0)
    assert a["success_rate"] == 0.75 and a["avg_latency"] >= 0
    assert a["state"] == "idle" and a["capabilities"] == ["x"]


# -- runs sharing agents ---------------------------------------------------------------------


async def test_two_runs_share_an_agents_capacity(orch: podium.Orchestrator) -> None:
    now = peak = 0

    @orch.agent(name="bot", capabilities=["x"], capacity=2)
    async def handle(ctx: podium.Context) -> str:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await asyncio.sleep(0.001)
        now -= 1
        return ctx.run_id

    def flow(name: str) -> podium.Workflow:
        wf = podium.Workflow(name)
        for i in range(10):
            wf.task(f"t{i}", capability="x")
        return wf

    r1, r2 = await guard(asyncio.gather(orch.run(flow("one")), orch.run(flow("two"))))
    assert r1.status == "completed" and r2.status == "completed"
    assert peak == 2 and r1.run_id != r2.run_id
    assert r1["t0"] == r1.run_id and r2["t0"] == r2.run_id


@pytest.mark.parametrize("outcome", ["completes", "fails"])
async def test_a_run_waiting_for_a_shared_agent_resumes_when_the_other_ends(
    orch: podium.Orchestrator, outcome: str
) -> None:
    gate = asyncio.Event()

    @orch.agent(name="bot", capabilities=["x"], capacity=1)
    async def handle(ctx: podium.Context) -> str:
        if ctx.input == "hold":
            await gate.wait()
            if outcome == "fails":
                raise RuntimeError("held task failed")
        return "ok"

    first = podium.Workflow("first")
    first.task("hold", capability="x", input="hold")
    second = podium.Workflow("second")
    second.task("next", capability="x")
    t1 = asyncio.create_task(orch.run(first))
    await until(lambda: orch.agents["bot"].load == 1)
    t2 = asyncio.create_task(orch.run(second))
    await until(lambda: orch.status("next") is not None)
    for _ in range(10):
        await asyncio.sleep(0)
    assert orch.status("next").status == "ready"  # type: ignore[union-attr]
    gate.set()
    r1 = await guard(t1)
    r2 = await guard(t2)  # hangs if nobody tells the second run the slot is free
    assert r1.status == ("completed" if outcome == "completes" else "failed")
    assert r2.status == "completed"


# -- agent lifecycle -------------------------------------------------------------------------


class Tracked(podium.Agent):
    capabilities = ["x"]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.calls: list[str] = []

    async def setup(self) -> None:
        self.calls.append(f"setup in {self.state}")

    async def teardown(self) -> None:
        self.calls.append("teardown")

    async def handle(self, ctx: podium.Context) -> str:
        return str(self.state)


async def test_agent_lifecycle() -> None:
    orch = podium.Orchestrator()
    agent = orch.register(Tracked(name="t"))
    assert agent.state is podium.AgentState.CREATED
    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    result = await guard(orch.run(wf))
    assert result["a"] == "running"  # the state while it works
    assert agent.state is podium.AgentState.IDLE
    await guard(orch.run(wf))
    assert agent.calls == ["setup in initializing"]  # once, however many runs
    await orch.close()
    assert agent.calls == ["setup in initializing", "teardown"]
    assert agent.state is podium.AgentState.TERMINATED


async def test_a_workflows_own_agents_live_for_one_run() -> None:
    # agents declared by a workflow (file) hold resources for the run: an MCP server's process
    orch = podium.Orchestrator()
    agent = Tracked(name="own")
    wf = podium.Workflow("w")
    wf.add_agent(agent)
    wf.task("a", capability="x")
    assert (await guard(orch.run(wf)))["a"] == "running"
    assert agent.calls == ["setup in initializing", "teardown"]
    assert agent.state is podium.AgentState.CREATED  # set up again by the next run
    await guard(orch.run(wf))
    assert agent.calls == ["setup in initializing", "teardown"] * 2
    await orch.close()
    assert len(agent.calls) == 4


async def test_async_with_closes_the_orchestrator() -> None:
    async with podium.Orchestrator() as orch:
        agent = orch.register(Tracked(name="t"))
        wf = podium.Workflow("w")
        wf.task("a", capability="x")
        await guard(orch.run(wf))
    assert agent.calls[-1] == "teardown" and agent.state is podium.AgentState.TERMINATED


async def test_agent_that_fails_to_set_up(orch: podium.Orchestrator) -> None:
    class Broken(Tracked):
        async def setup(self) -> None:
            raise OSError("model file missing")

    agent = orch.register(Broken(name="broken"))
    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    with pytest.raises(podium.HandlerError) as e:
        await guard(orch.run(wf))
    assert "'broken'" in str(e.value) and "OSError: model file missing" in str(e.value)
    assert e.value.field == "setup"
    assert agent.state is podium.AgentState.ERROR


async def test_unused_agents_are_not_torn_down() -> None:
    orch = podium.Orchestrator()
    agent = orch.register(Tracked(name="t"))
    await orch.close()
    assert agent.calls == [] and agent.state is podium.AgentState.CREATED


async def test_run_sync_inside_a_running_loop_says_to_await_run() -> None:
    orch = podium.Orchestrator()
    orch.register(lambda ctx: 1, name="bot", capabilities=["x"])
    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    with pytest.raises(podium.ValidationError, match=r"use 'await orch.run\(workflow\)'"):
        orch.run_sync(wf)
    assert (await orch.run(wf)).status == "completed"
