"""Token and cost accounting of LLM agents, and run budgets (max_cost, max_tokens)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import podium
from llm_fixture import ChatServer, Reply
from podium.engine.budget import Budget, BudgetScheduler
from podium.spec.workflow import Task

pytest.importorskip("openai")

USAGE = {"prompt_tokens": 100, "completion_tokens": 50}
PRICE = {"input": 1000.0, "output": 2000.0}  # per million: a call of USAGE costs 0.2


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer(default=lambda body: Reply(text="ok", usage=USAGE)) as srv:
        yield srv


def llm(srv: ChatServer, name: str = "w", caps: tuple[str, ...] = ("write",), **kw):
    kw.setdefault("stream", False)
    kw.setdefault("price", PRICE)
    kw.setdefault("max_tokens", 50)  # a first task's estimate: its prompt + max_tokens
    return podium.LLMAgent(name, list(caps), model="m", base_url=srv.url, **kw)


def chain(n: int, **wf) -> podium.Workflow:
    w = podium.Workflow("chain", **wf)
    for i in range(n):
        w.task(f"s{i}", capability="write", depends_on=[f"s{i - 1}"] if i else [])
    return w


def test_tokens_and_cost_are_summed_per_task_agent_and_run(server: ChatServer) -> None:
    orch = podium.Orchestrator()
    orch.register(llm(server, "a", ("one",)))
    orch.register(llm(server, "b", ("two",), price={"input": 0, "output": 0}))
    wf = podium.Workflow("two")
    wf.task("x", capability="one")
    wf.task("y", capability="two")
    wf.task("z", capability="one", depends_on=["x"])
    result = orch.run_sync(wf)
    assert result.status == "completed"
    for tid in ("x", "y", "z"):
        u = result.tasks[tid].usage
        assert (u["calls"], u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (
            1,
            100,
            50,
            150,
        )
        assert u["latency"] > 0
    assert result.tasks["x"].usage["cost"] == pytest.approx(0.2)
    assert result.tasks["y"].usage["cost"] == 0
    stats = result.stats
    assert stats["usage"]["calls"] == 3 and stats["usage"]["total_tokens"] == 450
    assert stats["usage"]["cost"] == pytest.approx(0.4)
    assert stats["agents"]["a"]["usage"]["cost"] == pytest.approx(0.4)
    assert stats["agents"]["b"]["usage"]["total_tokens"] == 150
    assert stats["usage"]["by_model"]["m"]["calls"] == 3
    doc = result.to_dict()
    assert doc["tasks"]["x"]["usage"]["cost"] == pytest.approx(0.2)
    json.dumps(doc)


def test_python_handlers_can_report_usage_too() -> None:
    orch = podium.Orchestrator()

    @orch.agent(capabilities=["calc"])
    async def calc(ctx):
        ctx.record_usage(prompt_tokens=7, completion_tokens=3, cost=0.01, model="own")
        return 1

    @orch.agent(capabilities=["plain"])
    def plain(ctx):
        return 2

    wf = podium.Workflow("mixed")
    wf.task("a", capability="calc")
    wf.task("b", capability="plain")
    result = orch.run_sync(wf)
    assert result.tasks["a"].usage["total_tokens"] == 10
    assert getattr(result.tasks["b"], "usage", None) is None
    assert "usage" not in result.tasks["b"].to_dict()
    assert result.stats["usage"]["by_model"] == {
        "own": {
            "calls": 1,
            "prompt_tokens": 7,
            "completion_tokens": 3,
            "total_tokens": 10,
            "cost": 0.01,
            "latency": 0.0,
        }
    }


def test_runs_without_usage_have_no_usage_stats() -> None:
    orch = podium.Orchestrator()
    orch.register(lambda ctx: 1, name="one", capabilities=["x"])
    wf = podium.Workflow("w")
    wf.task("a", capability="x")
    stats = orch.run_sync(wf).stats
    assert "usage" not in stats and "budget" not in stats


def test_max_cost_stops_new_llm_tasks_with_a_clear_status(server: ChatServer) -> None:
    orch = podium.Orchestrator()
    orch.register(llm(server))
    # each task costs 0.2; after two (0.4 spent), a third would pass 0.5
    result = orch.run_sync(chain(4, budget={"max_cost": 0.5}))
    assert result.status == "budget_exceeded"
    assert [result.tasks[f"s{i}"].status for i in range(4)] == [
        "completed",
        "completed",
        "skipped",
        "skipped",
    ]
    why = result.tasks["s2"].error
    assert why.startswith("skipped: budget: max_cost 0.5 would be exceeded by task 's2'")
    assert "spent 0.4" in why
    assert "before dependency 's2'" in result.tasks["s3"].error
    assert result.stats["stopped_by"].startswith("budget: max_cost 0.5")
    assert result.stats["budget"]["spent_cost"] == pytest.approx(0.4)
    assert len(server.requests) == 2


def test_max_tokens_counts_running_tasks_estimates(server: ChatServer) -> None:
    orch = podium.Orchestrator()
    orch.register(llm(server, capacity=10, max_tokens=100))
    wf = podium.Workflow("fan", budget={"max_tokens": 1000}, on_failure="continue")
    for i in range(10):
        wf.task(f"f{i}", capability="write", input={"n": i})
    result = orch.run_sync(wf)
    done = [r for r in result.tasks.values() if r.status == "completed"]
    spent = sum(r.usage["total_tokens"] for r in done)
    assert result.status == "budget_exceeded"
    assert 0 < len(done) < 10
    assert spent <= 1000  # the estimates held the budget before anything was spent


def test_tasks_that_estimate_nothing_run_on(server: ChatServer) -> None:
    orch = podium.Orchestrator()
    orch.register(llm(server))
    ran = []
    orch.register(lambda ctx: ran.append(ctx.task_id) or "py", name="py", capabilities=["py"])
    wf = chain(3, budget={"max_cost": 0.3}, on_failure="continue")
    wf.task("after", capability="py", depends_on=["s0"])
    wf.task("alone", capability="py")
    result = orch.run_sync(wf)
    assert result.status == "budget_exceeded"
    assert sorted(ran) == ["after", "alone"]
    assert result.tasks["s1"].status == "skipped"


def test_a_budget_in_a_workflow_file_and_its_errors(tmp_path: Path) -> None:
    f = tmp_path / "b.yaml"
    f.write_text(
        "name: b\nbudget: {max_cost: 0.25, max_tokens: 1000}\ntasks:\n  - {id: a, capability: x}\n"
    )
    assert podium.load_workflow(f).budget == {"max_cost": 0.25, "max_tokens": 1000}
    f.write_text("name: b\nbudget: {max_cost: -1}\ntasks:\n  - {id: a, capability: x}\n")
    with pytest.raises(podium.ValidationError, match="max_cost"):
        podium.load_workflow(f)
    f.write_text("name: b\nbudget: {max_dollars: 1}\ntasks:\n  - {id: a, capability: x}\n")
    with pytest.raises(podium.ValidationError, match="unknown field 'max_dollars'"):
        podium.load_workflow(f)
    with pytest.raises(podium.ValidationError, match="max_tokens must be a positive number"):
        podium.Workflow("w", budget={"max_tokens": 0})


def test_the_budget_scheduler_holds_estimates_and_refuses() -> None:
    class Metered(podium.Agent):
        def handle(self, ctx):
            return None

        def estimate_usage(self, task):
            return 0.3, 10

    class Rec:
        def __init__(self, tid):
            self.task = Task(tid, capability="x")
            self.id = tid
            self.rank, self.tried, self.attempts = 1.0, None, 0
            self.status = podium.TaskStatus.READY

    refused = []
    a = Metered("m", ["x"], capacity=5)
    a.state = podium.AgentState.IDLE
    budget = Budget(max_cost=1.0)
    s = BudgetScheduler([a], budget=budget, on_refused=lambda r, why: refused.append((r.id, why)))
    recs = [Rec(f"t{i}") for i in range(5)]
    for r in recs:
        r.route = s.route_for(r.task)
        s.push(r)
    out = []
    assert s.assign(out) == 3
    assert budget.held_cost == pytest.approx(0.9)
    assert [r for r, _ in refused] == ["t3", "t4"]
    assert "max_cost 1 would be exceeded by task 't3'" in refused[0][1]
    budget.spend(recs[0], 0.5, 5)  # more than its estimate: its hold is used up
    assert budget.cost == 0.5 and budget.held_cost == pytest.approx(0.6)


def test_usage_is_recorded_and_shown_by_status_and_report(
    server: ChatServer, tmp_path: Path
) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        f"""
name: recorded
budget: {{max_cost: 0.3}}
agents:
  - {{name: w, kind: llm, model: m, base_url: {server.url}, capabilities: [write],
     price: {{input: 1000, output: 2000}}, stream: false, max_tokens: 50}}
tasks:
  - {{id: a, capability: write}}
  - {{id: b, capability: write, depends_on: [a]}}
""",
        encoding="utf-8",
    )
    db = tmp_path / "runs.db"
    p = subprocess.run(
        [sys.executable, "-m", "podium", "run", str(flow), "--db", str(db), "--run-id", "r1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert p.returncode == 1, p.stderr
    assert "budget_exceeded" in p.stdout
    assert "tokens" in p.stdout and "cost" in p.stdout  # the summary's usage columns
    assert "model calls: 1" in p.stdout and "budget: max_cost 0.3 would be exceeded" in p.stdout
    s = subprocess.run(
        [sys.executable, "-m", "podium", "status", "r1", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    doc = json.loads(s.stdout)
    assert doc["status"] == "budget_exceeded"
    assert doc["tasks"]["a"]["usage"]["total_tokens"] == 150
    assert doc["tasks"]["a"]["usage"]["cost"] == pytest.approx(0.2)
    assert "usage" not in doc["tasks"]["b"]
    assert doc["stats"]["usage"]["calls"] == 1
    t = subprocess.run(
        [sys.executable, "-m", "podium", "status", "r1", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "150" in t.stdout and "0.2" in t.stdout
    out = tmp_path / "r.html"
    subprocess.run(
        [sys.executable, "-m", "podium", "report", "r1", "--db", str(db), "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    html = out.read_text()
    assert "Model usage" in html and "150" in html


async def test_a_resumed_run_keeps_counting_what_it_spent(tmp_path: Path) -> None:
    class Model(podium.Agent):
        def estimate_usage(self, task):
            return 0.2, 10

        async def handle(self, ctx):
            ctx.record_usage(prompt_tokens=5, completion_tokens=5, cost=0.2)
            if ctx.task_id == "s1" and ctx.input.get("crash"):
                raise RuntimeError("down")
            return "ok"

    def flow(crash: bool) -> podium.Workflow:
        wf = podium.Workflow("resumable", budget={"max_cost": 0.5})
        wf.task("s0", capability="chat")
        wf.task("s1", capability="chat", depends_on=["s0"], input={"crash": crash})
        wf.task("s2", capability="chat", depends_on=["s1"])
        return wf

    db = f"sqlite:///{tmp_path / 'runs.db'}"
    async with podium.Orchestrator(store=db) as orch:
        orch.register(Model("m", ["chat"]))
        first = await orch.run(flow(True), run_id="r")
        assert first.status == "failed"  # s0 and s1's failed attempt spent 0.4
    async with podium.Orchestrator(store=db) as orch:
        orch.register(Model("m", ["chat"]))
        again = await orch.resume("r", workflow=flow(False))
    assert again.status == "budget_exceeded"
    assert again.tasks["s1"].status == "skipped"  # 0.4 spent before + 0.2 > 0.5
    assert "spent 0.4" in again.tasks["s1"].error
