"""Consensus: the same task to N agents (or replicas), majority by exact value, key or
normaliser, through the Python API and a workflow file run by the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import podium
from _cli import run_json


def reviewers(orch: podium.Orchestrator, answers: dict[str, Any]) -> None:
    """One agent per name, each answering with its own value (an exception is raised)."""
    for name, answer in answers.items():

        async def review(ctx: podium.Context, answer: Any = answer) -> Any:
            if isinstance(answer, Exception):
                raise answer
            return answer

        orch.register(podium.Agent(name, ["review"], handler=review))


async def run_consensus(orch: podium.Orchestrator, **options: Any) -> podium.RunResult:
    wf = podium.Workflow("c")
    wf.task("vote", capability="review", pattern="consensus", options=options)
    return await orch.run(wf)


async def test_majority_wins_and_each_vote_is_recorded(orch: podium.Orchestrator) -> None:
    reviewers(orch, {"a": "accept", "b": "accept", "c": "reject"})
    result = await run_consensus(orch, agents=3)
    assert result.status == "completed"
    out = result["vote"]
    assert out == {
        "consensus": True,
        "winning_result": "accept",
        "agreement": 0.6667,
        "votes": {"a": "accept", "b": "accept", "c": "reject"},
    }
    # each participant is a real task of the run, pinned to its agent
    for name in "abc":
        rec = result.tasks[f"vote/{name}"]
        assert rec.status == "completed" and rec.agent == name


async def test_disagreement_gives_no_consensus(orch: podium.Orchestrator) -> None:
    reviewers(orch, {"a": "accept", "b": "reject", "c": "revise"})
    out = (await run_consensus(orch))["vote"]
    assert out["consensus"] is False
    assert out["winning_result"] is None
    assert out["agreement"] == pytest.approx(1 / 3, abs=1e-3)
    assert set(out["votes"].values()) == {"accept", "reject", "revise"}


async def test_a_tie_is_no_consensus(orch: podium.Orchestrator) -> None:
    reviewers(orch, {"a": 1, "b": 1, "c": 2, "d": 2})
    out = (await run_consensus(orch, agents=4, min_agreement=0.5))["vote"]
    assert out["consensus"] is False and out["agreement"] == 0.5


async def test_min_agreement_not_reached(orch: podium.Orchestrator) -> None:
    reviewers(orch, {"a": "x", "b": "x", "c": "y"})
    out = (await run_consensus(orch, min_agreement=0.9))["vote"]
    assert out["consensus"] is False and out["agreement"] == 0.6667


async def test_fewer_agents_than_n_uses_replicas(orch: podium.Orchestrator) -> None:
    calls: list[str] = []

    @orch.agent(name="solo", capabilities=["review"])
    async def review(ctx: podium.Context) -> str:
        calls.append(ctx.task_id)
        return "same"

    result = await run_consensus(orch, agents=3)
    out = result["vote"]
    assert out["consensus"] is True and out["agreement"] == 1.0
    assert list(out["votes"]) == ["solo", "solo#2", "solo#3"]
    assert sorted(calls) == ["vote/solo", "vote/solo#2", "vote/solo#3"]


async def test_compare_by_key_and_normalizer(orch: podium.Orchestrator) -> None:
    reviewers(
        orch,
        {
            "a": {"verdict": {"label": "Accept"}, "note": "fine"},
            "b": {"verdict": {"label": "accept "}, "note": "ok"},
            "c": {"verdict": {"label": "reject"}, "note": "no"},
        },
    )
    result = await run_consensus(
        orch, key="verdict.label", normalize=lambda v: v.strip().lower(), min_agreement=0.66
    )
    out = result["vote"]
    assert out["consensus"] is True
    # the whole result of the first participant that gave the winning value
    assert out["winning_result"] == {"verdict": {"label": "Accept"}, "note": "fine"}


async def test_participants_see_the_dependencies(orch: podium.Orchestrator) -> None:
    @orch.agent(name="writer", capabilities=["write"])
    async def write(ctx: podium.Context) -> str:
        return "draft 1"

    for name in ("a", "b"):

        @orch.agent(name=name, capabilities=["review"])
        async def review(ctx: podium.Context) -> str:
            return f"read {ctx.deps['draft']}"

    wf = podium.Workflow("c")
    wf.task("draft", capability="write")
    wf.task("vote", capability="review", pattern="consensus", depends_on=["draft"])
    out = (await orch.run(wf))["vote"]
    assert out["winning_result"] == "read draft 1" and out["agreement"] == 1.0


async def test_a_failing_participant_fails_the_task(orch: podium.Orchestrator) -> None:
    reviewers(orch, {"a": "x", "b": "x", "c": RuntimeError("reviewer down")})
    result = await run_consensus(orch)
    assert result.status == "failed"
    err = result.tasks["vote"].error
    assert "1 participants failed" in err and "'vote/c': RuntimeError: reviewer down" in err  # type: ignore[operator]


async def test_a_failing_participant_can_abstain(orch: podium.Orchestrator) -> None:
    reviewers(orch, {"a": "x", "b": "x", "c": RuntimeError("reviewer down")})
    result = await run_consensus(orch, on_error="abstain")
    assert result.status == "completed"
    out = result["vote"]
    assert out["consensus"] is True and out["agreement"] == 0.6667
    assert out["votes"]["c"] is None
    assert out["errors"] == {"c": "RuntimeError: reviewer down"}
    assert result.tasks["vote/c"].status == "failed"


async def test_required_consensus_fails_the_task(orch: podium.Orchestrator) -> None:
    reviewers(orch, {"a": "x", "b": "y"})
    wf = podium.Workflow("c")
    options = {"agents": 2, "required": True}
    wf.task("vote", capability="review", pattern="consensus", options=options)
    wf.task("publish", capability="review", depends_on=["vote"])
    result = await orch.run(wf)
    assert result.status == "failed"
    assert "no consensus among 2 participants (a tie" in result.tasks["vote"].error  # type: ignore[operator]
    assert result.tasks["publish"].status == "skipped"


async def test_a_key_in_no_result_is_an_error(orch: podium.Orchestrator) -> None:
    reviewers(orch, {"a": {"verdict": 1}, "b": {"verdict": 1}})
    result = await run_consensus(orch, key="verdcit")
    err = result.tasks["vote"].error
    assert "consensus.key 'verdcit' is in none of the 3 results" in err  # type: ignore[operator]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_agreement": 1.5}, "consensus.min_agreement: should be less than or equal to 1"),
        ({"min_agreement": 0}, "consensus.min_agreement: should be greater than 0"),
        ({"agents": 0}, "consensus.agents: should be greater than or equal to 1"),
        ({"agents": True}, "consensus.agents: expected a number or text, not the boolean True"),
        ({"quorum": 2}, "unknown setting 'quorum' in consensus"),
        ({"min_agrement": 0.5}, "Did you mean 'min_agreement'?"),
        ({"normalize": "lower"}, "consensus.normalize: 'lower' must be 'module:function'"),
        ({"on_error": "ignore"}, "consensus.on_error: should be 'fail' or 'abstain'"),
    ],
)
def test_bad_settings_name_the_task_and_setting(options: dict[str, Any], message: str) -> None:
    wf = podium.Workflow("c")
    with pytest.raises(podium.ValidationError) as err:
        wf.task("vote", capability="review", pattern="consensus", options=options)
    assert message in str(err.value) and "task 'vote'" in str(err.value)
    assert err.value.task == "vote"


async def test_no_capable_agent_is_reported_before_running(orch: podium.Orchestrator) -> None:
    reviewers(orch, {"a": 1})
    wf = podium.Workflow("c")
    wf.task("vote", capability="judge", pattern="consensus")
    with pytest.raises(podium.CapabilityError) as err:
        await orch.run(wf)
    assert "task 'vote': no agent has capability 'judge'" in str(err.value)


AGENTS = """
def review(ctx):
    return {"verdict": "reject" if ctx.agent == "strict" else "accept", "by": ctx.agent}

def lower(value):
    return value.lower()
"""

FLOW = """
name: review-vote
agents:
  - {name: kind, capabilities: [review], handler: agents:review}
  - {name: fair, capabilities: [review], handler: agents:review}
  - {name: strict, capabilities: [review], handler: agents:review}
tasks:
  - id: vote
    capability: review
    pattern: consensus
    consensus: {agents: 3, min_agreement: 0.66, key: verdict, normalize: "agents:lower"}
"""


def test_workflow_file_end_to_end(write_file: Callable[[str, str], Path]) -> None:
    write_file("agents.py", AGENTS)
    p = run_json(write_file("flow.yaml", FLOW))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    out = doc["tasks"]["vote"]["result"]
    assert out["consensus"] is True and out["agreement"] == 0.6667
    assert out["winning_result"] == {"verdict": "accept", "by": "kind"}
    assert set(out["votes"]) == {"kind", "fair", "strict"}
    assert doc["tasks"]["vote/strict"]["agent"] == "strict"


def test_workflow_file_with_bad_settings_exits_2(write_file: Callable[[str, str], Path]) -> None:
    write_file("agents.py", AGENTS)
    p = run_json(write_file("flow.yaml", FLOW.replace("min_agreement: 0.66", "min_agreement: 2")))
    assert p.returncode == 2
    assert "flow.yaml: task 'vote': consensus.min_agreement" in p.stderr
    assert "Traceback" not in p.stderr


async def test_a_retried_consensus_reruns_only_the_failed_participant(
    orch: podium.Orchestrator,
) -> None:
    calls: dict[str, int] = {}
    for name in "abc":

        async def review(ctx: podium.Context, name: str = name) -> str:
            calls[name] = calls.get(name, 0) + 1
            if name == "c" and calls[name] == 1:
                raise RuntimeError("flaky")
            return "yes"

        orch.register(podium.Agent(name, ["review"], handler=review))
    wf = podium.Workflow("c")
    retry = {"max_attempts": 2, "initial_delay": 0}
    wf.task("vote", capability="review", pattern="consensus", retry=retry)
    result = await orch.run(wf)
    assert result["vote"]["agreement"] == 1.0
    assert calls == {"a": 1, "b": 1, "c": 2}
    assert result.tasks["vote"].attempts == 2 and result.tasks["vote/c"].attempts == 2


async def test_participants_skip_paused_agents_and_spread_over_a_pool(
    orch: podium.Orchestrator,
) -> None:
    # a paused agent gets no new tasks, so it is no participant while others take work; a
    # pool's extra participants may run on any replica, so the pool grows to hold them
    started: list[str] = []
    three = asyncio.Event()

    @orch.agent(name="p", capabilities=["review"], capacity=1, replicas={"min": 1, "max": 3})
    async def pooled(ctx: podium.Context) -> str:
        started.append(ctx.agent)
        if len(started) == 3:
            three.set()
        await three.wait()  # all three votes at once: only possible on three replicas
        return "yes"

    reviewers(orch, {"sleepy": "no"})
    go = asyncio.Event()

    @orch.agent(name="opener", capabilities=["open"])
    async def opener(ctx: podium.Context) -> str:
        await go.wait()
        return "open"

    wf = podium.Workflow("c")
    wf.task("first", capability="open")
    options = {"agents": 3}
    wf.task("vote", capability="review", pattern="consensus", options=options, depends_on=["first"])
    job = asyncio.create_task(orch.execute(orch.prepare(wf)))
    while orch.agents["sleepy"].state is not podium.AgentState.IDLE:  # set up: can pause
        await asyncio.sleep(0.01)
    orch.pause_agent("sleepy")
    go.set()
    result = await asyncio.wait_for(job, 10)
    assert result.status == "completed"
    assert result["vote"]["votes"] == {"p-1": "yes", "p#2": "yes", "p#3": "yes"}
    assert sorted(started) == ["p-1", "p-2", "p-3"]
