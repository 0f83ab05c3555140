"""Concurrency keys and rate limits (podium.engine.gates): the pure scheduler with an injected
clock, then end to end through an Orchestrator, across two runs, from files and from Python."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import podium
from podium.agents import Agent, AgentState
from podium.engine.gates import GatedScheduler, Gates, Window
from podium.engine.status import READY
from podium.spec.workflow import Task, Workflow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rec:
    def __init__(self, sched: GatedScheduler, task: Task) -> None:
        self.task = task
        self.id = task.id
        self.rank = 0.0
        self.route = sched.route_for(task)
        self.tried = None
        self.status = READY


def agent(name: str, capacity: int = 100, **kw: Any) -> Agent:
    a = Agent(name, ["x"], capacity, handler=lambda ctx: None, **kw)
    a.state = AgentState.IDLE
    return a


def sched_for(wf: Workflow, agents: list[Agent], gates: Gates, **kw: Any) -> GatedScheduler:
    return GatedScheduler(agents, gates=gates, workflow=wf, **kw)


def push(sched: GatedScheduler, tid: str, **kw: Any) -> Rec:
    rec = Rec(sched, Task(tid, capability="x", **kw))
    sched.push(rec)
    return rec


def assign(sched: GatedScheduler) -> list[Any]:
    out: list[Any] = []
    sched.assign(out)
    return out


# -- concurrency keys, pure ------------------------------------------------------------------


def test_a_full_key_parks_its_tasks_and_others_go_past() -> None:
    gates = Gates(Clock())
    wf = Workflow("w")
    s = sched_for(wf, [agent("a")], gates)
    rule = {"key": "{input.tenant}", "max": 2}
    for i in range(4):
        push(s, f"acme{i}", input={"tenant": "acme"}, concurrency=rule)
    push(s, "beta0", input={"tenant": "beta"}, concurrency=rule)
    got = assign(s)
    assert [r.id for r, _ in got] == ["acme0", "acme1", "beta0"]
    assert s.waiting() == 2 and s.waits() == {"concurrency key 'acme'": 2}
    woke: list[int] = []
    s.wake = lambda: woke.append(1)
    rec, a = got[0]
    s.release(a, True, rec)  # acme0 ends: acme2 comes back
    assert woke and [r.id for r, _ in assign(s)] == ["acme2"]
    assert gates.keys == {"acme": 2, "beta": 1}


def test_a_key_is_shared_by_two_schedulers_of_one_gates() -> None:
    gates = Gates(Clock())
    rule = {"key": "tenant-{input.t}", "max": 1}
    s1 = sched_for(Workflow("w"), [agent("a")], gates)
    s2 = sched_for(Workflow("w"), [agent("b")], gates)
    push(s1, "one", input={"t": 7}, concurrency=rule)
    push(s2, "two", input={"t": 7}, concurrency=rule)
    ((r1, a1),) = assign(s1)
    assert assign(s2) == [] and s2.waiting() == 1
    s1.release(a1, True, r1)  # the key frees: s2's task goes back to s2's queue
    assert [r.id for r, _ in assign(s2)] == ["two"]


def test_a_capability_gives_its_tasks_a_default_key() -> None:
    wf = Workflow("w", capabilities={"x": {"concurrency": {"key": "all", "max": 1}}})
    s = sched_for(wf, [agent("a")], Gates(Clock()))
    push(s, "a1")
    push(s, "a2")
    assert len(assign(s)) == 1 and s.waits() == {"concurrency key 'all'": 1}


# -- rate limits, pure -----------------------------------------------------------------------


def test_no_window_holds_more_requests_than_the_limit() -> None:
    clock = Clock()
    gates = Gates(clock)
    wf = Workflow("w")
    s = sched_for(wf, [agent("a", rate_limit={"requests": 3, "per": 10})], gates)
    waits: list[float] = []
    s.wake_in = waits.append
    for i in range(20):
        push(s, f"t{i}")
    starts: list[float] = []
    while len(starts) < 20:
        for rec, a in assign(s):
            starts.append(clock.now)
            s.release(a, True, rec)
        clock.now += 0.5
    for t in starts:  # every window of `per` seconds
        assert sum(1 for u in starts if t <= u < t + 10) <= 3
    assert waits and all(w > 0 for w in waits)
    assert s.waits() == {} or "rate limit" in next(iter(s.waits()))


def test_tokens_use_the_reported_usage_and_learn_an_estimate() -> None:
    w = Window("capability 'x'", None, 1000, 60)
    entry = w.take(0.0, 0.0)  # nothing known yet: estimated at 0
    assert w.wait(1.0, 0.0) == 0
    w.report(1.0, entry, 900.0)  # it used 900
    assert w.estimate() == 900.0
    assert w.wait(2.0, w.estimate()) == pytest.approx(59.0)  # 900 + 900 > 1000 until 61
    assert w.wait(61.5, w.estimate()) == 0


def test_a_workflow_rate_limit_holds_every_route() -> None:
    clock = Clock()
    wf = Workflow("w", rate_limit={"requests": 2, "per": 1})
    s = sched_for(wf, [agent("a")], Gates(clock))
    for i in range(5):
        push(s, f"t{i}")
    assert len(assign(s)) == 2
    assert s.waits() == {"rate limit of workflow 'w'": 3}
    clock.now += 1.0
    assert len(assign(s)) == 2


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "field", "text"),
    [
        ({"concurrency": {"key": "k"}}, "concurrency.max", "max must be a whole number"),
        ({"concurrency": {"key": "{tenant}", "max": 1}}, "concurrency.key", "must start with"),
        ({"concurrency": {"key": "k", "max": 1, "by": 2}}, "concurrency.by", "unknown field"),
    ],
)
def test_bad_concurrency_names_task_and_field(kw: Any, field: str, text: str) -> None:
    with pytest.raises(podium.ValidationError) as exc:
        Task("t", capability="x", **kw)
    assert exc.value.field == field and text in str(exc.value) and "'t'" in str(exc.value)


def test_bad_rate_limit_on_an_agent() -> None:
    with pytest.raises(podium.ValidationError, match="agent 'a': rate_limit: give requests"):
        Agent("a", ["x"], handler=lambda ctx: None, rate_limit={"per": 5})


def test_bad_rules_in_a_file_name_the_file_and_field(tmp_path: Path) -> None:
    spec = tmp_path / "wf.yaml"
    spec.write_text(
        "name: w\ncapabilities:\n  x:\n    rate_limit: {requests: 0}\n"
        "tasks:\n  - {id: a, capability: x}\n"
    )
    p = subprocess.run(
        [sys.executable, "-m", "podium", "validate", str(spec)], capture_output=True, text=True
    )
    assert p.returncode == 2 and "requests" in p.stderr and "Traceback" not in p.stderr


# -- end to end ------------------------------------------------------------------------------


def test_a_key_holds_across_two_runs_of_one_orchestrator() -> None:
    running: dict[str, int] = {}
    most: dict[str, int] = {}

    async def work(ctx: Any) -> str:
        t = ctx.input["tenant"]
        running[t] = running.get(t, 0) + 1
        most[t] = max(most.get(t, 0), running[t])
        await asyncio.sleep(0.002)
        running[t] -= 1
        return t

    def workflow(name: str) -> Workflow:
        wf = Workflow(name)
        for i in range(30):
            wf.task(
                f"t{i}",
                capability="work",
                input={"tenant": "acme" if i % 3 else "beta"},
                concurrency={"key": "{input.tenant}", "max": 2},
            )
        return wf

    async def main() -> list[Any]:
        orch = podium.Orchestrator()
        orch.register(Agent("w", ["work"], 50, handler=work))
        return await asyncio.gather(orch.run(workflow("one")), orch.run(workflow("two")))

    results = asyncio.run(main())
    assert all(r.status == "completed" for r in results)
    assert most == {"acme": 2, "beta": 2}


def test_a_rate_limited_agent_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "handlers.py").write_text(
        textwrap.dedent(
            """
            import time
            STARTS = []
            def call(ctx):
                STARTS.append(time.monotonic())
                return ctx.task_id
            """
        )
    )
    spec = tmp_path / "wf.yaml"
    tasks = "\n".join(f"  - {{id: t{i}, capability: api}}" for i in range(9))
    spec.write_text(
        "name: limited\nagents:\n  - name: api\n    handler: handlers:call\n"
        "    capabilities: [api]\n    executor: inline\n"
        "    rate_limit: {requests: 3, per: 0.5}\n"
        f"tasks:\n{tasks}\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        result = podium.Orchestrator().run_sync(str(spec))
        import handlers  # type: ignore[import-not-found]

        starts = handlers.STARTS
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("handlers", None)
    assert result.status == "completed" and len(starts) == 9
    # The window counts a task when it is handed out; its handler starts a moment later (more
    # under load), so the handlers' own clock gets 50 ms of slack.
    for t in starts:
        assert sum(1 for u in starts if t <= u < t + 0.45) <= 3


def test_rules_survive_a_stored_definition() -> None:
    from podium.stores.definition import describe, rebuild

    wf = Workflow(
        "w",
        rate_limit={"requests": 3, "per": 2},
        capabilities={"x": {"concurrency": {"key": "k", "max": 1}}},
    )
    wf.task("a", capability="x", concurrency={"key": "{input.t}", "max": 2})
    back = rebuild(describe(wf))
    assert back.rate_limit == wf.rate_limit and back.capabilities == wf.capabilities
    assert back.tasks["a"].concurrency == {"key": "{input.t}", "max": 2} and back.keyed


# -- resource requests -----------------------------------------------------------------------


def gpu_agent(name: str, gpu: float = 2, capacity: int = 10) -> Agent:
    a = agent(name, capacity, resources={"gpu": gpu, "memory": "1GB"})
    return a


def test_a_task_starts_only_where_its_request_fits() -> None:
    gates = Gates(Clock())
    s = sched_for(Workflow("w"), [gpu_agent("g")], gates)
    small = [push(s, f"s{i}", resources={"gpu": 1}) for i in range(3)]
    got = assign(s)
    assert [r.id for r, _ in got] == ["s0", "s1"] and gates.held["g"]["gpu"] == 2
    assert s.waits() == {"resources: gpu 1": 1}
    rec, a = got[0]
    s.release(a, True, rec)
    assert [r.id for r, _ in assign(s)] == ["s2"] and small


def test_memory_amounts_and_a_request_no_agent_can_hold() -> None:
    assert Task("t", capability="x", resources={"memory": "512MiB"}).resources == {
        "memory": 512 * 1024**2
    }
    wf = Workflow("w")
    wf.task("big", capability="x", resources={"gpu": 4})
    orch = podium.Orchestrator()
    orch.register(Agent("g", ["x"], 2, handler=lambda ctx: None, resources={"gpu": 2}))
    with pytest.raises(podium.CapabilityError, match="task 'big': no agent for it offers"):
        orch.run_sync(wf)


def test_a_large_request_reserves_an_agent_after_waiting() -> None:
    gates = Gates(Clock())
    g = gpu_agent("g", gpu=2)
    wf = Workflow("w")
    s_small = sched_for(wf, [g], gates)  # small tasks of another run keep the GPUs busy
    s_big = sched_for(wf, [g], gates)
    for i in range(2):
        push(s_small, f"s{i}", resources={"gpu": 1})
    running = assign(s_small)
    big = push(s_big, "big", resources={"gpu": 2})
    for i in range(20):
        assert assign(s_big) == []  # it waits; small tasks come and go
        push(s_small, f"more{i}", resources={"gpu": 1})
        rec, a = running.pop(0)
        s_small.release(a, True, rec)
        running += assign(s_small)
        if not running:
            break
    assert gates.reserved == {"g": big}  # from then on the small ones get no GPU
    while running:
        rec, a = running.pop()
        s_small.release(a, True, rec)
    assert [r.id for r, _ in assign(s_big)] == ["big"] and not gates.reserved


def test_a_gpu_is_never_oversubscribed_end_to_end() -> None:
    held = [0.0]
    most = [0.0]

    async def infer(ctx: Any) -> None:
        held[0] += ctx.input["gpu"]
        most[0] = max(most[0], held[0])
        await asyncio.sleep(0.001)
        held[0] -= ctx.input["gpu"]

    wf = Workflow("gpu")
    for i in range(40):
        n = 2 if i % 5 == 0 else 0.5
        wf.task(f"t{i}", capability="infer", input={"gpu": n}, resources={"gpu": n})
    orch = podium.Orchestrator()
    orch.register(Agent("card", ["infer"], 100, handler=infer, resources={"gpu": 2}))
    result = orch.run_sync(wf)
    assert result.status == "completed" and 0 < most[0] <= 2


def test_status_and_the_report_say_what_tasks_waited_for(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(
        "import asyncio\n\nasync def work(ctx):\n    await asyncio.sleep(0.005)\n"
    )
    spec = tmp_path / "wf.yaml"
    tasks = "\n".join(f"  - {{id: t{i}, capability: w, input: {{t: a}}}}" for i in range(4))
    spec.write_text(
        "name: keyed\nagents:\n  - {name: w, handler: 'slow:work', capabilities: [w]}\n"
        "capabilities:\n  w:\n    concurrency: {key: 'tenant-{input.t}', max: 1}\n"
        f"tasks:\n{tasks}\n"
    )
    db = tmp_path / "runs.db"

    def podium_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "podium", *args], capture_output=True, text=True, cwd=tmp_path
        )

    p = podium_cli("run", str(spec), "--db", str(db), "--run-id", "k1")
    assert p.returncode == 0, p.stderr
    assert "waited: 3 for concurrency key 'tenant-a'" in p.stdout
    p = podium_cli("status", "k1", "--db", str(db))
    assert "waited: 3 for concurrency key 'tenant-a'" in p.stdout, p.stdout + p.stderr
    p = podium_cli("report", "k1", "--db", str(db), "-o", str(tmp_path / "r.html"))
    assert p.returncode == 0, p.stderr
    html = (tmp_path / "r.html").read_text()
    assert "What ready tasks waited for" in html and "concurrency key &#x27;tenant-a&#x27;" in html


def test_a_pattern_task_does_not_hold_its_capability_defaults() -> None:
    wf = Workflow(
        "p",
        capabilities={"x": {"concurrency": {"key": "one", "max": 1}, "resources": {"gpu": 1}}},
    )
    wf.task("vote", capability="x", pattern="consensus", options={"agents": 2})

    async def answer(ctx: Any) -> str:
        return "yes"

    orch = podium.Orchestrator()
    for name in ("a", "b"):
        orch.register(Agent(name, ["x"], 2, handler=answer, resources={"gpu": 1}))
    result = orch.run_sync(wf)
    assert result.status == "completed", result.tasks["vote"].error


def test_a_rate_limit_is_shared_by_two_runs() -> None:
    import time

    starts: list[float] = []

    async def call(ctx: Any) -> None:
        starts.append(time.monotonic())

    def workflow(name: str) -> Workflow:
        wf = Workflow(name)
        for i in range(4):
            wf.task(f"t{i}", capability="api")
        return wf

    async def main() -> list[Any]:
        orch = podium.Orchestrator()
        limit = {"requests": 3, "per": 0.5}
        orch.register(Agent("api", ["api"], 10, handler=call, rate_limit=limit))
        return await asyncio.gather(orch.run(workflow("one")), orch.run(workflow("two")))

    results = asyncio.run(main())
    assert all(r.status == "completed" for r in results) and len(starts) == 8
    for t in starts:  # both runs together, with 50 ms of slack for handlers starting late
        assert sum(1 for u in starts if t <= u < t + 0.45) <= 3


def test_a_budget_and_a_rate_limit_together() -> None:
    class Metered(Agent):
        def estimate_usage(self, task: Any) -> tuple[float, int]:
            return 0.4, 10

    async def call(ctx: Any) -> str:
        ctx.record_usage(prompt_tokens=5, completion_tokens=5, cost=0.4)
        return "ok"

    wf = Workflow("b", budget={"max_cost": 1.0}, rate_limit={"requests": 100})
    for i in range(4):
        wf.task(f"t{i}", capability="m")
    orch = podium.Orchestrator()
    orch.register(Metered("m", ["m"], 1, handler=call))
    result = orch.run_sync(wf)
    assert result.status == "budget_exceeded"
    assert sum(t.status == "completed" for t in result.tasks.values()) == 2
