"""Agents: the function and class forms, their options, states and statistics."""

from __future__ import annotations

from typing import Any

import pytest

import podium
from podium import Agent, AgentState


async def research(ctx: Any) -> dict[str, Any]:
    return {"found": ctx.input["query"]}


def count(ctx: Any) -> int:
    return 1


def test_function_agent_defaults() -> None:
    a = Agent(capabilities=["research"], handler=research)
    assert a.name == "research" and a.capabilities == ("research",)
    assert a.capacity == 10 and a.executor == "async"
    assert a.state is AgentState.CREATED and a.load == 0


def test_sync_handlers_run_in_threads_unless_inline() -> None:
    assert Agent("a", ["x"], handler=count).executor == "thread"
    assert Agent("a", ["x"], handler=count, executor="inline").executor == "inline"
    # a sync callable asked to run on the loop runs inline
    assert Agent("a", ["x"], handler=count, executor="async").executor == "inline"


def test_async_callable_object_is_async() -> None:
    class Callable:
        async def __call__(self, ctx: Any) -> int:
            return 1

    assert Agent("a", ["x"], handler=Callable()).executor == "async"


def test_a_single_capability_string() -> None:
    assert Agent("a", "research", handler=count).capabilities == ("research",)


def test_subclass_with_class_attributes() -> None:
    class Writer(Agent):
        name = "writer"
        capabilities = ("write", "edit")
        capacity = 3
        estimated_time = 2.0

        async def handle(self, ctx: Any) -> str:
            return "text"

    w = Writer()
    assert (w.name, w.capabilities, w.capacity, w.estimated_time) == (
        "writer",
        ("write", "edit"),
        3,
        2.0,
    )
    assert w.executor == "async"
    other = Writer(name="w2", capacity=5)
    assert (other.name, other.capacity, other.capabilities) == ("w2", 5, ("write", "edit"))


def test_subclass_name_defaults_to_the_class_name() -> None:
    class Reviewer(Agent):
        capabilities = ["review"]

        def handle(self, ctx: Any) -> bool:
            return True

    r = Reviewer()
    assert r.name == "Reviewer" and r.executor == "thread"


def test_agent_without_a_handler() -> None:
    with pytest.raises(podium.ValidationError) as e:
        Agent("lonely", ["x"])
    assert "'lonely'" in str(e.value) and "handle(self, ctx)" in str(e.value)
    assert e.value.field == "handler"


@pytest.mark.parametrize("capacity", [0, -1, 1.5, "4"])
def test_capacity_must_be_a_positive_whole_number(capacity: Any) -> None:
    with pytest.raises(podium.ValidationError) as e:
        Agent("a", ["x"], capacity, handler=count)
    assert "'a'" in str(e.value) and "capacity" in str(e.value)
    assert e.value.field == "capacity"


def test_unknown_executor() -> None:
    with pytest.raises(podium.ValidationError) as e:
        Agent("a", ["x"], handler=count, executor="process")
    assert "'process'" in str(e.value) and "async, thread, inline" in str(e.value)
    assert e.value.field == "executor"


def test_statistics_before_and_after_work() -> None:
    a = Agent("a", ["x"], capacity=2, handler=count)
    assert (a.success_rate, a.failure_rate, a.avg_latency) == (1.0, 0.0, 0.0)
    a.completed, a.failed, a.total_latency = 3, 1, 2.0
    assert (a.success_rate, a.failure_rate, a.avg_latency) == (0.75, 0.25, 0.5)
    assert a.stats() == {
        "name": "a",
        "capabilities": ["x"],
        "capacity": 2,
        "state": "created",
        "load": 0,
        "completed": 3,
        "failed": 1,
        "success_rate": 0.75,
        "avg_latency": 0.5,
    }


def test_only_idle_and_running_agents_take_work() -> None:
    a = Agent("a", ["x"], handler=count)
    for state in AgentState:
        a.state = state
        assert a.takes_work == (state in (AgentState.IDLE, AgentState.RUNNING))


# -- registering with an orchestrator --------------------------------------------------------


def test_register_forms() -> None:
    orch = podium.Orchestrator()

    @orch.agent(name="fn", capabilities=["x"], capacity=2)
    async def fn(ctx: Any) -> int:
        return 1

    class Sub(Agent):
        capabilities = ["y"]

        def handle(self, ctx: Any) -> int:
            return 2

    class Plain:
        capabilities = ["z"]
        capacity = 7

        def handle(self, ctx: Any) -> int:
            return 3

    assert fn.__name__ == "fn"  # the decorator returns the function unchanged
    orch.register(Sub)
    orch.register(Plain)
    orch.register(Sub(name="sub2"))
    orch.register(count, name="counter", capabilities=["w"])
    agents = orch.agents
    assert set(agents) == {"fn", "Sub", "Plain", "sub2", "counter"}
    assert agents["fn"].capacity == 2 and agents["fn"].capabilities == ("x",)
    assert agents["Plain"].capabilities == ("z",) and agents["Plain"].capacity == 7
    assert agents["counter"].executor == "thread"


def test_register_rejects_options_for_a_built_agent() -> None:
    with pytest.raises(podium.ValidationError, match="already built"):
        podium.Orchestrator().register(Agent("a", ["x"], handler=count), capacity=3)


def test_register_class_without_handle() -> None:
    class Nothing:
        pass

    with pytest.raises(podium.HandlerError, match=r"Nothing has no handle\(self, ctx\)"):
        podium.Orchestrator().register(Nothing)


def test_register_something_not_callable() -> None:
    with pytest.raises(podium.HandlerError, match="not callable and has no handle") as e:
        podium.Orchestrator().register(42)
    assert "Register a function, a class or an object with handle()" in str(e.value)


def test_register_an_object_with_handle_keeps_its_state() -> None:
    class Counter:
        capabilities = ["count"]

        def __init__(self) -> None:
            self.seen = 0

        def handle(self, ctx: Any) -> int:
            self.seen += 1
            return self.seen

    counter = Counter()
    orch = podium.Orchestrator()
    agent = orch.register(counter, name="counter")
    assert agent.capabilities == ("count",)
    wf = podium.Workflow("w")
    wf.task("a", capability="count")
    wf.task("b", capability="count", depends_on=["a"])
    assert orch.run_sync(wf)["b"] == 2 and counter.seen == 2


class _Methods:
    def handle(self, ctx: Any) -> int:
        return 1


def _no_ctx() -> int:
    return 1


def _two(ctx: Any, extra: Any) -> int:
    return 1


@pytest.mark.parametrize(
    ("handler", "shown"),
    [
        (_no_ctx, "_no_ctx()"),
        (_two, "_two(ctx, extra)"),
        (lambda: 1, "<lambda>()"),
        (_Methods.handle, "_Methods.handle(self, ctx)"),
    ],
)
def test_a_handler_that_cannot_take_ctx_is_refused_when_registered(
    handler: Any, shown: str
) -> None:
    with pytest.raises(podium.ValidationError) as e:
        podium.Orchestrator().register(handler, name="bot", capabilities=["x"])
    msg = str(e.value)
    assert f"agent 'bot': handler {shown} cannot be called as handler(ctx)" in msg
    assert "def handler(ctx)" in msg and e.value.field == "handler"


def test_a_subclass_whose_handle_takes_no_ctx_is_refused() -> None:
    class Bot(Agent):
        def handle(self) -> int:  # type: ignore[override]
            return 1

    with pytest.raises(podium.ValidationError, match=r"handler Bot.handle\(\) cannot be called"):
        Bot(capabilities=["x"])


@pytest.mark.parametrize(
    "handler",
    [lambda ctx: 1, _Methods().handle, lambda *args: 1, lambda ctx, extra=None: 1, print],
)
def test_handlers_that_take_ctx_are_accepted(handler: Any) -> None:
    assert Agent("bot", ["x"], handler=handler).name == "bot"
