"""Swarm: parallel attempts with seeds, a blackboard topic, stop at the goal or the budget
(attempts or time), best by score; the other attempts are cancelled or skipped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import podium
from _cli import run_json
from podium.bus import MemoryBus


def explorers(orch: podium.Orchestrator, n: int, handler: Callable[..., Any]) -> None:
    for i in range(n):
        orch.register(podium.Agent(f"x{i + 1}", ["explore"], handler=handler))


async def swarm(orch: podium.Orchestrator, input: Any = None, **options: Any) -> podium.RunResult:
    wf = podium.Workflow("s")
    wf.task("hunt", capability="explore", input=input, pattern="swarm", options=options)
    return await orch.run(wf)


async def forever() -> None:
    await asyncio.Event().wait()


async def test_stops_at_the_first_result_meeting_the_goal(orch: podium.Orchestrator) -> None:
    started: list[int] = []
    all_started = asyncio.Event()

    async def explore(ctx: podium.Context) -> dict[str, Any]:
        started.append(ctx.input["seed"])
        if len(started) == 3:
            all_started.set()
        if ctx.input["seed"] != 10:
            await forever()  # only the first attempt finishes; the swarm must stop the rest
        await all_started.wait()
        return {"value": ctx.input["seed"], "target": ctx.input["target"]}

    explorers(orch, 3, explore)
    result = await swarm(
        orch,
        {"target": "x"},
        seed=10,
        goal=lambda r: r["value"] == 10,
        max_attempts=50,
    )
    assert result.status == "completed"
    out = result["hunt"]
    assert out["goal_met"] is True and out["best"] == {"value": 10, "target": "x"}
    assert out["attempts"] == 3 and out["score"] is None
    assert out["findings"] == [
        {
            "attempt": 1,
            "agent": "x1",
            "seed": 10,
            "score": None,
            "goal_met": True,
            "result": {"value": 10, "target": "x"},
        }
    ]
    # the other participants' attempts were running: they were cancelled, with the reason
    for tid in ("hunt/2", "hunt/3"):
        rec = result.tasks[tid]
        assert rec.status == "cancelled"
        assert rec.error == "cancelled: the swarm stopped: attempt 1 met the goal"
    assert {result.tasks[t].agent for t in ("hunt/1", "hunt/2", "hunt/3")} == {"x1", "x2", "x3"}
    assert result.tasks["hunt/2"].task.input == {
        "target": "x",
        "seed": 11,
        "blackboard": "swarm.hunt",
    }


async def test_waiting_attempts_are_skipped_when_the_goal_is_met(
    orch: podium.Orchestrator,
) -> None:
    # one agent that runs one attempt at a time, three replicas: two attempts wait for it
    async def explore(ctx: podium.Context) -> int:
        await asyncio.sleep(0)
        if ctx.input["seed"]:
            await forever()
        return ctx.input["seed"]

    orch.register(podium.Agent("only", ["explore"], 1, handler=explore))
    result = await swarm(orch, agents=3, goal=lambda r: True, max_attempts=9)
    out = result["hunt"]
    assert out["goal_met"] is True and out["best"] == 0
    # the next attempt may have started when the first one ended; the last one still waited
    assert result.tasks["hunt/2"].status in ("cancelled", "skipped")
    assert result.tasks["hunt/2"].error.endswith("the swarm stopped: attempt 1 met the goal")  # type: ignore[union-attr]
    assert result.tasks["hunt/3"].status == "skipped"
    assert "the swarm stopped: attempt 1 met the goal" in result.tasks["hunt/3"].error  # type: ignore[operator]
    assert result.status == "completed"


async def test_attempt_budget_and_best_by_score(orch: podium.Orchestrator) -> None:
    async def explore(ctx: podium.Context) -> dict[str, int]:
        return {"quality": (ctx.input["seed"] * 7) % 5}

    explorers(orch, 2, explore)
    result = await swarm(orch, max_attempts=5, score=lambda r: r["quality"])
    out = result["hunt"]
    assert out["goal_met"] is False and out["attempts"] == 5
    assert sorted(f["seed"] for f in out["findings"]) == [0, 1, 2, 3, 4]
    assert out["best"] == {"quality": 4} and out["score"] == 4  # seed 2: 14 % 5
    assert {f["agent"] for f in out["findings"]} <= {"x1", "x2"}
    assert sum(1 for t in result.tasks if t.startswith("hunt/")) == 5


async def test_without_budget_one_attempt_each(orch: podium.Orchestrator) -> None:
    async def explore(ctx: podium.Context) -> int:
        return ctx.input["seed"]

    explorers(orch, 2, explore)
    out = (await swarm(orch, agents=4))["hunt"]
    assert out["attempts"] == 4 and out["goal_met"] is False
    assert out["best"] == 0  # no score: the first attempt that finished


async def test_time_budget_stops_the_swarm(orch: podium.Orchestrator) -> None:
    async def explore(ctx: podium.Context) -> int:
        if ctx.input["seed"] != 0:
            await forever()
        return 42

    explorers(orch, 3, explore)
    result = await swarm(orch, time_budget=0.2, score=lambda r: r)
    out = result["hunt"]
    assert out["goal_met"] is False and out["best"] == 42 and out["score"] == 42
    for tid in ("hunt/2", "hunt/3"):
        assert result.tasks[tid].status == "cancelled"
        assert "time budget of 0.2s spent" in result.tasks[tid].error  # type: ignore[operator]


async def test_no_result_within_the_budget_fails(orch: podium.Orchestrator) -> None:
    async def explore(ctx: podium.Context) -> int:
        await forever()
        return 0

    explorers(orch, 2, explore)
    result = await swarm(orch, time_budget=0.05)
    assert result.status == "failed"
    err = result.tasks["hunt"].error
    assert "the swarm has no result after 3 attempts" in err  # type: ignore[operator]
    assert "time budget of 0.05s spent" in err  # type: ignore[operator]


async def test_failed_attempts_are_findings(orch: podium.Orchestrator) -> None:
    async def explore(ctx: podium.Context) -> int:
        if ctx.input["seed"] % 2:
            raise ValueError(f"dead end {ctx.input['seed']}")
        return ctx.input["seed"]

    explorers(orch, 2, explore)
    result = await swarm(orch, max_attempts=4, score=lambda r: r)
    assert result.status == "completed"
    out = result["hunt"]
    assert out["best"] == 2
    errors = sorted(f["error"] for f in out["findings"] if "error" in f)
    assert errors == ["ValueError: dead end 1", "ValueError: dead end 3"]


async def test_every_attempt_failing_fails_the_swarm(orch: podium.Orchestrator) -> None:
    async def explore(ctx: podium.Context) -> int:
        raise ValueError("nothing here")

    explorers(orch, 1, explore)
    result = await swarm(orch, agents=2)
    err = result.tasks["hunt"].error
    assert "every attempt failed" in err and "attempt 1: ValueError: nothing here" in err  # type: ignore[operator]


async def test_a_score_that_is_not_a_number(orch: podium.Orchestrator) -> None:
    async def explore(ctx: podium.Context) -> str:
        return "x"

    explorers(orch, 1, explore)
    result = await swarm(orch, agents=1, score=lambda r: r)
    err = result.tasks["hunt"].error
    assert "swarm.score returned 'x' for attempt 1; it must return a number" in err  # type: ignore[operator]


async def test_participants_share_findings_on_the_blackboard() -> None:
    bus = MemoryBus()
    orch = podium.Orchestrator(bus=bus)
    listening = asyncio.Event()

    async def explore(ctx: podium.Context) -> Any:
        if ctx.input["seed"] == 0:  # reports once the other participant listens
            await listening.wait()
            return "first find"
        async with await ctx.subscribe(ctx.input["blackboard"]) as board:
            listening.set()
            msg = await board.get(timeout=5)
        return {"heard": msg.payload["result"], "from": msg.sender}

    explorers(orch, 2, explore)
    outside = await bus.subscribe("swarm.*")  # anyone on the bus can follow the swarm
    try:
        out = (await swarm(orch, input=5, agents=2))["hunt"]
    finally:
        await orch.close()
    heard = [f["result"] for f in out["findings"]]
    assert heard == ["first find", {"heard": "first find", "from": "hunt"}]
    seen = [outside.get_nowait(), outside.get_nowait()]
    assert [m.topic for m in seen] == ["swarm.hunt", "swarm.hunt"]  # type: ignore[union-attr]
    assert seen[0].payload["seed"] == 0  # type: ignore[union-attr]
    await bus.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "swarm.max_attempts: should be greater than or equal to 1"),
        ({"time_budget": -1}, "swarm.time_budget: should be greater than 0"),
        ({"goal": "no_colon"}, "swarm.goal: 'no_colon' must be 'module:function'"),
        ({"budget": 3}, "unknown setting 'budget' in swarm. Did you mean 'time_budget'?"),
        ({"flavour": 3}, "unknown setting 'flavour' in swarm. Allowed: agents, goal"),
    ],
)
def test_bad_settings(options: dict[str, Any], message: str) -> None:
    with pytest.raises(podium.ValidationError) as err:
        podium.Task("hunt", capability="explore", pattern="swarm", options=options)
    assert message in str(err.value)


AGENTS = """
import asyncio

async def explore(ctx):
    seed = ctx.input["seed"]
    if seed % 4 != 3:
        await asyncio.sleep(0.01)
    return {"guess": seed * ctx.input["step"]}

def good_enough(result):
    return result["guess"] >= 21

def score(result):
    return result["guess"]
"""

FLOW = """
name: search
agents:
  - {name: ant, capabilities: [explore], handler: agents:explore}
  - {name: bee, capabilities: [explore], handler: agents:explore}
tasks:
  - id: hunt
    capability: explore
    input: {step: 7}
    pattern: swarm
    swarm:
      agents: 2
      goal: agents:good_enough
      score: agents:score
      max_attempts: 40
"""


def test_workflow_file_end_to_end(write_file: Callable[[str, str], Path]) -> None:
    write_file("agents.py", AGENTS)
    path = write_file("flow.yaml", FLOW)
    p = run_json(path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    out = doc["tasks"]["hunt"]["result"]
    assert out["goal_met"] is True and out["score"] >= 21
    assert out["best"] == {"guess": out["score"]}
    assert out["attempts"] < 40


def test_workflow_file_with_a_missing_goal_function(write_file: Callable[[str, str], Path]) -> None:
    write_file("agents.py", AGENTS)
    path = write_file("flow.yaml", FLOW.replace("agents:good_enough", "agents:good_enuf"))
    p = run_json(path)
    assert p.returncode == 2
    assert "task 'hunt': swarm.goal 'agents:good_enuf': module 'agents' has no" in p.stderr
