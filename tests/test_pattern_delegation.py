"""Hierarchical delegation: fixed subtasks from a workflow file (pattern: delegation) and a
manager handler that decides its subtasks at run time (ctx.delegate)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import podium
from _cli import run_json


def searchers(orch: podium.Orchestrator) -> None:
    @orch.agent(name="web", capabilities=["search"])
    async def web(ctx: podium.Context) -> list[str]:
        return [f"web:{ctx.input['q']}"]

    @orch.agent(name="wiki", capabilities=["wiki"])
    async def wiki(ctx: podium.Context) -> list[str]:
        return [f"wiki:{ctx.input['q']}"]


async def test_fixed_subtasks_and_concat(orch: podium.Orchestrator) -> None:
    searchers(orch)
    wf = podium.Workflow("d")
    subtasks = [
        {"input": {"q": "raft"}},
        {"id": "paxos", "input": {"q": "paxos"}},
        {"capability": "wiki", "input": {"q": "quorum"}},
    ]
    options = {"subtasks": subtasks, "aggregate": "concat"}
    wf.task("find", capability="search", pattern="delegation", options=options)
    result = await orch.run(wf)
    assert result.status == "completed"
    assert result["find"] == ["web:raft", "web:paxos", "wiki:quorum"]
    assert result.tasks["find/1"].agent == "web"
    assert result.tasks["find/paxos"].result == ["web:paxos"]
    assert result.tasks["find/3"].agent == "wiki"


async def test_subtasks_default_to_the_task_input(orch: podium.Orchestrator) -> None:
    searchers(orch)
    wf = podium.Workflow("d")
    options = {"subtasks": [{}, {"capability": "wiki"}]}
    wf.task("find", capability="search", input={"q": "x"}, pattern="delegation", options=options)
    assert (await orch.run(wf))["find"] == [["web:x"], ["wiki:x"]]  # no aggregate: the list


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [
        ("vote", {"label": "spam"}),
        ("merge", {"label": "spam", "by": "c"}),
        (lambda rs: sorted(r["by"] for r in rs), ["a", "b", "c"]),
    ],
)
async def test_aggregates(orch: podium.Orchestrator, aggregate: Any, expected: Any) -> None:
    @orch.agent(name="clf", capabilities=["classify"], capacity=3)
    async def classify(ctx: podium.Context) -> dict[str, str]:
        return ctx.input

    subtasks = [
        {"input": {"label": "spam", "by": "a"}},
        {"input": {"label": "ham", "by": "b"}},
        {"input": {"label": "spam", "by": "c"}},
    ]
    if aggregate == "vote":  # vote compares whole results: make two of them equal
        subtasks = [{"input": {"label": s["input"]["label"]}} for s in subtasks]
    wf = podium.Workflow("d")
    options = {"subtasks": subtasks, "aggregate": aggregate}
    wf.task("label", capability="classify", pattern="delegation", options=options)
    assert (await orch.run(wf))["label"] == expected


async def test_a_failed_subtask_fails_the_task(orch: podium.Orchestrator) -> None:
    @orch.agent(name="w", capabilities=["work"])
    async def work(ctx: podium.Context) -> int:
        if ctx.input == 2:
            raise ValueError("two is right out")
        return ctx.input

    wf = podium.Workflow("d")
    options = {"subtasks": [{"input": 1}, {"input": 2}]}
    wf.task("job", capability="work", pattern="delegation", options=options)
    result = await orch.run(wf)
    assert result.status == "failed"
    err = result.tasks["job"].error
    assert "1 of 2 delegated subtasks failed: 'job/2': ValueError: two is right out" in err  # type: ignore[operator]


async def test_manager_decides_subtasks_at_run_time(orch: podium.Orchestrator) -> None:
    searchers(orch)

    @orch.agent(name="lead", capabilities=["research"])
    async def lead(ctx: podium.Context) -> dict[str, Any]:
        plan = [q for q in ctx.input["topics"] if not q.startswith("skip")]
        found = await ctx.delegate_many(
            [{"capability": "search", "input": {"q": q}} for q in plan], aggregate="concat"
        )
        extra = await ctx.delegate("wiki", {"q": plan[0]})
        return {"found": found + extra}

    wf = podium.Workflow("d")
    wf.task("study", capability="research", input={"topics": ["raft", "skip-me", "paxos"]})
    result = await orch.run(wf)
    assert result["study"] == {"found": ["web:raft", "web:paxos", "wiki:raft"]}
    assert [t for t in result.tasks if t.startswith("study/")] == [
        "study/1",
        "study/2",
        "study/3",
    ]


async def test_a_manager_can_handle_a_failed_subtask(orch: podium.Orchestrator) -> None:
    @orch.agent(name="w", capabilities=["work"])
    async def work(ctx: podium.Context) -> int:
        raise RuntimeError("down")

    @orch.agent(name="lead", capabilities=["lead"])
    async def lead(ctx: podium.Context) -> str:
        try:
            await ctx.delegate("work", {})
        except podium.TaskFailed as exc:
            return f"fell back: {exc}"
        return "unreachable"

    wf = podium.Workflow("d")  # fail_fast: still the manager decides, not the subtask
    wf.task("plan", capability="lead")
    result = await orch.run(wf)
    assert result.status == "completed"
    assert result["plan"].startswith("fell back: task 'plan': 1 of 1 delegated subtasks failed")
    assert result.tasks["plan/1"].status == "failed"


async def test_concurrent_delegates_within_max_concurrency(orch: podium.Orchestrator) -> None:
    @orch.agent(name="w", capabilities=["work"], capacity=4)
    async def work(ctx: podium.Context) -> int:
        await asyncio.sleep(0)
        return ctx.input * 10

    @orch.agent(name="lead", capabilities=["lead"])
    async def lead(ctx: podium.Context) -> list[int]:
        return list(await asyncio.gather(*(ctx.delegate("work", i) for i in range(5))))

    wf = podium.Workflow("d", max_concurrency=1)
    wf.task("plan", capability="lead")
    result = await orch.run(wf)
    assert result["plan"] == [0, 10, 20, 30, 40]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "delegation.subtasks is required"),
        ({"subtasks": []}, "delegation.subtasks: List should have at least 1 item"),
        ({"subtasks": [{}], "aggregate": "sum"}, "'sum' must be one of concat, vote, merge or"),
        ({"subtasks": [{"capabilty": "x"}]}, "Did you mean 'capability'?"),
        (
            {"subtasks": [{"capability": "x", "agent": "y"}]},
            "delegation.subtasks.0: give 'capability' or 'agent', not both.",
        ),
        ({"subtasks": [{"id": "a"}, {"id": "a"}]}, "delegation.subtasks.1.id: 'a' is used twice"),
    ],
)
def test_bad_settings(options: dict[str, Any], message: str) -> None:
    with pytest.raises(podium.ValidationError) as err:
        podium.Task("job", capability="work", pattern="delegation", options=options)
    assert message in str(err.value)


AGENTS = """
def search(ctx):
    return [f"{ctx.agent}:{ctx.input['q']}"]

def count(ctx):
    return {ctx.input["word"]: len(ctx.input["word"])}

def longest(results):
    return max(results, key=lambda r: len(r[0]))
"""

FLOW = """
name: fan-out
agents:
  - {name: web, capabilities: [search], handler: agents:search}
  - {name: counter, capabilities: [count], handler: agents:count}
tasks:
  - id: find
    pattern: delegation
    delegation:
      subtasks:
        - {capability: search, input: {q: raft}}
        - {capability: search, input: {q: paxos}}
      aggregate: concat
  - id: sizes
    capability: count
    pattern: delegation
    delegation:
      subtasks: [{input: {word: ab}}, {input: {word: abc}}]
      aggregate: merge
  - id: pick
    capability: search
    pattern: delegation
    delegation:
      subtasks: [{input: {q: a}}, {input: {q: bbb}}]
      aggregate: agents:longest
"""


def test_workflow_file_end_to_end(write_file: Callable[[str, str], Path]) -> None:
    write_file("agents.py", AGENTS)
    path = write_file("flow.yaml", FLOW)
    p = run_json(path)
    assert p.returncode == 0, p.stderr
    tasks = json.loads(p.stdout)["tasks"]
    assert tasks["find"]["result"] == ["web:raft", "web:paxos"]
    assert tasks["sizes"]["result"] == {"ab": 2, "abc": 3}
    assert tasks["pick"]["result"] == ["web:bbb"]
    assert tasks["find/2"]["status"] == "completed"
