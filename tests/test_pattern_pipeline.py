"""Pipeline: items stream through stages (overlap checked by recorded events, not timing),
bounded queues, per-stage concurrency, error policies, items from a dependency."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import podium
from _cli import run_json

Log = list[tuple[str, str, int]]


def stage_agents(orch: podium.Orchestrator, log: Log, *names: str, capacity: int = 10) -> None:
    """An agent per stage name that appends its name to the input, logging start and end."""
    for name in names:

        async def step(ctx: podium.Context, name: str = name) -> str:
            i = int(ctx.task_id.rsplit("/", 1)[1])
            log.append(("start", name, i))
            await asyncio.sleep(0)
            log.append(("end", name, i))
            return f"{ctx.input}>{name}"

        orch.register(podium.Agent(name, [name], capacity, handler=step))


def pipeline(*stages: str | dict[str, Any], **options: Any) -> podium.Workflow:
    wf = podium.Workflow("p")
    options["stages"] = [s if isinstance(s, dict) else {"capability": s} for s in stages]
    wf.task("pipe", pattern="pipeline", options=options)
    return wf


async def test_items_stream_through_the_stages(orch: podium.Orchestrator) -> None:
    log: Log = []
    stage_agents(orch, log, "a", "b", "c")
    items = [f"i{n}" for n in range(30)]
    result = await orch.run(pipeline("a", "b", "c", items=items))
    assert result.status == "completed"
    assert result["pipe"] == [f"{i}>a>b>c" for i in items]
    # each step is a subtask of the run: <task>/<stage>/<item index>
    rec = result.tasks["pipe/b/7"]
    assert rec.status == "completed" and rec.agent == "b" and rec.result == "i7>a>b"
    assert sum(1 for t in result.tasks if t.startswith("pipe/")) == 90
    # streaming: an item entered stage b before the last item left stage a, and stage c too
    first_b = log.index(("start", "b", 0))
    last_a = log.index(("end", "a", 29))
    assert first_b < last_a
    assert log.index(("start", "c", 0)) < log.index(("end", "b", 29))
    # the records say the same
    assert result.tasks["pipe/b/0"].started_at < result.tasks["pipe/a/29"].finished_at  # type: ignore[operator]


async def test_the_pipeline_task_takes_its_first_stage_capability() -> None:
    task = podium.Task(
        "pipe", pattern="pipeline", options={"items": [1], "stages": [{"capability": "a"}]}
    )
    assert task.capability == "a"
    assert task.to_dict()["pipeline"] == {"items": [1], "stages": [{"capability": "a"}]}


async def test_bounded_queues_hold_back_a_fast_stage(orch: podium.Orchestrator) -> None:
    log: Log = []
    stage_agents(orch, log, "fast")
    release = asyncio.Event()
    slow_started = 0

    @orch.agent(name="slow", capabilities=["slow"])
    async def slow(ctx: podium.Context) -> Any:
        nonlocal slow_started
        slow_started += 1
        await release.wait()
        return ctx.input

    run = asyncio.create_task(
        orch.run(pipeline("fast", "slow", items=list(range(50)), queue_size=2))
    )
    for _ in range(200):  # let the fast stage run as far ahead as it can
        await asyncio.sleep(0)
    done_fast = sum(1 for e in log if e[0] == "end")
    # 1 item in the slow stage + 2 in the queue + 1 the fast worker holds = 4, not 50
    assert slow_started == 1
    assert done_fast == 4
    release.set()
    result = await run
    assert result["pipe"] == [f"{i}>fast" for i in range(50)]


async def test_stage_concurrency(orch: podium.Orchestrator) -> None:
    running = peak = 0
    three = asyncio.Event()  # the first three steps wait for each other: all three overlap

    @orch.agent(name="w", capabilities=["work"], capacity=50)
    async def work(ctx: podium.Context) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == 3:
            three.set()
        await three.wait()
        for _ in range(3):
            await asyncio.sleep(0)
        running -= 1
        return ctx.input * 2

    result = await orch.run(
        pipeline({"capability": "work", "concurrency": 3}, items=list(range(20)))
    )
    assert result["pipe"] == [i * 2 for i in range(20)]
    assert peak == 3  # the agent could take 50 at once: the stage's concurrency held


async def test_a_failed_item_fails_the_pipeline(orch: podium.Orchestrator) -> None:
    log: Log = []
    stage_agents(orch, log, "a")

    @orch.agent(name="picky", capabilities=["picky"])
    async def picky(ctx: podium.Context) -> str:
        if ctx.input == "3>a":
            raise ValueError("item 3 is bad")
        await asyncio.sleep(0)
        return ctx.input

    wf = pipeline("a", "picky", items=list(range(10)))
    wf.task("after", capability="a", depends_on=["pipe"])
    result = await orch.run(wf)
    assert result.status == "failed"
    err = result.tasks["pipe"].error
    assert (
        "item 3 failed at stage 2 ('picky', subtask 'pipe/picky/3'): ValueError: item 3 is bad"
        in err
    )  # type: ignore[operator]
    assert "pipeline.on_error: skip" in err  # type: ignore[operator]
    assert result.tasks["after"].status == "skipped"
    # nothing kept running after the failure: every step is final
    finals = {"completed", "failed", "cancelled", "skipped"}
    assert all(r.status in finals for r in result.tasks.values())


async def test_skip_leaves_null_for_a_failed_item(orch: podium.Orchestrator) -> None:
    @orch.agent(name="picky", capabilities=["picky"])
    async def picky(ctx: podium.Context) -> int:
        if ctx.input == 3:
            raise ValueError("bad")
        return ctx.input

    log: Log = []
    stage_agents(orch, log, "a")
    result = await orch.run(pipeline("picky", "a", items=list(range(6)), on_error="skip"))
    assert result.status == "completed"
    assert result["pipe"] == ["0>a", "1>a", "2>a", None, "4>a", "5>a"]
    assert result.tasks["pipe/picky/3"].status == "failed"
    assert "pipe/a/3" not in result.tasks


async def test_stage_retries(orch: podium.Orchestrator) -> None:
    tries: dict[int, int] = {}

    @orch.agent(name="flaky", capabilities=["flaky"])
    async def flaky(ctx: podium.Context) -> int:
        tries[ctx.input] = ctx.attempt
        if ctx.attempt == 1 and ctx.input % 2:
            raise RuntimeError("hiccup")
        return ctx.input

    stage = {"capability": "flaky", "retry": {"max_attempts": 2, "initial_delay": 0}}
    result = await orch.run(pipeline(stage, items=[1, 2, 3]))
    assert result["pipe"] == [1, 2, 3]
    assert tries == {1: 2, 2: 1, 3: 2}
    assert result.tasks["pipe/flaky/0"].attempts == 2  # item 1 is at index 0


async def test_items_from_a_dependency(orch: podium.Orchestrator) -> None:
    @orch.agent(name="lister", capabilities=["list"])
    async def lister(ctx: podium.Context) -> dict[str, Any]:
        return {"files": {"names": ["x", "y"]}, "other": 1}

    log: Log = []
    stage_agents(orch, log, "a")
    wf = podium.Workflow("p")
    wf.task("ls", capability="list")
    wf.task(
        "pipe",
        pattern="pipeline",
        depends_on=["ls"],
        options={"items_from": "ls.files.names", "stages": [{"capability": "a"}]},
    )
    result = await orch.run(wf)
    assert result["pipe"] == ["x>a", "y>a"]


async def test_items_from_that_is_not_a_list(orch: podium.Orchestrator) -> None:
    @orch.agent(name="lister", capabilities=["list"])
    async def lister(ctx: podium.Context) -> dict[str, Any]:
        return {"files": "x"}

    wf = podium.Workflow("p")
    wf.task("ls", capability="list")
    options = {"items_from": "ls.files", "stages": [{"capability": "list"}]}
    wf.task("pipe", pattern="pipeline", depends_on=["ls"], options=options)
    result = await orch.run(wf)
    err = result.tasks["pipe"].error
    assert "pipeline.items_from 'ls.files' must be a list, found str" in err  # type: ignore[operator]


async def test_no_items_gives_an_empty_list(orch: podium.Orchestrator) -> None:
    stage_agents(orch, [], "a")
    assert (await orch.run(pipeline("a", items=[])))["pipe"] == []


async def test_a_stage_no_agent_can_run(orch: podium.Orchestrator) -> None:
    stage_agents(orch, [], "a")
    result = await orch.run(pipeline("a", "paint", items=[1]))
    assert result.status == "failed"
    err = result.tasks["pipe"].error
    assert "pipeline stage 2 ('paint'): no agent has capability 'paint'" in err  # type: ignore[operator]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stages": []}, "pipeline.stages: List should have at least 1 item"),
        ({"stages": [{"capability": "a"}]}, "pipeline.items: give exactly one of 'items'"),
        (
            {"stages": [{"capability": "a"}], "items_from": "fetch"},
            "pipeline.items_from: 'fetch' is not in this task's depends_on (none)",
        ),
        (
            {"stages": [{"capability": "a"}, {"capability": "a"}], "items": []},
            "pipeline.stages.1: two stages are called 'a': give them distinct 'name's",
        ),
        (
            {"stages": [{"capability": "a", "workers": 2}], "items": []},
            "unknown setting 'workers' in pipeline.stages.0",
        ),
        (
            {"stages": [{"capability": "a", "retry": {"max_attempt": 2}}], "items": []},
            "'max_attempt' in pipeline.stages.0.retry. Did you mean 'max_attempts'?",
        ),
        (
            {"stages": [{"capability": "a", "concurrency": 0}], "items": []},
            "pipeline.stages.0.concurrency",
        ),
        ({"stages": [{"name": "x"}], "items": []}, "give exactly one of 'capability' or 'agent'"),
        ({"stages": [{"capability": "a"}], "items": [], "queue_size": 0}, "pipeline.queue_size"),
    ],
)
def test_bad_settings(options: dict[str, Any], message: str) -> None:
    with pytest.raises(podium.ValidationError) as err:
        podium.Task("pipe", capability="a", pattern="pipeline", options=options)
    assert message in str(err.value) and "task 'pipe'" in str(err.value)


AGENTS = """
import asyncio

async def fetch(ctx):
    return {"pages": ["home", "about", "blog"]}

async def render(ctx):
    await asyncio.sleep(0.001)
    return {"page": ctx.input, "html": f"<h1>{ctx.input}</h1>"}

def size(ctx):
    return {"page": ctx.input["page"], "bytes": len(ctx.input["html"])}
"""

FLOW = """
name: site
agents:
  - {name: crawler, capabilities: [fetch], handler: agents:fetch}
  - {name: renderer, capabilities: [render], capacity: 4, handler: agents:render}
  - {name: meter, capabilities: [measure], handler: agents:size}
tasks:
  - id: crawl
    capability: fetch
  - id: build
    pattern: pipeline
    depends_on: [crawl]
    pipeline:
      items_from: crawl.pages
      queue_size: 4
      stages:
        - {capability: render, concurrency: 2}
        - {capability: measure}
"""


def test_workflow_file_end_to_end(write_file: Callable[[str, str], Path]) -> None:
    write_file("agents.py", AGENTS)
    p = run_json(write_file("flow.yaml", FLOW))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["tasks"]["build"]["result"] == [
        {"page": "home", "bytes": 13},
        {"page": "about", "bytes": 14},
        {"page": "blog", "bytes": 13},
    ]
    assert doc["tasks"]["build/render/1"]["agent"] == "renderer"


def test_workflow_file_with_a_typo_in_a_stage(write_file: Callable[[str, str], Path]) -> None:
    write_file("agents.py", AGENTS)
    p = run_json(write_file("flow.yaml", FLOW.replace("concurrency: 2", "concurency: 2")))
    assert p.returncode == 2
    assert (
        "flow.yaml: task 'build': unknown setting 'concurency' in pipeline.stages.0. "
        "Did you mean 'concurrency'?"
    ) in p.stderr


async def test_pipeline_whose_first_stage_pins_an_agent(orch: podium.Orchestrator) -> None:
    @orch.agent(name="thumb", capabilities=["img"])
    async def thumb(ctx: podium.Context) -> Any:
        return ctx.input * 10

    wf = podium.Workflow("pinned")
    t = wf.task("x", pattern="pipeline", options={"items": [1, 2], "stages": [{"agent": "thumb"}]})
    assert (t.capability, t.agent) == (None, "thumb")
    result = await orch.run(wf)
    assert result["x"] == [10, 20]
