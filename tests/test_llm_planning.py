"""Goal planning (``podium plan``) and the assignment tensor (``podium tensor``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import podium
from llm_fixture import ChatServer
from podium.llm.planner import check_plan, plan_goal
from podium.llm.templates import template_for
from podium.llm.tensor import LEVELS, planned_tensor

np = pytest.importorskip("numpy")


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podium", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env=env,
    )


AGENTS = """
agents:
  - {name: thinker, capabilities: [planning], handler: team:work}
  - {name: coder, capabilities: [code], handler: team:work, capacity: 2}
  - {name: tester, capabilities: [test], handler: team:work}
  - {name: critic, capabilities: [review], handler: team:work}
"""
TEAM = """
def work(ctx):
    return {"did": ctx.input["task"], "after": sorted(ctx.deps)}
"""


@pytest.fixture
def team(tmp_path: Path) -> Path:
    (tmp_path / "agents.yaml").write_text(AGENTS)
    (tmp_path / "team.py").write_text(TEAM)
    return tmp_path


def test_templates_follow_the_goals_first_word() -> None:
    assert template_for("Build a URL shortener")[0] == "develop"
    assert template_for("please fix the login bug")[0] == "fix"
    assert template_for("Write a blog post on asyncio")[0] == "write"
    assert template_for("compare Redis and NATS")[0] == "research"
    assert template_for("plan a wedding")[0] == "generic"


def test_plan_a_goal_without_a_model(tmp_path: Path) -> None:
    p = cli("plan", "develop a URL shortener", "--out", "flow.yaml", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    wf = podium.load_workflow(tmp_path / "flow.yaml")
    assert list(wf.tasks) == ["requirements", "design", "implementation", "testing", "review"]
    assert wf.tasks["testing"].depends_on == ("implementation",)
    assert wf.tasks["implementation"].priority == 10
    assert wf.tasks["implementation"].capability == "code"
    assert wf.tasks["design"].options["estimate"]["seconds"] == 45
    assert {a.name for a in wf.agents} == {"planner", "code", "test", "review"}
    assert all(isinstance(a, podium.LLMAgent) for a in wf.agents)
    v = cli("validate", "flow.yaml", cwd=tmp_path)
    assert v.returncode == 0 and "5 tasks" in v.stdout


def test_plan_with_given_agents_runs_offline(team: Path) -> None:
    p = cli("plan", "build a todo app", "--agents", "agents.yaml", "--out", "flow.yaml",
            "--json", cwd=team)  # fmt: skip
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    caps = [t["capability"] for t in doc["workflow"]["tasks"]]
    assert caps == ["planning", "planning", "code", "test", "review"]
    r = cli("run", "flow.yaml", "--json", cwd=team)
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)
    assert run["status"] == "completed"
    assert run["tasks"]["review"]["result"]["after"] == ["testing"]
    assert run["tasks"]["implementation"]["agent"] == "coder"


def test_plan_errors_are_clear(tmp_path: Path) -> None:
    (tmp_path / "none.yaml").write_text("agents: []\n")
    p = cli("plan", "build it", "--agents", "none.yaml", "--out", "f.yaml", cwd=tmp_path)
    assert p.returncode == 2 and "has no 'agents:' list" in p.stderr
    p = cli("plan", "  ", "--out", "f.yaml", cwd=tmp_path)
    assert p.returncode == 2 and "the goal is empty" in p.stderr
    p = cli("plan", "x", "--out", "no/such/f.yaml", cwd=tmp_path)
    assert p.returncode == 2 and "does not exist" in p.stderr


def test_a_models_plan_is_checked_and_repaired() -> None:
    bad = {
        "tasks": [
            {"id": "Look Up", "description": "find", "capability": "astrology"},
            {"id": "b", "description": "do", "capability": "code", "depends_on": ["c"]},
            {"id": "c", "description": "check", "capability": "review", "depends_on": ["b"]},
        ]
    }
    good = {
        "tasks": [
            {"id": "Look Up", "description": "find facts", "capability": "knowledge",
             "priority": "high", "estimated_seconds": 20, "estimated_cost": 0.002},
            {"id": "build", "description": "write it", "capability": "code",
             "depends_on": ["Look Up"]},
        ]
    }  # fmt: skip
    script = ["Sure! " + json.dumps(bad), "```json\n" + json.dumps(good) + "\n```"]
    with ChatServer(script) as srv:
        flow = plan_goal("make a thing", model="planner-model", base_url=srv.url)
        repair = srv.requests[1]["body"]["messages"][-1]["content"]
    assert "capability 'astrology' is not one of" in repair
    assert "cycle" not in repair  # only reported once the rest is right
    assert [t["id"] for t in flow["tasks"]] == ["look-up", "build"]
    assert flow["tasks"][1]["depends_on"] == ["look-up"]
    assert flow["tasks"][0]["options"]["estimate"] == {"seconds": 20.0, "cost": 0.002}
    assert "planned by planner-model" in flow["description"]
    wf = podium.spec.parse_workflow(flow)
    assert len(wf.tasks) == 2


def test_cycles_are_found_and_plans_that_stay_wrong_fall_back() -> None:
    _, problems = check_plan(
        {"tasks": [{"id": "a", "description": "x", "capability": "code", "depends_on": ["b"]},
                   {"id": "b", "description": "y", "capability": "code", "depends_on": ["a"]}]},
        ["code"],
    )  # fmt: skip
    assert problems and "cycle" in problems[0]
    with ChatServer(default="no plan today") as srv:
        flow = plan_goal("fix the flaky test", model="m", base_url=srv.url, repairs=1)
        assert len(srv.requests) == 2
    assert [t["id"] for t in flow["tasks"]][:2] == ["reproduce", "diagnose"]
    assert "rule-based plan (m's plans stayed invalid" in flow["description"]


# -- the assignment tensor -------------------------------------------------------------------


def test_the_planned_tensor_shares_tasks_by_throughput() -> None:
    wf = podium.Workflow("t")
    fast = podium.Agent("fast", ["x"], capacity=3, handler=lambda c: 1, estimated_time=1.0)
    slow = podium.Agent("slow", ["x"], capacity=1, handler=lambda c: 1, estimated_time=1.0)
    other = podium.Agent("other", ["y"], handler=lambda c: 1)
    for a in (fast, slow, other):
        wf.add_agent(a)
    wf.task("a", capability="x", priority="critical")
    wf.task("b", capability="y", priority="low")
    wf.task("c", agent="slow", priority=9)
    wf.task("d", capability="nobody")
    t = planned_tensor(wf)
    assert t.shape == (4, 3, 4) and t.levels == list(LEVELS)
    assert t.tasks == ["a", "b", "c", "d"] and t.agents == ["fast", "slow", "other"]
    assert t.array[0, :, 0].tolist() == [0.75, 0.25, 0.0]
    assert t.array[0, :, 1:].sum() == 0
    assert t.array[1, 2, 3] == 1.0
    assert t.array[2, 1, 1] == 1.0
    assert t.array[3].sum() == 0
    assert np.allclose(t.array[:3].sum(axis=(1, 2)), 1.0)


def test_podium_tensor_before_and_after_a_run(team: Path) -> None:
    flow = team / "flow.yaml"
    flow.write_text(
        AGENTS
        + """name: t
tasks:
  - {id: a, capability: code, priority: critical, input: {task: x}}
  - {id: b, capability: review, depends_on: [a], input: {task: y}}
  - {id: c, agent: tester, priority: low, input: {task: z}}
""",
        encoding="utf-8",
    )
    p = cli("tensor", "flow.yaml", "--out", "before.npy", cwd=team)
    assert p.returncode == 0, p.stderr
    before = np.load(team / "before.npy")
    index = json.loads((team / "before.json").read_text())
    assert before.shape == (3, 4, 4) and index["kind"] == "planned"
    assert index["agents"] == ["thinker", "coder", "tester", "critic"]
    assert before[0, 1, 0] == 1.0 and before[2, 2, 3] == 1.0

    r = cli("run", "flow.yaml", "--db", "runs.db", "--run-id", "r1", cwd=team)
    assert r.returncode == 0, r.stderr
    p = cli("tensor", "flow.yaml", "--run", "r1", "--db", "runs.db", "--out", "after.npy",
            "--json", cwd=team)  # fmt: skip
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    after = np.load(team / "after.npy")
    assert doc["kind"] == "actual" and doc["run_id"] == "r1" and doc["tasks"] == ["a", "b", "c"]
    assert after.sum() == 3
    assert after[0, doc["agents"].index("coder"), 0] == 1.0
    assert after[1, doc["agents"].index("critic"), 2] == 1.0
    p = cli("tensor", "flow.yaml", "--run", "r1", "--out", "x.npy", cwd=team)
    assert p.returncode == 2 and "--run needs --db" in p.stderr
