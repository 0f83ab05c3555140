"""Handlers that misbehave cannot hang a run (issue 10): each ends its own task, the other
tasks of the run still reach a final state, and the worker goes on with the queue."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest

import podium
from podium.engine import run as engine_run

T = TypeVar("T")


async def guard(aw: Awaitable[T]) -> T:
    """Await a run, failing the test instead of hanging it when the engine gets stuck."""
    return await asyncio.wait_for(aw, 10)


def workflow(n_after: int = 2, *, warm: bool = False, **first: Any) -> podium.Workflow:
    """``bad`` first, then ``n_after`` tasks for the same agent (capacity 1: same worker).
    ``warm``: a good task before ``bad``, so the engine already knows the agent suspends."""
    wf = podium.Workflow("w", on_failure="continue", max_concurrency=1)
    if warm:
        wf.task("warm", capability="x")
    wf.task("bad", capability="x", **first)
    for i in range(n_after):
        wf.task(f"ok{i}", capability="x", input={"ok": True})
    return wf


def register(orch: podium.Orchestrator, bad: Any, *, thread: bool = False) -> None:
    """The agent ``x``: ``bad`` for task ``bad``, a good answer for the others."""
    if thread:

        def handle(ctx: podium.Context) -> Any:
            if ctx.task_id == "bad":
                return bad(ctx)
            return "fine"

    else:

        async def handle(ctx: podium.Context) -> Any:  # type: ignore[misc]
            if ctx.task_id == "bad":
                return await bad(ctx)
            await asyncio.sleep(0)
            return "fine"

    orch.register(handle, name="x", capabilities=["x"], capacity=1)


def assert_rest_completed(result: podium.RunResult) -> None:
    others = [t for tid, t in result.tasks.items() if tid != "bad"]
    assert others and all(t.status == "completed" and t.result == "fine" for t in others)


class StrRaises(Exception):
    def __str__(self) -> str:
        raise ValueError("no message for you")


class StrNotStr(Exception):
    def __str__(self) -> Any:
        return 42


@pytest.mark.parametrize("exc_type", [StrRaises, StrNotStr])
@pytest.mark.parametrize("awaits", [False, True], ids=["sync-step", "after-await"])
async def test_an_exception_whose_str_breaks(
    orch: podium.Orchestrator, exc_type: type, awaits: bool
) -> None:
    async def bad(ctx: podium.Context) -> None:
        if awaits:
            await asyncio.sleep(0)
        raise exc_type()

    register(orch, bad)
    result = await guard(orch.run(workflow()))
    t = result.tasks["bad"]
    assert t.status == "failed" and t.error.startswith(f"{exc_type.__name__}: <its message")  # type: ignore[union-attr]
    assert_rest_completed(result)


async def test_a_thread_handler_raising_stop_iteration(orch: podium.Orchestrator) -> None:
    def bad(ctx: podium.Context) -> None:
        raise StopIteration("done early")

    register(orch, bad, thread=True)
    result = await guard(orch.run(workflow()))
    assert result.tasks["bad"].status == "failed"
    assert result.tasks["bad"].error == "StopIteration: done early"
    assert_rest_completed(result)


@pytest.mark.parametrize("warm", [False, True], ids=["first", "after-another"])
@pytest.mark.parametrize("then", ["returns", "awaits", "awaits-and-catches"])
async def test_a_handler_cancelling_its_own_task(
    orch: podium.Orchestrator, then: str, warm: bool
) -> None:
    async def bad(ctx: podium.Context) -> str:
        asyncio.current_task().cancel()  # type: ignore[union-attr]
        if then == "returns":
            return "returned"
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            if then == "awaits-and-catches":
                return "caught it"
            raise
        return "not cancelled"

    register(orch, bad)
    result = await guard(orch.run(workflow(warm=warm)))
    t = result.tasks["bad"]
    if then == "awaits-and-catches":  # it handled its cancellation: its answer stands
        assert (t.status, t.result) == ("completed", "caught it")
    else:
        assert t.status == "failed" and "CancelledError" in t.error  # type: ignore[operator]
    assert_rest_completed(result)


class BadItems(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise RuntimeError("items() is broken")


async def test_a_result_whose_items_raise(orch: podium.Orchestrator) -> None:
    async def bad(ctx: podium.Context) -> dict[str, Any]:
        return BadItems(a=1)

    register(orch, bad)
    result = await guard(orch.run(workflow()))
    t = result.tasks["bad"]
    assert t.status == "failed" and "BadItems that could not be read" in t.error  # type: ignore[operator]
    assert "RuntimeError: items() is broken" in t.error  # type: ignore[operator]
    assert_rest_completed(result)


async def test_a_handler_swallowing_its_timeout_forever(
    orch: podium.Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_run, "_GRACE", 0.3)
    stop = time.monotonic() + 3  # it does give up in the end, so the test's loop can close
    swallowed = []

    async def bad(ctx: podium.Context) -> str:
        while time.monotonic() < stop:
            try:
                await asyncio.sleep(0.02)
            except asyncio.CancelledError:
                swallowed.append(1)
        return "too late"

    register(orch, bad)
    started = time.monotonic()
    run = orch.prepare(workflow(timeout=0.1))
    result = await guard(orch.execute(run))
    took = time.monotonic() - started
    t = result.tasks["bad"]
    assert (t.status, t.error) == ("failed", "timeout")
    assert_rest_completed(result)  # the agent's slot came back: its other tasks ran
    assert swallowed and took < 3  # the run did not wait for the stuck handler
    assert any(e["event"] == "handler_abandoned" and e["task"] == "bad" for e in run.events)


@pytest.mark.parametrize("awaits_after", [False, True])
async def test_an_async_handler_blocking_the_loop_past_its_timeout(
    orch: podium.Orchestrator, awaits_after: bool
) -> None:
    async def bad(ctx: podium.Context) -> str:
        time.sleep(0.3)  # blocks the loop: no timer can fire meanwhile
        if awaits_after:
            await asyncio.sleep(0)
        return "finished late"

    register(orch, bad)
    result = await guard(orch.run(workflow(timeout=0.1)))
    t = result.tasks["bad"]
    assert (t.status, t.error, t.result) == ("failed", "timeout", None)
    assert_rest_completed(result)


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("where", ["sync-step", "after-await", "thread"])
async def test_a_handler_raising_keyboard_interrupt_or_system_exit(
    orch: podium.Orchestrator, exc_type: type[BaseException], where: str
) -> None:
    if where == "thread":

        def bad(ctx: podium.Context) -> None:
            raise exc_type("from the handler")

    else:

        async def bad(ctx: podium.Context) -> None:  # type: ignore[misc]
            if where == "after-await":
                await asyncio.sleep(0)
            raise exc_type("from the handler")

    register(orch, bad, thread=where == "thread")
    result = await guard(orch.run(workflow()))
    t = result.tasks["bad"]
    assert (t.status, t.error) == ("failed", f"{exc_type.__name__}: from the handler")
    assert_rest_completed(result)


async def test_a_reassigned_attempt_does_not_use_up_retries(orch: podium.Orchestrator) -> None:
    calls: list[str] = []

    @orch.agent(name="doomed", capabilities=["y"], capacity=1)
    async def doomed(ctx: podium.Context) -> None:
        calls.append("doomed")
        await asyncio.sleep(30)

    @orch.agent(name="other", capabilities=["y"], capacity=1)
    async def other(ctx: podium.Context) -> str:
        calls.append("other")
        if len(calls) == 2:
            raise RuntimeError("first real attempt fails")
        return "second real attempt"

    wf = podium.Workflow("w")
    wf.task("t", capability="y", retry={"max_attempts": 2, "backoff": "fixed", "initial_delay": 0})
    run = orch.prepare(wf)
    orch.pause_agent("other")
    running = asyncio.create_task(orch.execute(run))
    for _ in range(200):
        if run.records["t"].agent == "doomed":
            break
        await asyncio.sleep(0.01)
    orch.resume_agent("other")
    await orch.terminate_agent("doomed")
    result = await guard(running)
    t = result.tasks["t"]
    # one attempt cut by the termination, then two real attempts: max_attempts is 2
    assert calls == ["doomed", "other", "other"]
    assert (t.status, t.result, t.attempts) == ("completed", "second real attempt", 3)


def test_podium_run_ends_when_a_handler_ignores_cancellation_for_good(tmp_path: Path) -> None:
    (tmp_path / "mule.py").write_text(
        "import asyncio\n\n\n"
        "async def mule(ctx):\n"
        "    if ctx.task_id != 'stuck':\n"
        "        return 'fine'\n"
        "    while True:  # never stops, whatever happens\n"
        "        try:\n"
        "            await asyncio.sleep(0.05)\n"
        "        except asyncio.CancelledError:\n"
        "            pass\n"
    )
    (tmp_path / "wf.yaml").write_text(
        "name: mule\n"
        "on_failure: continue\n"
        "agents:\n"
        "  - {name: mule, capabilities: [x], capacity: 1, handler: 'mule:mule'}\n"
        "tasks:\n"
        "  - {id: stuck, capability: x, timeout: 0.1}\n"
        "  - {id: next, capability: x}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "podium", "run", "wf.yaml", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    stuck = doc["tasks"]["stuck"]
    assert (stuck["status"], stuck["error"]) == ("failed", "timeout")
    assert doc["tasks"]["next"]["status"] == "completed"


async def test_an_attempt_lost_to_missed_heartbeats_does_not_use_up_retries(
    orch: podium.Orchestrator,
) -> None:
    calls: list[str] = []

    @orch.agent(name="mute", capabilities=["y"], capacity=1, heartbeat_timeout=0.1)
    async def mute(ctx: podium.Context) -> None:
        calls.append("mute")
        await asyncio.sleep(30)

    @orch.agent(name="alive", capabilities=["y"], capacity=1)
    async def alive(ctx: podium.Context) -> str:
        calls.append("alive")
        if calls.count("alive") == 1:
            raise RuntimeError("first real attempt fails")
        return "second real attempt"

    wf = podium.Workflow("w")
    wf.task("t", capability="y", retry={"max_attempts": 2, "backoff": "fixed", "initial_delay": 0})
    run = orch.prepare(wf)
    orch.pause_agent("alive")
    running = asyncio.create_task(orch.execute(run))
    for _ in range(200):
        if run.records["t"].agent == "mute":
            break
        await asyncio.sleep(0.01)
    orch.resume_agent("alive")
    result = await guard(running)
    t = result.tasks["t"]
    assert calls == ["mute", "alive", "alive"]
    assert (t.status, t.result, t.attempts) == ("completed", "second real attempt", 3)
