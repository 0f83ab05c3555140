"""The scheduler on its own: ready tasks + agents -> assignments. No event loop, no sleeping."""

from __future__ import annotations

from typing import Any

import pytest

import podium
from podium.agents import Agent, AgentState
from podium.engine.scheduler import LeastLoaded, RoundRobin, Scheduler, Scored, make_strategy
from podium.spec import graph as _graph
from podium.spec.workflow import Task, Workflow


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rec:
    """The least a scheduler needs of a task record."""

    def __init__(self, sched: Scheduler, task: Task, rank: float = 0.0, tried: Any = None):
        self.task = task
        self.id = task.id
        self.rank = rank
        self.route = sched.route_for(task)
        self.tried = tried

    def __repr__(self) -> str:
        return f"Rec({self.id!r})"


def agent(name: str, caps: tuple[str, ...] = ("x",), capacity: int = 1, **kw: Any) -> Agent:
    a = Agent(name, caps, capacity, handler=lambda ctx: None, **kw)
    a.state = AgentState.IDLE  # as after setup()
    return a


def push(sched: Scheduler, tid: str, cap: str = "x", rank: float = 0.0, **kw: Any) -> Rec:
    rec = Rec(sched, Task(tid, capability=cap, **kw), rank=rank)
    sched.push(rec)
    return rec


def assign(sched: Scheduler) -> list[tuple[str, str]]:
    out: list[tuple[Any, Agent]] = []
    n = sched.assign(out)
    assert n == len(out)
    return [(rec.id, a.name) for rec, a in out]


def serial_order(sched: Scheduler) -> list[str]:
    """Assign one task at a time (capacity 1), releasing it before the next."""
    order = []
    while True:
        out: list[tuple[Any, Agent]] = []
        sched.assign(out)
        if not out:
            return order
        assert len(out) == 1
        rec, a = out[0]
        order.append(rec.id)
        sched.release(a, True)


# -- ordering --------------------------------------------------------------------------------


def test_priority_orders_ready_tasks() -> None:
    s = Scheduler([agent("a")])
    push(s, "low", priority="low")
    push(s, "high", priority="high")
    push(s, "critical", priority="critical")
    push(s, "medium", priority="medium")
    push(s, "seven", priority=7)
    assert serial_order(s) == ["critical", "high", "seven", "medium", "low"]


def test_rank_orders_equal_priorities_longest_path_first() -> None:
    s = Scheduler([agent("a")])
    push(s, "r1", rank=1.0)
    push(s, "r3", rank=3.0)
    push(s, "r2", rank=2.0)
    assert serial_order(s) == ["r3", "r2", "r1"]


def test_priority_beats_rank() -> None:
    s = Scheduler([agent("a")])
    push(s, "long-low", rank=100.0, priority="low")
    push(s, "short-high", rank=1.0, priority="high")
    assert serial_order(s) == ["short-high", "long-low"]


def test_ties_are_fifo() -> None:
    s = Scheduler([agent("a")])
    for i in range(20):
        push(s, f"t{i}", rank=2.0)
    assert serial_order(s) == [f"t{i}" for i in range(20)]


def test_ranks_from_the_graph_order_the_queue() -> None:
    # 'a' starts a chain of three; 'b' stands alone: 'a' has the longer remaining path
    wf = Workflow("w")
    wf.task("b", capability="x")
    wf.task("a", capability="x")
    wf.task("a2", capability="x", depends_on=["a"])
    wf.task("a3", capability="x", depends_on=["a2"])
    order = _graph.topological_order(wf.tasks)
    ranks = _graph.ranks(order, lambda t: 1.0)
    assert ranks == {"a": 3.0, "a2": 2.0, "a3": 1.0, "b": 1.0}
    s = Scheduler([agent("ag")])
    push(s, "b", rank=ranks["b"])
    push(s, "a", rank=ranks["a"])
    assert serial_order(s) == ["a", "b"]


def test_estimated_time_weights_the_rank() -> None:
    # one slow task (10 s) outranks a chain of three quick ones (1 s each)
    wf = Workflow("w")
    wf.task("q1", capability="quick")
    wf.task("q2", capability="quick", depends_on=["q1"])
    wf.task("q3", capability="quick", depends_on=["q2"])
    wf.task("slow", capability="slow")
    weight = {"quick": 1.0, "slow": 10.0}
    ranks = _graph.ranks(_graph.topological_order(wf.tasks), lambda t: weight[t.capability])
    assert ranks["slow"] == 10.0 and ranks["q1"] == 3.0
    s = Scheduler([agent("q", ("quick",)), agent("s", ("slow",))], max_concurrency=1)
    push(s, "q1", cap="quick", rank=ranks["q1"])
    push(s, "slow", cap="slow", rank=ranks["slow"])
    assert serial_order(s) == ["slow", "q1"]


def test_priority_holds_across_routes_under_max_concurrency() -> None:
    s = Scheduler(
        [agent("a", ("x",), capacity=10), agent("b", ("y",), capacity=10)], max_concurrency=1
    )
    push(s, "x-low", cap="x", priority="low")
    push(s, "y-medium", cap="y", priority="medium")
    push(s, "x-high", cap="x", priority="high")
    push(s, "y-critical", cap="y", priority="critical")
    assert serial_order(s) == ["y-critical", "x-high", "y-medium", "x-low"]


def test_a_full_route_does_not_block_another() -> None:
    s = Scheduler([agent("a", ("x",)), agent("b", ("y",))])
    push(s, "x1", cap="x", priority="critical")
    push(s, "x2", cap="x", priority="critical")
    push(s, "y1", cap="y", priority="low")
    assert assign(s) == [("x1", "a"), ("y1", "b")]
    assert s.waiting() == 1


# -- capacity --------------------------------------------------------------------------------


def test_agent_capacity_holds() -> None:
    a, b = agent("a", capacity=2), agent("b", capacity=3)
    s = Scheduler([a, b])
    for i in range(10):
        push(s, f"t{i}")
    got = assign(s)
    assert len(got) == 5
    assert (a.load, b.load) == (2, 3)
    assert [n for _, n in got].count("a") == 2
    assert assign(s) == []
    assert s.waiting() == 5
    s.release(b, True)
    assert [n for _, n in assign(s)] == ["b"]
    assert (a.load, b.load) == (2, 3)


def test_max_concurrency_holds() -> None:
    a, b = agent("a", ("x",), capacity=10), agent("b", ("y",), capacity=10)
    s = Scheduler([a, b], max_concurrency=3)
    for i in range(5):
        push(s, f"x{i}", cap="x")
        push(s, f"y{i}", cap="y")
    assert len(assign(s)) == 3
    assert s.running == 3 and a.load + b.load == 3
    assert assign(s) == []
    s.release(a if a.load else b, True)
    assert len(assign(s)) == 1
    assert s.running == 3


def test_capacity_and_limit_hold_through_many_rounds() -> None:
    agents = [agent(f"a{i}", capacity=i + 1) for i in range(4)]  # 10 slots in all
    s = Scheduler(agents, max_concurrency=7)
    for i in range(200):
        push(s, f"t{i}", priority=1 + i % 10, rank=float(i % 7))
    held: list[Agent] = []
    done = 0
    while True:
        out: list[tuple[Any, Agent]] = []
        s.assign(out)
        held.extend(a for _, a in out)
        assert s.running == len(held) <= 7
        assert all(a.load <= a.capacity for a in agents)
        if not held:
            break
        # finish the oldest two
        for a in held[:2]:
            s.release(a, True)
            done += 1
        del held[:2]
    assert done == 200 and s.waiting() == 0


def test_agents_that_do_not_take_work_get_nothing() -> None:
    created = Agent("created", ["x"], handler=lambda ctx: None)  # setup() has not run
    paused, error = agent("paused"), agent("error")
    paused.state, error.state = AgentState.PAUSED, AgentState.ERROR
    s = Scheduler([created, paused, error])
    push(s, "t")
    assert assign(s) == []
    live = agent("live")
    s.add_agent(live)
    assert assign(s) == [("t", "live")]
    assert live.state is AgentState.RUNNING
    s.release(live, True)
    assert live.state is AgentState.IDLE


def test_pinned_task_goes_to_its_agent_only() -> None:
    a, b = agent("a", capacity=5), agent("b", capacity=5)
    s = Scheduler([a, b], strategy="round_robin")
    for i in range(4):
        s.push(Rec(s, Task(f"t{i}", agent="b")))
    assert {n for _, n in assign(s)} == {"b"}


def test_agents_added_and_removed_while_live() -> None:
    s = Scheduler([])
    push(s, "t1")
    assert assign(s) == []  # nobody offers 'x' yet
    a = agent("a")
    s.add_agent(a)
    assert assign(s) == [("t1", "a")]
    s.release(a, True)
    s.remove_agent(a)
    push(s, "t2")
    assert assign(s) == []
    assert [r.id for r in s.drain()] == ["t2"]
    assert s.waiting() == 0


# -- strategies ------------------------------------------------------------------------------


def test_least_loaded_picks_the_smallest_share_of_capacity() -> None:
    a, b = agent("a", capacity=4), agent("b", capacity=10)
    a.load, b.load = 2, 3  # 50% vs 30%
    s = Scheduler([a, b], strategy="least_loaded")
    push(s, "t")
    assert assign(s) == [("t", "b")]
    assert isinstance(make_strategy("least_loaded"), LeastLoaded)


def test_least_loaded_spreads_by_share() -> None:
    a, b = agent("a", capacity=2), agent("b", capacity=4)
    s = Scheduler([a, b], strategy="least_loaded")
    for i in range(6):
        push(s, f"t{i}")
    got = [n for _, n in assign(s)]
    assert got.count("a") == 2 and got.count("b") == 4


def test_round_robin_takes_turns() -> None:
    agents = [agent(n, capacity=100) for n in "abc"]
    s = Scheduler(agents, strategy="round_robin")
    for i in range(9):
        push(s, f"t{i}")
    got = [n for _, n in assign(s)]
    assert sorted(got) == list("aaabbbccc")
    assert all(got[i] != got[i + 1] for i in range(8))
    assert isinstance(make_strategy("round_robin"), RoundRobin)


def test_score_is_the_default_and_avoids_failing_agents() -> None:
    bad, good = agent("bad", capacity=10), agent("good", capacity=10)
    bad.completed, bad.failed = 1, 3
    s = Scheduler([bad, good])
    assert isinstance(s.strategy, Scored)
    push(s, "t")
    assert assign(s) == [("t", "good")]


def test_score_avoids_slow_agents() -> None:
    slow, fast = agent("slow", capacity=10), agent("fast", capacity=10)
    slow.completed, slow.total_latency = 10, 10.0  # 1 s a task
    fast.completed, fast.total_latency = 10, 0.1
    s = Scheduler([slow, fast])
    push(s, "t")
    assert assign(s) == [("t", "fast")]


def test_score_avoids_busy_agents() -> None:
    busy, free = agent("busy", capacity=4), agent("free", capacity=4)
    busy.load = 3
    s = Scheduler([busy, free])
    push(s, "t")
    assert assign(s) == [("t", "free")]


def test_custom_strategy_object() -> None:
    class Last:
        def __init__(self) -> None:
            self.seen: list[tuple[list[str], str]] = []

        def select(self, candidates: list[Agent], task: Task) -> Agent:
            self.seen.append(([a.name for a in candidates], task.id))
            return candidates[-1]

    strat = Last()
    s = Scheduler([agent("a"), agent("b"), agent("c")], strategy=strat)
    push(s, "t")
    assert assign(s) == [("t", "c")]
    assert strat.seen == [(["a", "b", "c"], "t")]


def test_unknown_strategy_names_the_choices() -> None:
    with pytest.raises(podium.ValidationError) as e:
        Scheduler([], strategy="fastest")
    msg = str(e.value)
    assert "'fastest'" in msg and "score" in msg and "least_loaded" in msg
    assert "round_robin" in msg and e.value.field == "strategy"


# -- failover --------------------------------------------------------------------------------


def test_retry_prefers_an_agent_it_has_not_tried() -> None:
    a, b = agent("a", capacity=10), agent("b", capacity=10)
    b.completed, b.failed = 0, 5  # the strategy alone would pick 'a'
    s = Scheduler([a, b])
    rec = Rec(s, Task("t", capability="x"), tried={"a"})
    s.push(rec)
    assert assign(s) == [("t", "b")]


def test_failover_falls_back_to_a_tried_agent_when_it_is_the_only_one_free() -> None:
    a, b = agent("a"), agent("b")
    b.load = 1  # full
    s = Scheduler([a, b])
    s.push(Rec(s, Task("t", capability="x"), tried={"a"}))
    assert assign(s) == [("t", "a")]


def test_failover_with_every_agent_tried_uses_the_strategy() -> None:
    a, b = agent("a", capacity=10), agent("b", capacity=10)
    a.failed = 3
    s = Scheduler([a, b])
    s.push(Rec(s, Task("t", capability="x"), tried={"a", "b"}))
    assert assign(s) == [("t", "b")]


# -- circuit breaker -------------------------------------------------------------------------


def test_breaker_opens_after_n_consecutive_failures() -> None:
    clock = Clock()
    a = agent("a", capacity=5, breaker_failures=3, breaker_cooldown=10.0)
    s = Scheduler([a], clock=clock)
    for _ in range(3):
        push(s, "warm")
    assert len(assign(s)) == 3
    assert s.release(a, False) is None
    assert s.release(a, False) is None
    assert s.release(a, False) == 10.0
    assert a.breaker_until == clock.now + 10.0


def test_a_success_resets_the_failure_count() -> None:
    clock = Clock()
    a = agent("a", capacity=10, breaker_failures=3, breaker_cooldown=10.0)
    s = Scheduler([a], clock=clock)
    for i in range(5):
        push(s, f"t{i}")
    assert len(assign(s)) == 5
    outcomes = [s.release(a, ok) for ok in (False, False, True, False, False)]
    assert outcomes == [None] * 5
    assert not a.breaker_until and a.consecutive_failures == 2


def _open_breaker(clock: Clock, *others: Agent) -> tuple[Scheduler, Agent]:
    a = agent("a", capacity=5, breaker_failures=2, breaker_cooldown=10.0)
    s = Scheduler([a, *others], clock=clock, strategy=LeastLoaded())
    a.load = s.running = 2  # two tasks in flight on 'a'
    s.release(a, False)
    assert s.release(a, False) == 10.0
    return s, a


def test_open_breaker_gets_no_tasks_during_cooldown() -> None:
    clock = Clock()
    s, a = _open_breaker(clock)
    for i in range(3):
        push(s, f"t{i}")
    assert assign(s) == []
    clock.now += 9.999
    assert assign(s) == []
    assert a.load == 0 and s.waiting() == 3


def test_open_breaker_sends_work_to_the_other_agents() -> None:
    clock = Clock()
    b = agent("b", capacity=5)
    s, _ = _open_breaker(clock, b)
    for i in range(3):
        push(s, f"t{i}")
    assert [n for _, n in assign(s)] == ["b", "b", "b"]


def test_after_cooldown_exactly_one_probe() -> None:
    clock = Clock()
    s, a = _open_breaker(clock)
    for i in range(4):
        push(s, f"t{i}")
    clock.now += 10.0
    assert assign(s) == [("t0", "a")]  # capacity 5, yet one probe
    assert a.probing
    clock.now += 100.0
    assert assign(s) == []  # still one while the probe runs


def test_successful_probe_closes_the_breaker() -> None:
    clock = Clock()
    s, a = _open_breaker(clock)
    for i in range(4):
        push(s, f"t{i}")
    clock.now += 10.0
    assert len(assign(s)) == 1
    assert s.release(a, True) is None
    assert not a.breaker_until and not a.probing and a.consecutive_failures == 0
    assert [r for r, _ in assign(s)] == ["t1", "t2", "t3"]


def test_failed_probe_reopens_the_breaker() -> None:
    clock = Clock()
    s, a = _open_breaker(clock)
    for i in range(3):
        push(s, f"t{i}")
    clock.now += 10.0
    assert len(assign(s)) == 1
    assert s.release(a, False) == 10.0  # one failure is enough in half-open
    assert a.breaker_until == clock.now + 10.0 and not a.probing
    assert assign(s) == []
    clock.now += 10.0
    assert assign(s) == [("t1", "a")]


def test_breaker_on_a_multi_agent_route_probes_once() -> None:
    clock = Clock()
    b = agent("b", capacity=1)
    s, a = _open_breaker(clock, b)
    for i in range(4):
        push(s, f"t{i}")
    clock.now += 10.0
    got = [n for _, n in assign(s)]
    assert sorted(got) == ["a", "b"]  # b's one slot and a's single probe
    assert a.load == 1


def test_a_task_that_never_ran_leaves_the_breaker_alone() -> None:
    clock = Clock()
    s, a = _open_breaker(clock)
    push(s, "t0")
    clock.now += 10.0
    assert len(assign(s)) == 1 and a.probing
    assert s.release(a, None) is None  # the probe was dropped before it ran
    assert a.breaker_until and not a.probing and a.consecutive_failures == 2
    push(s, "t1")
    assert assign(s) == [("t1", "a")]  # the next task is the probe


def test_a_dropped_task_keeps_the_failure_count() -> None:
    a = agent("a", capacity=3, breaker_failures=3)
    s = Scheduler([a], clock=Clock())
    for i in range(3):
        push(s, f"t{i}")
    assert len(assign(s)) == 3
    s.release(a, False)
    s.release(a, None)
    assert a.consecutive_failures == 1 and a.load == 1 and s.running == 1


# -- handing a finished agent its next task ----------------------------------------------------


def test_handoff_gives_the_only_agent_its_next_task_on_the_same_capacity() -> None:
    a = agent("a", capacity=1)
    s = Scheduler([a])
    push(s, "t1")
    push(s, "t2", priority="high")
    assert assign(s) == [("t2", "a")]
    a.consecutive_failures = 1
    nxt = s.handoff(a)
    assert nxt is not None and nxt.id == "t1"
    assert (a.load, s.running, a.consecutive_failures) == (1, 1, 0)
    assert s.waiting() == 0 and s.handoff(a) is None  # nothing left: release as usual


def test_handoff_leaves_choices_to_assign() -> None:
    a, b = agent("a"), agent("b")
    s = Scheduler([a, b])
    push(s, "t1")
    push(s, "t2")
    push(s, "t3")
    assign(s)
    assert s.handoff(a) is None  # two candidates: the strategy chooses, not the handoff
    s2 = Scheduler([a, b])
    push(s2, "x1", cap="x")
    push(s2, "y1", agent="b")
    assert s2.handoff(a) is None  # two routes wait: priorities across them decide
    c = agent("c")
    s3 = Scheduler([c])
    push(s3, "t1")
    push(s3, "t2")
    assign(s3)
    c.breaker_until = 1.0  # a probe that succeeds closes the breaker: that is release's job
    assert s3.handoff(c) is None and s3.waiting() == 1
