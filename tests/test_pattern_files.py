"""Patterns in workflow files and in code: the `pattern` field and its settings block, the
errors for unknown patterns and misplaced settings, sequential and parallel work as plain
DAGs, and patterns of the user's own."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import podium
from _cli import run_json
from podium.patterns import COORDINATORS, register_pattern
from podium.spec import parse_workflow

AGENTS = [{"name": "r", "capabilities": ["review"], "handler": "json:dumps"}]


@pytest.fixture(autouse=True)
def _json_is_a_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """These files use the standard library's json:dumps as a ready-made handler: allow it
    (a workflow file may otherwise name code from its own folder only)."""
    monkeypatch.setenv("PODIUM_ALLOW_MODULES", "json")


def parse(task: dict[str, Any]) -> podium.Workflow:
    return parse_workflow(
        {"name": "w", "agents": AGENTS, "tasks": [{"id": "t", **task}]}, source="flow.yaml"
    )


def test_a_pattern_block_becomes_the_task_options() -> None:
    wf = parse(
        {
            "capability": "review",
            "pattern": "consensus",
            "consensus": {"agents": 5, "key": "verdict"},
        }
    )
    t = wf.tasks["t"]
    assert t.pattern == "consensus" and t.options == {"agents": 5, "key": "verdict"}
    assert t.to_dict()["consensus"] == {"agents": 5, "key": "verdict"}


def test_a_pattern_without_settings_uses_the_defaults() -> None:
    t = parse({"capability": "review", "pattern": "auction"}).tasks["t"]
    assert t.pattern == "auction" and t.options is None


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (
            {"capability": "review", "pattern": "consensys"},
            "flow.yaml: task 't': pattern 'consensys' is not a pattern. Did you mean 'consensus'?",
        ),
        (
            {"capability": "review", "pattern": "magic"},
            "pattern 'magic' is not a pattern. Use one of: auction, consensus, delegation, "
            "pipeline, swarm.",
        ),
        (
            {"capability": "review", "pattern": "sequential"},
            "Sequential and parallel work need no pattern",
        ),
        (
            {"capability": "review", "consensus": {"agents": 3}},
            "flow.yaml: task 't': a 'consensus' block needs 'pattern: consensus' on the task.",
        ),
        (
            {"capability": "review", "pattern": "auction", "consensus": {}},
            "the 'consensus' block does not match 'pattern: auction'",
        ),
        (
            {"capability": "review", "pattern": "auction", "options": {"bid_timeout": 1}},
            "settings of pattern 'auction' go in a 'auction' block, not in 'options'.",
        ),
        (
            {"capability": "review", "pattern": "consensus", "consenus": {}},
            "task 't': unknown field 'consenus'. Did you mean 'consensus'?",
        ),
        (
            {"capability": "review", "pattern": "consensus", "consensus": [1]},
            "field 'consensus': Input should be a valid dictionary",
        ),
        (
            {"capability": "review", "pattern": "swarm", "swarm": {"goal": "nowhere:goal"}},
            "flow.yaml: task 't': swarm.goal 'nowhere:goal': cannot import module 'nowhere'",
        ),
        (
            {"pattern": "consensus"},
            "flow.yaml: task 't': give exactly one of 'capability' or 'agent'.",
        ),
    ],
)
def test_file_errors_name_the_file_task_and_field(task: dict[str, Any], message: str) -> None:
    with pytest.raises(podium.PodiumError) as err:
        parse(task)
    assert message in str(err.value)
    assert err.value.file == "flow.yaml"


def test_unknown_pattern_in_code() -> None:
    wf = podium.Workflow("w")
    with pytest.raises(podium.ValidationError) as err:
        wf.task("t", capability="review", pattern="auktion")
    assert str(err.value) == "task 't': pattern 'auktion' is not a pattern. Did you mean 'auction'?"
    assert err.value.field == "pattern"


@pytest.fixture
def first_pattern() -> Iterator[None]:
    @register_pattern("first")
    async def first(ctx: podium.Context) -> Any:
        agents = ctx.run.scheduler.route_for(podium.Task("probe", capability="review")).agents
        results = await ctx.delegate_many(
            [
                {"agent": a.name, "capability": "review", "input": ctx.input}
                for a in agents[: ctx.options.get("n", 1)]
            ]
        )
        return results[0]

    yield
    del COORDINATORS["first"]


async def test_a_pattern_of_your_own(orch: podium.Orchestrator, first_pattern: None) -> None:
    @orch.agent(name="r", capabilities=["review"])
    async def review(ctx: podium.Context) -> str:
        return f"{ctx.agent} read {ctx.input}"

    wf = parse_workflow(
        {
            "name": "w",
            "tasks": [
                {
                    "id": "t",
                    "capability": "review",
                    "input": "doc",
                    "pattern": "first",
                    "options": {"n": 2},
                }
            ],
        }
    )
    assert wf.tasks["t"].options == {"n": 2}
    result = await orch.run(wf)
    assert result["t"] == "r read doc" and result.tasks["t/1"].agent == "r"


def test_patterns_route_to_their_own_coordinator(orch: podium.Orchestrator) -> None:
    # two pattern tasks with the same capability but different patterns
    @orch.agent(name="a", capabilities=["x"])
    async def a(ctx: podium.Context) -> str:
        return "same"

    wf = podium.Workflow("w")
    wf.task("vote", capability="x", pattern="consensus", options={"agents": 2})
    wf.task("sell", capability="x", pattern="auction")
    result = orch.run_sync(wf)
    assert result["vote"]["consensus"] is True
    assert result["sell"]["winner"] == "a"


SEQ_PAR_AGENTS = """
import asyncio

started = set()

async def fetch(ctx):
    started.add(ctx.task_id)
    # both fetches run at once: each sees the other start
    for _ in range(1000):
        if {"fetch_a", "fetch_b"} <= started:
            return {"source": ctx.task_id, "together": True}
        await asyncio.sleep(0.001)
    return {"source": ctx.task_id, "together": False}

async def combine(ctx):
    return sorted(r["source"] for r in ctx.deps.values())

async def publish(ctx):
    return {"published": ctx.deps["combine"]}
"""

SEQ_PAR_FLOW = """
name: fan-in
agents:
  - {name: fetcher, capabilities: [fetch], capacity: 2, handler: agents:fetch}
  - {name: editor, capabilities: [combine, publish], handler: agents:combine}
  - {name: press, capabilities: [publish], handler: agents:publish}
tasks:
  # parallel: tasks without dependencies between them run at the same time
  - {id: fetch_a, capability: fetch}
  - {id: fetch_b, capability: fetch}
  # sequential: depends_on chains tasks; each gets the results of what it depends on
  - {id: combine, capability: combine, depends_on: [fetch_a, fetch_b]}
  - {id: publish, agent: press, depends_on: [combine]}
"""


def test_sequential_and_parallel_in_a_file(write_file: Callable[[str, str], Path]) -> None:
    write_file("agents.py", SEQ_PAR_AGENTS)
    path = write_file("flow.yaml", SEQ_PAR_FLOW)
    p = run_json(path)
    assert p.returncode == 0, p.stderr
    tasks = json.loads(p.stdout)["tasks"]
    assert tasks["fetch_a"]["result"]["together"] and tasks["fetch_b"]["result"]["together"]
    assert tasks["publish"]["result"] == {"published": ["fetch_a", "fetch_b"]}
    assert tasks["combine"]["started_at"] >= tasks["fetch_b"]["finished_at"]
    assert tasks["publish"]["started_at"] >= tasks["combine"]["finished_at"]


async def test_sequence_and_parallel_in_code(orch: podium.Orchestrator) -> None:
    @orch.agent(name="w", capabilities=["step"])
    async def step(ctx: podium.Context) -> list[str]:
        before = [x for r in ctx.deps.values() for x in r]
        return [*before, ctx.input]

    seq = await orch.sequence(
        [{"id": s, "capability": "step", "input": s} for s in ("plan", "write", "edit")]
    )
    assert seq["edit"] == ["plan", "write", "edit"]
    par = await orch.parallel([{"capability": "step", "input": n} for n in ("x", "y")])
    assert par.status == "completed" and par["t1"] == ["x"] and par["t2"] == ["y"]
