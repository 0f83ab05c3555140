"""Failure paths: timeouts, retries, failover, circuit breakers, fail_fast and continue,
results that are not JSON, handlers raising odd exceptions."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

import podium
from podium.engine.run import Run

T = TypeVar("T")


async def guard(aw: Awaitable[T]) -> T:
    """Await a run, failing the test instead of hanging it when the engine gets stuck."""
    return await asyncio.wait_for(aw, 10)


class Boom(Exception):
    pass


# -- timeouts --------------------------------------------------------------------------------


async def test_timeout_cancels_the_handler_and_fails_the_task(orch: podium.Orchestrator) -> None:
    seen: list[str] = []

    @orch.agent(name="slow", capabilities=["x"])
    async def slow(ctx: podium.Context) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    wf = podium.Workflow("w")
    wf.task("a", capability="x", timeout=0.05)
    result = await guard(orch.run(wf))
    a = result.tasks["a"]
    assert seen == ["cancelled"]
    assert a.status == "failed" and "timeout" in (a.error or "") and a.attempts == 1
    assert result.status == "failed"
    assert orch.agents["slow"].failed == 1 and orch.agents["slow"].load == 0


async def test_timeout_is_retried(orch: podium.Orchestrator) -> None:
    attempts: list[int] = []

    @orch.agent(name="slow", capabilities=["x"])
    async def slow(ctx: podium.Context) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            await asyncio.sleep(30)
        return "second time lucky"

    wf = podium.Workflow("w")
    wf.task("a", capability="x", timeout=0.05, retry={"max_attempts": 2, "initial_delay": 0.01})
    result = await guard(orch.run(wf))
    assert attempts == [1, 2]
    assert result.tasks["a"].status == "completed" and result["a"] == "second time lucky"
    assert result.tasks["a"].error is None


async def test_handler_that_swallows_the_timeout_still_fails(orch: podium.Orchestrator) -> None:
    @orch.agent(name="stubborn", capabilities=["x"])
    async def stubborn(ctx: podium.Context) -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "ignored the cancellation"
        return "slept"

    wf = podium.Workflow("w")
    wf.task("a", capability="x", timeout=0.05)
    result = await guard(orch.run(wf))
    assert result.tasks["a"].status == "failed" and "timeout" in result.tasks["a"].error  # type: ignore[operator]
    assert result.tasks["a"].result is None


async def test_timeout_of_a_thread_handler(orch: podium.Orchestrator) -> None:
    release = threading.Event()

    @orch.agent(name="blocking", capabilities=["x"])
    def blocking(ctx: podium.Context) -> str:
        release.wait(10)
        return "late"

    wf = podium.Workflow("w")
    wf.task("a", capability="x", timeout=0.05)
    try:
        result = await guard(orch.run(wf))
    finally:
        release.set()  # let the thread go
    assert result.tasks["a"].status == "failed" and "timeout" in result.tasks["a"].error  # type: ignore[operator]


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backoff", ["fixed", "exponential"])
async def test_retries_until_success(orch: podium.Orchestrator, backoff: str) -> None:
    calls: list[tuple[int, str]] = []

    @orch.agent(name="flaky", capabilities=["x"])
    async def flaky(ctx: podium.Context) -> int:
        calls.append((ctx.attempt, ctx.idempotency_key))
        if ctx.attempt < 3:
            raise Boom(f"attempt {ctx.attempt}")
        return ctx.attempt

    wf = podium.Workflow("w")
    retry = {"max_attempts": 4, "backoff": backoff, "initial_delay": 0.01, "max_delay": 0.02}
    wf.task("a", capability="x", retry=retry)
    result = await guard(orch.run(wf))
    a = result.tasks["a"]
    assert [n for n, _ in calls] == [1, 2, 3]
    assert len({k for _, k in calls}) == 1  # one idempotency key for every attempt
    assert a.status == "completed" and a.result == 3 and a.attempts == 3 and a.error is None
    assert result.stats["attempts"] == 3
    assert orch.agents["flaky"].failed == 2 and orch.agents["flaky"].completed == 1


async def test_retries_spent(orch: podium.Orchestrator) -> None:
    @orch.agent(name="broken", capabilities=["x"])
    def broken(ctx: podium.Context) -> None:
        raise Boom("still broken")

    wf = podium.Workflow("w")
    wf.task("a", capability="x", retry={"max_attempts": 3, "backoff": "fixed", "initial_delay": 0})
    result = await guard(orch.run(wf))
    a = result.tasks["a"]
    assert a.status == "failed" and a.attempts == 3 and a.error == "Boom: still broken"
    assert result.status == "failed"


async def test_retry_events_reach_the_sink(orch: podium.Orchestrator) -> None:
    events: list[tuple[str, str | None, str | None]] = []

    @orch.agent(name="flaky", capabilities=["x"])
    async def flaky(ctx: podium.Context) -> int:
        if ctx.attempt == 1:
            raise Boom("first")
        return 1

    def sink(kind: str, rec: podium.TaskResult | None) -> None:
        events.append((kind, rec.id if rec else None, str(rec.status) if rec else None))

    wf = podium.Workflow("w")
    wf.task("a", capability="x", retry={"max_attempts": 2, "initial_delay": 0.01})
    run = Run(wf, list(orch.agents.values()), sink=sink)
    await guard(orch.execute(run))
    assert events == [
        ("start", "a", "running"),
        ("retry", "a", "retrying"),
        ("start", "a", "running"),
        ("end", "a", "completed"),
        ("run", None, None),
    ]


async def test_retry_fails_over_to_another_agent(orch: podium.Orchestrator) -> None:
    agents: list[str] = []

    async def handle(ctx: podium.Context) -> str:
        agents.append(ctx.agent)
        if ctx.attempt == 1:
            raise Boom("first agent is down")
        return ctx.agent

    orch.register(handle, name="one", capabilities=["x"])
    orch.register(handle, name="two", capabilities=["x"])
    wf = podium.Workflow("w")
    wf.task("a", capability="x", retry={"max_attempts": 2, "initial_delay": 0.01})
    result = await guard(orch.run(wf))
    assert len(agents) == 2 and agents[0] != agents[1]
    assert result.tasks["a"].agent == agents[1] and result["a"] == agents[1]


async def test_retry_stays_on_the_only_agent(orch: podium.Orchestrator) -> None:
    agents: list[str] = []

    @orch.agent(name="only", capabilities=["x"])
    async def handle(ctx: podium.Context) -> int:
        agents.append(ctx.agent)
        if ctx.attempt == 1:
            raise Boom("once")
        return 1

    wf = podium.Workflow("w")
    wf.task("a", capability="x", retry={"max_attempts": 2, "initial_delay": 0.01})
    await guard(orch.run(wf))
    assert agents == ["only", "only"]


# -- circuit breaker -------------------------------------------------------------------------


async def test_breaker_probes_once_after_cooldown_then_closes(orch: podium.Orchestrator) -> None:
    log: list[str] = []
    tripped = asyncio.Event()

    async def flaky(ctx: podium.Context) -> str:
        agent = ctx.run.agents["flaky"]
        log.append(f"start {ctx.task_id}")
        await asyncio.sleep(0.005)
        if ctx.task_id == "trip":
            tripped.set()
            raise Boom("down")
        # p runs as the single probe of a half-open breaker; q after it closed
        state = "probe" if agent.probing else ("open" if agent.breaker_until else "closed")
        log.append(f"end {ctx.task_id} {state}")
        return state

    async def gate(ctx: podium.Context) -> None:
        await tripped.wait()
        await asyncio.sleep(0.001)

    orch.register(
        flaky, name="flaky", capabilities=["x"], capacity=2, breaker_failures=1,
        breaker_cooldown=0.05,
    )  # fmt: skip
    orch.register(gate, name="gate", capabilities=["gate"])
    wf = podium.Workflow("w", on_failure="continue")
    wf.task("trip", capability="x")
    wf.task("gate", capability="gate")
    wf.task("p", capability="x", priority="high", depends_on=["gate"])
    wf.task("q", capability="x", priority="medium", depends_on=["gate"])
    result = await guard(orch.run(wf))
    # capacity 2, yet q does not start while the probe runs
    assert log == ["start trip", "start p", "end p probe", "start q", "end q closed"]
    assert result.status == "partial"
    assert result.tasks["p"].result == "probe" and result.tasks["q"].result == "closed"
    agent = orch.agents["flaky"]
    assert not agent.breaker_until and not agent.probing and agent.consecutive_failures == 0


async def test_open_breaker_sends_tasks_to_other_agents() -> None:
    orch = podium.Orchestrator(strategy="round_robin")

    async def bad(ctx: podium.Context) -> None:
        raise Boom("bad agent")

    async def good(ctx: podium.Context) -> str:
        return ctx.agent

    orch.register(bad, name="bad", capabilities=["x"], breaker_failures=1, breaker_cooldown=60)
    orch.register(good, name="good", capabilities=["x"])
    wf = podium.Workflow("w", on_failure="continue", max_concurrency=1)
    wf.task("trip", agent="bad", priority="critical")
    for i in range(6):
        wf.task(f"t{i}", capability="x", priority="low")
    try:
        result = await guard(orch.run(wf))
    finally:
        await orch.close()
    assert result.tasks["trip"].status == "failed"
    assert {result.tasks[f"t{i}"].agent for i in range(6)} == {"good"}
    assert result.status == "partial"


# -- fail_fast and continue ------------------------------------------------------------------


async def test_fail_fast_cancels_running_tasks_and_skips_the_rest(
    orch: podium.Orchestrator,
) -> None:
    started = asyncio.Event()
    seen: list[str] = []

    @orch.agent(name="bot", capabilities=["x"], capacity=10)
    async def handle(ctx: podium.Context) -> Any:
        if ctx.task_id == "sleeper":
            started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                seen.append("sleeper cancelled")
                raise
        if ctx.task_id == "boom":
            await started.wait()
            raise Boom("boom")
        if ctx.task_id == "flaky":
            raise Boom("retry me later")
        return "ok"

    wf = podium.Workflow("w")  # fail_fast is the default
    wf.task("sleeper", capability="x", priority="critical")
    wf.task(
        "flaky", capability="x", priority="critical", retry={"max_attempts": 5, "initial_delay": 30}
    )
    wf.task("boom", capability="x")
    wf.task("after-sleeper", capability="x", depends_on=["sleeper"])
    wf.task("after-boom", capability="x", depends_on=["boom"])
    result = await guard(orch.run(wf))
    t = result.tasks
    assert seen == ["sleeper cancelled"]
    assert result.status == "failed"
    assert t["boom"].status == "failed" and t["boom"].error == "Boom: boom"
    assert t["sleeper"].status == "cancelled" and "'boom' failed" in (t["sleeper"].error or "")
    assert t["flaky"].status == "skipped"  # waiting out its backoff when the run stopped
    for tid in ("after-sleeper", "after-boom"):
        assert t[tid].status == "skipped" and t[tid].attempts == 0
        assert "'boom' failed" in (t[tid].error or "")
    s = result.stats
    assert (s["completed"], s["failed"], s["cancelled"], s["skipped"]) == (0, 1, 1, 3)
    assert orch.agents["bot"].load == 0


async def test_continue_skips_only_the_dependents(orch: podium.Orchestrator) -> None:
    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> str:
        if ctx.task_id == "a":
            raise Boom("a is broken")
        return ctx.task_id

    wf = podium.Workflow("w", on_failure="continue")
    wf.task("a", capability="x")
    wf.task("b", capability="x", depends_on=["a"])
    wf.task("c", capability="x", depends_on=["b"])
    wf.task("d", capability="x")
    wf.task("e", capability="x", depends_on=["d"])
    wf.task("f", capability="x", depends_on=["d", "a"])
    result = await guard(orch.run(wf))
    t = result.tasks
    assert result.status == "partial"
    assert t["a"].status == "failed"
    for tid in ("b", "c", "f"):
        assert t[tid].status == "skipped" and "'a' failed" in (t[tid].error or "")
    assert t["d"].status == "completed" and t["e"].status == "completed"
    assert result.to_dict()["status"] == "partial"


async def test_continue_with_nothing_completed_is_failed(orch: podium.Orchestrator) -> None:
    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> None:
        raise Boom("no")

    wf = podium.Workflow("w", on_failure="continue")
    wf.task("a", capability="x")
    wf.task("b", capability="x")
    result = await guard(orch.run(wf))
    assert result.status == "failed"
    assert [t.status for t in result.tasks.values()] == ["failed", "failed"]


# -- results that are not JSON ---------------------------------------------------------------


class Thing:
    pass


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ({1, 2}, "a set"),
        (Thing(), "a Thing"),
        ((1, 2), "a tuple"),
        ({1: "one"}, "key 1"),
        ({"ok": [1, {2}]}, "['ok'][1]: a set"),
    ],
    ids=["set", "object", "tuple", "int-key", "nested"],
)
@pytest.mark.parametrize("executor", ["async", "thread", "inline"])
async def test_result_that_is_not_json_fails_the_task(
    orch: podium.Orchestrator, value: Any, shown: str, executor: str
) -> None:
    if executor == "async":

        async def handle(ctx: podium.Context) -> Any:
            return value
    else:

        def handle(ctx: podium.Context) -> Any:
            return value

    orch.register(handle, name="bot", capabilities=["x"], executor=executor)
    wf = podium.Workflow("w")
    wf.task("a", capability="x", retry={"max_attempts": 3, "initial_delay": 0})
    result = await guard(orch.run(wf))
    a = result.tasks["a"]
    assert a.status == "failed" and a.attempts == 1  # retrying would not change the type
    assert "not JSON" in a.error and "'a'" in a.error and shown in a.error  # type: ignore[operator]
    assert a.result is None


# -- odd exceptions --------------------------------------------------------------------------


async def test_handler_raising_cancelled_error_before_awaiting(orch: podium.Orchestrator) -> None:
    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> None:
        raise asyncio.CancelledError()

    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    result = await guard(orch.run(wf))
    assert result.tasks["a"].status == "failed" and "CancelledError" in result.tasks["a"].error  # type: ignore[operator]


async def test_handler_raising_cancelled_error_after_awaiting(orch: podium.Orchestrator) -> None:
    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> None:
        await asyncio.sleep(0)
        raise asyncio.CancelledError()

    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    wf.task("b", capability="x", depends_on=["a"])
    result = await guard(orch.run(wf))
    assert result.status == "failed"
    assert result.tasks["a"].status == "failed" and "CancelledError" in result.tasks["a"].error  # type: ignore[operator]
    assert result.tasks["b"].status == "skipped"


class Halt(BaseException):
    """Not an Exception: the kind of thing a library may raise to unwind."""


@pytest.mark.parametrize("awaits", [False, True], ids=["sync-step", "after-await"])
async def test_handler_raising_a_base_exception(orch: podium.Orchestrator, awaits: bool) -> None:
    @orch.agent(name="bot", capabilities=["x"])
    async def handle(ctx: podium.Context) -> None:
        if awaits:
            await asyncio.sleep(0)
        raise Halt("unwind")

    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    result = await guard(orch.run(wf))
    assert result.tasks["a"].status == "failed" and result.tasks["a"].error == "Halt: unwind"


async def test_thread_handler_raising_a_base_exception(orch: podium.Orchestrator) -> None:
    @orch.agent(name="bot", capabilities=["x"])
    def handle(ctx: podium.Context) -> None:
        raise Halt("unwind")

    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    result = await guard(orch.run(wf))
    assert result.tasks["a"].status == "failed" and result.tasks["a"].error == "Halt: unwind"


async def test_tasks_dropped_by_fail_fast_do_not_close_the_breaker(
    orch: podium.Orchestrator,
) -> None:
    # 'a' fails and opens the breaker; 'b' and 'c' were assigned to the same agent but never
    # ran: dropping them says nothing about the agent's health
    @orch.agent(name="bot", capabilities=["x"], breaker_failures=1, breaker_cooldown=60)
    async def handle(ctx: podium.Context) -> None:
        raise Boom("down")

    wf = podium.Workflow("w")
    for tid in "abc":
        wf.task(tid, capability="x")
    result = await guard(orch.run(wf))
    assert [t.status for t in result.tasks.values()] == ["failed", "skipped", "skipped"]
    bot = orch.agents["bot"]
    assert bot.breaker_until and bot.consecutive_failures == 1 and bot.load == 0


@pytest.mark.parametrize("where", ["sync-step", "after-await", "thread"])
async def test_handler_calling_sys_exit_fails_its_task(
    orch: podium.Orchestrator, where: str
) -> None:
    if where == "thread":

        def handle(ctx: podium.Context) -> None:
            raise SystemExit(3)

    else:

        async def handle(ctx: podium.Context) -> None:  # type: ignore[misc]
            if where == "after-await":
                await asyncio.sleep(0)
            raise SystemExit(3)

    orch.register(handle, name="bot", capabilities=["x"])
    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    wf.task("b", capability="x", depends_on=["a"])
    result = await guard(orch.run(wf))
    assert result.status == "failed"
    assert result.tasks["a"].error == "SystemExit: 3"
    assert result.tasks["b"].status == "skipped"
