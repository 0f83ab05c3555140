"""The engine end to end through the Python API: results, context, agent forms, executors,
ordering, capacity and resuming from a preset."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

import podium
from podium.engine.run import Run


def run_of(orch: podium.Orchestrator, wf: podium.Workflow, **kw: Any) -> Run:
    return Run(wf, list(orch.agents.values()), **kw)


# -- the happy path --------------------------------------------------------------------------


async def test_issue_example(orch: podium.Orchestrator) -> None:
    @orch.agent(name="researcher", capabilities=["research"], capacity=4)
    async def research(ctx: podium.Context) -> Any:
        return {"found": ctx.input.get("query"), "deps": ctx.deps}

    wf = podium.Workflow("report")
    wf.task("fetch", capability="research", input={"query": "x"})
    wf.task("summary", capability="research", depends_on=["fetch"])
    result = await orch.run(wf)
    assert result.status == podium.RunStatus.COMPLETED and result.ok
    fetch = result.tasks["fetch"]
    assert fetch.result == {"found": "x", "deps": {}}
    assert result.tasks["summary"].result == {"found": None, "deps": {"fetch": fetch.result}}
    assert result["fetch"] == fetch.result
    assert fetch.agent == "researcher" and fetch.attempts == 1 and fetch.error is None
    assert fetch.status == podium.TaskStatus.COMPLETED


def test_run_sync() -> None:
    orch = podium.Orchestrator()
    orch.register(lambda ctx: ctx.input["n"] * 2, name="double", capabilities=["math"])
    wf = podium.Workflow("w")
    wf.task("a", capability="math", input={"n": 21})
    result = orch.run_sync(wf)
    assert result.status == "completed" and result["a"] == 42
    asyncio.run(orch.close())


async def test_context_says_where_it_stands(orch: podium.Orchestrator) -> None:
    seen: dict[str, dict[str, Any]] = {}

    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> Any:
        seen[ctx.task_id] = {
            "input": ctx.input,
            "deps": ctx.deps,
            "task_id": ctx.task_id,
            "attempt": ctx.attempt,
            "agent": ctx.agent,
            "run_id": ctx.run_id,
            "key": ctx.idempotency_key,
        }
        return ctx.task_id.upper()

    wf = podium.Workflow("w")
    wf.task("a", capability="x", input={"q": 1})
    wf.task("b", capability="x", input=[1, 2])
    wf.task("c", capability="x", depends_on=["a", "b"])
    result = await orch.run(wf, run_id="run-1")
    assert result.run_id == "run-1"
    assert seen["a"] == {
        "input": {"q": 1},
        "deps": {},
        "task_id": "a",
        "attempt": 1,
        "agent": "bot",
        "run_id": "run-1",
        "key": "run-1:a",
    }
    assert seen["b"]["input"] == [1, 2]
    assert seen["c"]["deps"] == {"a": "A", "b": "B"} and seen["c"]["input"] == {}


async def test_task_results_and_timings(orch: podium.Orchestrator) -> None:
    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> int:
        await asyncio.sleep(0)
        return 7

    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    wf.task("b", capability="x", depends_on=["a"])
    result = await orch.run(wf)
    a, b = result.tasks["a"], result.tasks["b"]
    for rec in (a, b):
        assert rec.status == "completed" and rec.result == 7 and rec.agent == "bot"
        assert rec.attempts == 1 and rec.error is None
        assert rec.started_at is not None and rec.finished_at is not None
        assert rec.started_at <= rec.finished_at and rec.duration is not None
    assert a.finished_at <= b.started_at  # type: ignore[operator]
    assert result.started_at <= a.started_at and b.finished_at <= result.finished_at  # type: ignore[operator]


async def test_stats_and_to_dict(orch: podium.Orchestrator) -> None:
    orch.register(lambda ctx: {"ok": True}, name="bot", capabilities=["x"], executor="inline")
    wf = podium.Workflow("w")
    for i in range(3):
        wf.task(f"t{i}", capability="x")
    result = await orch.run(wf)
    s = result.stats
    assert (s["total"], s["completed"], s["failed"], s["skipped"], s["cancelled"]) == (
        3,
        3,
        0,
        0,
        0,
    )
    assert s["in_progress"] == 0 and s["attempts"] == 3 and s["success_rate"] == 1.0
    assert s["duration"] >= 0 and s["agents"]["bot"]["completed"] == 3
    doc = result.to_dict()
    assert {"run_id", "status", "tasks", "stats"} <= set(doc)
    assert doc["run_id"] == result.run_id and doc["status"] == "completed"
    assert doc["workflow"] == "w"
    t0 = doc["tasks"]["t0"]
    assert set(t0) == {
        "status",
        "result",
        "agent",
        "attempts",
        "error",
        "started_at",
        "finished_at",
    }
    assert t0["status"] == "completed" and t0["result"] == {"ok": True} and t0["agent"] == "bot"
    assert t0["started_at"].endswith("+00:00")  # ISO 8601, UTC
    assert json.loads(json.dumps(doc)) == doc


# -- agent forms and executors ---------------------------------------------------------------


async def test_class_forms(orch: podium.Orchestrator) -> None:
    class Writer(podium.Agent):
        capabilities = ["write"]

        async def handle(self, ctx: podium.Context) -> str:
            return f"text by {self.name}"

    class Counter(podium.Agent):
        capabilities = ["count"]

        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            self.n = 0

        def handle(self, ctx: podium.Context) -> int:
            self.n += 1
            return self.n

    class Plain:
        def handle(self, ctx: podium.Context) -> list[str]:
            return ["plain", ctx.agent]

    orch.register(Writer(name="writer"))
    counter = orch.register(Counter(name="counter"))
    orch.register(Plain, name="plain", capabilities=["plain"])
    wf = podium.Workflow("w")
    wf.task("w", capability="write")
    wf.task("c", capability="count")
    wf.task("p", capability="plain")
    result = await orch.run(wf)
    assert (
        result["w"] == "text by writer" and result["c"] == 1 and result["p"] == ["plain", "plain"]
    )
    assert isinstance(counter, Counter) and counter.n == 1


async def test_sync_handlers_run_in_threads(orch: podium.Orchestrator) -> None:
    threads: dict[str, str] = {}

    @orch.agent(name="sync", capabilities=["s"])
    def sync(ctx: podium.Context) -> str:
        threads[ctx.task_id] = threading.current_thread().name
        return "done"

    wf = podium.Workflow("w")
    wf.task("a", capability="s")
    result = await orch.run(wf)
    assert result["a"] == "done"
    assert threads["a"] != threading.main_thread().name


async def test_sync_handlers_do_not_block_the_loop(orch: podium.Orchestrator) -> None:
    # the thread waits for an event only a handler on the loop can set: if the thread held
    # the loop, the event would never come and the wait would time out
    ev = threading.Event()

    @orch.agent(name="waiter", capabilities=["wait"])
    def waiter(ctx: podium.Context) -> bool:
        return ev.wait(10)

    @orch.agent(name="setter", capabilities=["set"])
    async def setter(ctx: podium.Context) -> bool:
        for _ in range(3):
            await asyncio.sleep(0)
        ev.set()
        return True

    wf = podium.Workflow("w")
    wf.task("wait", capability="wait", priority="critical")
    wf.task("set", capability="set", priority="low")
    result = await orch.run(wf)
    assert result.status == "completed" and result["wait"] is True


async def test_inline_executor_runs_on_the_loop(orch: podium.Orchestrator) -> None:
    threads: list[threading.Thread] = []

    @orch.agent(name="inline", capabilities=["i"], executor="inline")
    def inline(ctx: podium.Context) -> int:
        threads.append(threading.current_thread())
        asyncio.get_running_loop()  # raises outside the loop's thread
        return 1

    wf = podium.Workflow("w")
    wf.task("a", capability="i")
    assert (await orch.run(wf))["a"] == 1
    assert threads == [threading.main_thread()]


async def test_async_handlers_that_await_and_that_do_not(orch: podium.Orchestrator) -> None:
    @orch.agent(name="quick", capabilities=["quick"])
    async def quick(ctx: podium.Context) -> int:
        return ctx.input["n"]

    @orch.agent(name="slow", capabilities=["slow"])
    async def slow(ctx: podium.Context) -> int:
        await asyncio.sleep(0.001)
        fut = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(fut.set_result, ctx.input["n"])
        return await fut

    wf = podium.Workflow("w")
    for i in range(20):
        wf.task(f"q{i}", capability="quick", input={"n": i})
        wf.task(f"s{i}", capability="slow", input={"n": i})
    wf.task("sum", capability="quick", depends_on=["q3", "s4"], input={"n": -1})
    result = await orch.run(wf)
    assert result.status == "completed"
    assert [result[f"q{i}"] for i in range(20)] == list(range(20))
    assert [result[f"s{i}"] for i in range(20)] == list(range(20))


async def test_handler_sees_its_own_current_task_and_context_vars(
    orch: podium.Orchestrator,
) -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> list[str]:
        before = var.get()
        var.set(ctx.task_id)
        me = asyncio.current_task()
        await asyncio.sleep(0)
        assert asyncio.current_task() is me
        return [before, var.get()]

    wf = podium.Workflow("w")
    for tid in "abc":
        wf.task(tid, capability="x")
    result = await orch.run(wf)
    # each handler runs in its own copy of the context
    assert [result[t] for t in "abc"] == [["unset", "a"], ["unset", "b"], ["unset", "c"]]


# -- ordering --------------------------------------------------------------------------------


async def test_order_follows_priority_then_rank_then_fifo(orch: podium.Orchestrator) -> None:
    order: list[str] = []

    @orch.agent(name="solo", capabilities=["x"], capacity=1)
    async def handle(ctx: podium.Context) -> None:
        order.append(ctx.task_id)

    wf = podium.Workflow("w", max_concurrency=1)
    wf.task("low", capability="x", priority="low")
    wf.task("m1", capability="x")
    wf.task("c1", capability="x")
    wf.task("c2", capability="x", depends_on=["c1"])
    wf.task("c3", capability="x", depends_on=["c2"])
    wf.task("m2", capability="x")
    wf.task("crit", capability="x", priority="critical")
    result = await orch.run(wf)
    assert result.status == "completed"
    # c1 heads the longest path; c3 arrives after m1 and m2 with the same rank: FIFO
    assert order == ["crit", "c1", "c2", "m1", "m2", "c3", "low"]


async def test_estimated_time_weights_the_order(orch: podium.Orchestrator) -> None:
    order: list[str] = []

    async def handle(ctx: podium.Context) -> None:
        order.append(ctx.task_id)

    orch.register(handle, name="quick", capabilities=["quick"], capacity=1, estimated_time=1.0)
    orch.register(handle, name="slow", capabilities=["slow"], capacity=1, estimated_time=10.0)
    wf = podium.Workflow("w", max_concurrency=1)
    wf.task("q1", capability="quick")
    wf.task("q2", capability="quick", depends_on=["q1"])
    wf.task("q3", capability="quick", depends_on=["q2"])
    wf.task("big", capability="slow")
    await orch.run(wf)
    assert order == ["big", "q1", "q2", "q3"]


# -- capacity under load ---------------------------------------------------------------------


class Gauge:
    """Counts handlers running at once, overall and per agent."""

    def __init__(self) -> None:
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.total = self.total_peak = 0

    async def __call__(self, ctx: podium.Context) -> None:
        a = ctx.agent
        self.now[a] = self.now.get(a, 0) + 1
        self.peak[a] = max(self.peak.get(a, 0), self.now[a])
        self.total += 1
        self.total_peak = max(self.total_peak, self.total)
        await asyncio.sleep(0.001)
        self.now[a] -= 1
        self.total -= 1


async def test_agent_capacity_holds_under_load(orch: podium.Orchestrator) -> None:
    g = Gauge()
    orch.register(g, name="a", capabilities=["x"], capacity=3)
    orch.register(g, name="b", capabilities=["x"], capacity=2)
    wf = podium.Workflow("w")
    for i in range(60):
        wf.task(f"t{i}", capability="x")
    result = await orch.run(wf)
    assert result.status == "completed"
    assert g.peak == {"a": 3, "b": 2}


async def test_max_concurrency_holds_under_load(orch: podium.Orchestrator) -> None:
    g = Gauge()
    orch.register(g, name="a", capabilities=["x"], capacity=5)
    orch.register(g, name="b", capabilities=["y"], capacity=5)
    wf = podium.Workflow("w", max_concurrency=4)
    for i in range(40):
        wf.task(f"x{i}", capability="x")
        wf.task(f"y{i}", capability="y", depends_on=[f"x{i // 2}"])
    result = await orch.run(wf)
    assert result.status == "completed"
    assert g.total_peak == 4 and g.peak["a"] <= 4 and g.peak["b"] <= 4


# -- resuming --------------------------------------------------------------------------------


async def test_preset_tasks_do_not_run_again(orch: podium.Orchestrator) -> None:
    ran: list[str] = []

    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> Any:
        ran.append(ctx.task_id)
        return {"deps": ctx.deps}

    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    wf.task("b", capability="x", depends_on=["a"])
    run = run_of(orch, wf, preset={"a": {"status": "completed", "result": 1, "attempts": 1}})
    result = await orch.execute(run)
    assert ran == ["b"]
    assert result.status == "completed"
    assert result.tasks["a"].status == "completed" and result["a"] == 1
    assert result.tasks["a"].attempts == 1
    assert result["b"] == {"deps": {"a": 1}}


async def test_preset_of_an_unfinished_task_carries_its_attempts(
    orch: podium.Orchestrator,
) -> None:
    attempts: list[int] = []

    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> int:
        attempts.append(ctx.attempt)
        return ctx.attempt

    wf = podium.Workflow("w")
    wf.task("a", capability="x", retry={"max_attempts": 3})
    run = run_of(orch, wf, preset={"a": {"status": "running", "attempts": 1}})
    result = await orch.execute(run)
    assert attempts == [2] and result.tasks["a"].attempts == 2 and result["a"] == 2


async def test_everything_preset(orch: podium.Orchestrator) -> None:
    orch.register(lambda ctx: 0, name="bot", capabilities=["x"])
    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    run = run_of(orch, wf, preset={"a": {"status": "completed", "result": [1]}})
    result = await orch.execute(run)
    assert result.status == "completed" and result["a"] == [1]


@pytest.mark.parametrize("awaits", [False, True], ids=["no-await", "await"])
async def test_context_vars_set_by_a_handler_do_not_reach_the_next_one(
    orch: podium.Orchestrator, awaits: bool
) -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var2", default="unset")

    @orch.agent(name="bot", capabilities=["x"], capacity=1)
    async def handle(ctx: podium.Context) -> str:
        before = var.get()
        if ctx.task_id != "keep":
            var.set(ctx.task_id)
        if awaits:
            await asyncio.sleep(0)
        return before

    wf = podium.Workflow("w", max_concurrency=1)
    for tid in ["a", "b", "keep", "c", "d"]:
        wf.task(tid, capability="x")
    result = await orch.run(wf)
    assert [result[t] for t in ["a", "b", "keep", "c", "d"]] == ["unset"] * 5
