"""Agents changed while a run is live: pause, resume, add, terminate, heartbeats, pools."""

from __future__ import annotations

import asyncio

import pytest

import podium
from podium import AgentState
from podium.agents.pool import AgentPool


def fanout(n: int, capability: str = "x", **wf_options) -> podium.Workflow:
    wf = podium.Workflow("live", **wf_options)
    for i in range(n):
        wf.task(f"t{i}", capability=capability)
    return wf


async def wait_for(predicate, limit: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        assert loop.time() < end, "condition never held"
        await asyncio.sleep(0.005)


async def test_paused_agent_gets_no_new_tasks_and_resume_lets_it_work(orch):
    ran: list[str] = []
    gate = asyncio.Event()

    @orch.agent(name="a", capabilities=["x"], capacity=1)
    async def a(ctx):
        ran.append("a")
        await gate.wait()
        return "a"

    run = orch.prepare(fanout(3))
    task = asyncio.create_task(orch.execute(run))
    await wait_for(lambda: ran == ["a"])
    orch.pause_agent("a")
    assert orch.agents["a"].state is AgentState.PAUSED
    gate.set()
    await wait_for(lambda: run.n_completed == 1)
    await asyncio.sleep(0.05)
    assert ran == ["a"]  # paused: the finished slot was not refilled
    orch.resume_agent("a")
    result = await task
    assert result.status == "completed"
    assert ran == ["a", "a", "a"]
    kinds = [e["event"] for e in run.events]
    assert kinds == ["agent_paused", "agent_resumed"]


async def test_added_agent_picks_up_queued_tasks_at_once(orch):
    @orch.agent(name="slow", capabilities=["x"], capacity=1)
    async def slow(ctx):
        await asyncio.sleep(10)
        return "slow"

    run = orch.prepare(fanout(4))
    task = asyncio.create_task(orch.execute(run))
    await wait_for(lambda: run.n_running == 1)

    async def fast(ctx):
        return "fast"

    await orch.add_agent(fast, name="fast", capabilities=["x"], capacity=4)
    await wait_for(lambda: run.n_completed == 3)
    assert {run.records[f"t{i}"].agent for i in range(4)} >= {"fast"}
    await orch.terminate_agent("slow")  # its task moves to "fast"
    result = await task
    assert result.status == "completed"
    assert {t.agent for t in result.tasks.values()} == {"fast"}


async def test_terminated_agent_task_is_reassigned_and_torn_down(orch):
    torn: list[str] = []

    class Slow(podium.Agent):
        capabilities = ["x"]
        capacity = 1

        async def handle(self, ctx):
            await asyncio.sleep(10)

        async def teardown(self):
            torn.append(self.name)

    orch.register(Slow(name="doomed"))

    @orch.agent(name="other", capabilities=["x"], capacity=1)
    async def other(ctx):
        return "other"

    run = orch.prepare(fanout(1))
    # make "doomed" take it first: "other" is paused until the task started
    orch.pause_agent("other")
    task = asyncio.create_task(orch.execute(run))
    await wait_for(lambda: run.records["t0"].agent == "doomed")
    orch.resume_agent("other")
    await orch.terminate_agent("doomed")
    result = await task
    t = result.tasks["t0"]
    assert (t.status, t.agent, t.attempts) == ("completed", "other", 2)
    assert torn == ["doomed"]
    assert "doomed" not in orch.agents
    assert any(
        e["event"] == "agent_terminated" and e["agent"] == "doomed" and e["moved"] == 1
        for e in run.events
    )


async def test_agent_that_misses_heartbeats_goes_to_error_and_loses_its_task(orch):
    @orch.agent(name="mute", capabilities=["x"], capacity=1, heartbeat_timeout=0.1)
    async def mute(ctx):
        await asyncio.sleep(10)

    @orch.agent(name="alive", capabilities=["x"], capacity=1)
    async def alive(ctx):
        return "alive"

    orch.pause_agent("alive")
    run = orch.prepare(fanout(1))
    task = asyncio.create_task(orch.execute(run))
    await wait_for(lambda: run.records["t0"].agent == "mute")
    orch.resume_agent("alive")
    result = await task
    assert result.tasks["t0"].agent == "alive"
    assert orch.agents["mute"].state is AgentState.ERROR
    assert [e["event"] for e in run.events if e["agent"] == "mute"] == ["agent_error"]
    orch.agents["mute"].heartbeat()
    assert orch.agents["mute"].state is AgentState.IDLE


async def test_heartbeats_keep_an_agent_alive(orch):
    @orch.agent(name="chatty", capabilities=["x"], capacity=1, heartbeat_timeout=0.3)
    async def chatty(ctx):
        agent = ctx.run.agents[ctx.agent]
        for _ in range(12):  # alive for 0.6 s, twice the timeout, with a beat every 0.05 s
            agent.heartbeat()
            await asyncio.sleep(0.05)
        return "done"

    result = await orch.run(fanout(1))
    assert result.tasks["t0"].attempts == 1
    assert orch.agents["chatty"].state is AgentState.IDLE


async def test_pool_grows_while_tasks_wait_and_records_decisions(orch):
    used: set[str] = set()

    @orch.agent(name="w", capabilities=["x"], capacity=2, replicas={"min": 1, "max": 3})
    async def work(ctx):
        used.add(ctx.agent)
        await asyncio.sleep(0.15)
        return ctx.agent

    assert [a.name for a in orch.agents.values()] == ["w-1"]
    run = orch.prepare(fanout(12))
    result = await orch.execute(run)
    assert result.status == "completed"
    assert used == {"w-1", "w-2", "w-3"}
    ups = [e for e in run.events if e["event"] == "scale_up"]
    assert [e["replicas"] for e in ups] == [2, 3]
    assert all(e["pool"] == "w" and e["waiting"] > 0 for e in ups)


async def test_pool_shrinks_when_idle(orch):
    @orch.agent(name="w", capabilities=["x"], capacity=1, replicas={"min": 1, "max": 4})
    async def work(ctx):
        await asyncio.sleep(0.05 if ctx.task_id != "last" else 0.6)
        return ctx.agent

    orch.pools["w"].idle_timeout = 0.1
    wf = fanout(4)
    wf.task("last", capability="x", depends_on=[f"t{i}" for i in range(4)])
    run = orch.prepare(wf)
    await orch.execute(run)
    downs = [e for e in run.events if e["event"] == "scale_down"]
    assert downs, run.events
    assert len(orch.pools["w"].live()) < 4


def test_pool_decisions_are_pure():
    tmpl = podium.Agent("p", ["x"], capacity=2, handler=lambda ctx: None)
    pool = AgentPool(tmpl, 1, 4, idle_timeout=1.0)
    assert pool.decide(0, 0.0) == (1, [])  # below its floor
    r1 = pool.new_replica()
    r1.state = AgentState.IDLE
    assert pool.decide(2, 0.0) == (0, [])  # fits in free capacity
    assert pool.decide(7, 0.0) == (3, [])  # 5 over capacity -> 3 replicas of 2 (capped at 4)
    r2 = pool.new_replica()
    r2.state = AgentState.IDLE
    r2.idle_since = 0.0
    assert pool.decide(0, 0.5) == (0, [])  # not idle long enough
    assert pool.decide(0, 2.0) == (0, [r2])  # newest idle replica goes, down to min
    r2.load = 1
    assert pool.decide(0, 3.0) == (0, [])  # busy replicas stay


def test_replicas_setting_is_checked():
    with pytest.raises(podium.ValidationError, match="replicas needs whole numbers"):
        podium.Agent("p", ["x"], handler=lambda ctx: None, replicas={"min": 3, "max": 2})


async def test_control_of_unknown_agent_names_it(orch):
    with pytest.raises(podium.ValidationError, match="no agent named 'ghost'"):
        orch.pause_agent("ghost")


async def test_pool_from_workflow_file(write_file, orch):
    write_file(
        "pool_agents.py",
        "import asyncio\n\n\nasync def work(ctx):\n"
        "    await asyncio.sleep(0.1)\n    return ctx.agent\n",
    )
    flow = write_file(
        "flow.yaml",
        """
name: pooled
agents:
  - name: w
    capabilities: [x]
    capacity: 1
    replicas: {min: 1, max: 3}
    handler: pool_agents:work
tasks:
"""
        + "".join(f"  - {{id: t{i}, capability: x}}\n" for i in range(6)),
    )
    result = await orch.run(flow)
    assert result.status == "completed"
    assert len({t.agent for t in result.tasks.values()}) > 1


async def test_agents_from_a_workflow_file_can_be_controlled_and_watched(write_file, orch):
    write_file(
        "file_agents.py",
        "import asyncio\n\n\nasync def mute(ctx):\n    await asyncio.sleep(10)\n\n\n"
        "async def fine(ctx):\n    return 'fine'\n",
    )
    flow = write_file(
        "flow.yaml",
        """
name: watched
agents:
  - {name: mute, capabilities: [x], capacity: 1, heartbeat_timeout: 0.1,
     handler: "file_agents:mute"}
  - {name: fine, capabilities: [x], capacity: 1, handler: "file_agents:fine"}
tasks:
  - {id: t0, capability: x}
""",
    )
    run = orch.prepare(flow)
    run.agents["fine"].state = AgentState.PAUSED  # so that "mute" takes the task
    task = asyncio.create_task(orch.execute(run))
    await wait_for(lambda: run.records["t0"].agent == "mute")
    orch.resume_agent("fine")  # a file agent, found through the live run
    result = await task
    assert result.tasks["t0"].agent == "fine"
    assert run.agents["mute"].state is AgentState.ERROR
    assert [e["event"] for e in run.events if e["agent"] == "mute"] == ["agent_error"]


async def test_heartbeat_clock_starts_with_the_run(orch):
    @orch.agent(name="early", capabilities=["x"], capacity=1, heartbeat_timeout=1.0)
    async def early(ctx):
        await asyncio.sleep(0.2)  # a few supervisor checks, well inside the timeout
        return "early"

    orch.agents["early"].last_heartbeat -= 60  # registered long before the run
    result = await asyncio.wait_for(orch.run(fanout(1)), 5)
    assert result.tasks["t0"].agent == "early"
    assert orch.agents["early"].state is AgentState.IDLE


async def test_waiting_tasks_go_to_an_agent_back_from_error(orch):
    @orch.agent(name="flaky", capabilities=["x"], capacity=1, heartbeat_timeout=0.1)
    async def flaky(ctx):
        return "flaky"

    orch.agents["flaky"].state = AgentState.ERROR  # as after missed heartbeats
    run = orch.prepare(fanout(2))
    task = asyncio.create_task(orch.execute(run))
    await asyncio.sleep(0.2)
    assert run.n_completed == 0
    orch.agents["flaky"].heartbeat()  # nothing else tells the run
    result = await asyncio.wait_for(task, 10)
    assert result.status == "completed"


async def test_a_subtask_pinned_to_a_terminated_agent_ends_instead_of_waiting_forever(orch):
    # consensus pins a participant to each agent: one of them goes away mid-run (running its
    # vote), another before its vote started. The pattern hears of both and decides.
    gate = asyncio.Event()
    started: list[str] = []

    for name in ("a", "b", "c"):

        @orch.agent(name=name, capabilities=["v"], capacity=1)
        async def vote(ctx):
            started.append(ctx.task_id)
            await gate.wait()
            return "yes"

    @orch.agent(name="busy", capabilities=["w"], capacity=1)
    async def busy(ctx):
        await gate.wait()
        return "done"

    wf = podium.Workflow("live", on_failure="continue")
    wf.task("x", capability="v", pattern="consensus", options={"agents": 3, "on_error": "abstain"})
    wf.task("later", agent="busy", pattern="delegation", options={"subtasks": [{}, {}]})
    run = orch.prepare(wf)
    job = asyncio.create_task(orch.execute(run))
    await wait_for(lambda: len(started) == 3 and "later/1" in run.records)
    await orch.terminate_agent("c")  # running "x/c"
    await orch.terminate_agent("busy")  # running "later/1"; "later/2" waits for it
    gate.set()
    result = await asyncio.wait_for(job, 5)
    x = result.tasks["x/c"]
    assert x.status == "cancelled"
    assert x.error == "cancelled: agent 'c', which it was pinned to, was terminated"
    assert result["x"]["votes"] == {"a": "yes", "b": "yes", "c": None}
    assert result.tasks["later/2"].status == "skipped"
    assert "agent 'busy', which it was pinned to, was terminated" in result.tasks["later"].error


async def test_an_agent_paused_before_its_first_run_starts_paused(orch):
    @orch.agent(name="held", capabilities=["x"], capacity=1)
    async def held(ctx):
        return "held"

    @orch.agent(name="other", capabilities=["x"], capacity=1)
    async def other(ctx):
        return "other"

    orch.pause_agent("held")  # not set up yet (state created)
    result = await orch.run(fanout(3))
    assert {t.agent for t in result.tasks.values()} == {"other"}
    assert orch.agents["held"].state is AgentState.PAUSED
    orch.resume_agent("held")
    assert orch.agents["held"].state is AgentState.IDLE
