"""Workflows built in code: Task, Retry and the Workflow builder."""

from __future__ import annotations

import pytest

import podium
from podium.spec.workflow import PRIORITIES, Retry, Task, Workflow, parse_priority


def test_task_defaults() -> None:
    t = Task("a", capability="x")
    assert (t.id, t.capability, t.agent, t.input, t.depends_on) == ("a", "x", None, {}, ())
    assert t.priority == 5 and t.timeout is None and t.retry.max_attempts == 1
    assert t.route == "x"
    assert Task("b", agent="bot").route == "agent:bot"


@pytest.mark.parametrize(("name", "value"), sorted(PRIORITIES.items()))
def test_named_priorities(name: str, value: int) -> None:
    assert Task("a", capability="x", priority=name).priority == value
    assert parse_priority(name) == value


def test_priority_order() -> None:
    assert PRIORITIES["critical"] > PRIORITIES["high"] > PRIORITIES["medium"] > PRIORITIES["low"]


@pytest.mark.parametrize("value", [0, 11, -1, 2.5, True, "urgent", None])
def test_bad_priority(value: object) -> None:
    with pytest.raises(podium.ValidationError) as e:
        Task("a", capability="x", priority=value)  # type: ignore[arg-type]
    assert "task 'a'" in str(e.value) and "priority" in str(e.value)
    assert (e.value.task, e.value.field) == ("a", "priority")


def test_task_needs_a_capability_or_an_agent() -> None:
    with pytest.raises(podium.ValidationError) as e:
        Task("a")
    assert "task 'a'" in str(e.value) and "capability or an agent" in str(e.value)


@pytest.mark.parametrize("tid", ["", None, 3])
def test_task_id_must_be_a_non_empty_string(tid: object) -> None:
    with pytest.raises(podium.ValidationError, match="non-empty string") as e:
        Task(tid, capability="x")  # type: ignore[arg-type]
    assert e.value.field == "id"


@pytest.mark.parametrize("timeout", [0, -1, -0.5])
def test_timeout_must_be_positive(timeout: float) -> None:
    with pytest.raises(podium.ValidationError) as e:
        Task("a", capability="x", timeout=timeout)
    assert "task 'a'" in str(e.value) and "timeout must be a positive" in str(e.value)
    assert e.value.field == "timeout"


def test_retry_from_a_mapping() -> None:
    t = Task("a", capability="x", retry={"max_attempts": 3, "backoff": "fixed"})
    assert t.retry == Retry(max_attempts=3, backoff="fixed")


def test_fixed_backoff() -> None:
    r = Retry(max_attempts=5, backoff="fixed", initial_delay=0.5, jitter=0.0)
    assert [r.delay(n, 0.3) for n in (1, 2, 3)] == [0.5, 0.5, 0.5]


def test_exponential_backoff_is_capped() -> None:
    r = Retry(max_attempts=9, backoff="exponential", initial_delay=0.5, max_delay=3, jitter=0.0)
    assert [r.delay(n, 0.9) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_spreads_around_the_delay() -> None:
    r = Retry(backoff="fixed", initial_delay=1.0, jitter=0.1)
    assert r.delay(1, 0.0) == pytest.approx(0.9)
    assert r.delay(1, 0.5) == pytest.approx(1.0)
    assert r.delay(1, 0.999999) == pytest.approx(1.1, abs=1e-5)


def test_workflow_builder() -> None:
    wf = Workflow("report", on_failure="continue", max_concurrency=3)
    fetch = wf.task("fetch", capability="research", input={"query": "x"})
    wf.task("summary", capability="research", depends_on=["fetch"])
    assert len(wf) == 2 and list(wf.tasks) == ["fetch", "summary"]
    assert wf.tasks["fetch"] is fetch and wf.tasks["summary"].depends_on == ("fetch",)
    assert (wf.on_failure, wf.max_concurrency) == ("continue", 3)


def test_workflow_sequence_chains_tasks() -> None:
    wf = Workflow("w")
    a, b, c = Task("a", capability="x"), Task("b", capability="x"), Task("c", capability="x")
    wf.sequence(a, b, c)
    assert list(wf.tasks) == ["a", "b", "c"]
    assert (a.depends_on, b.depends_on, c.depends_on) == ((), ("a",), ("b",))


def test_workflow_rejects_bad_policies() -> None:
    with pytest.raises(podium.ValidationError, match="on_failure must be") as e:
        Workflow("w", on_failure="stop")
    assert e.value.field == "on_failure"
    with pytest.raises(podium.ValidationError, match="max_concurrency must be at least 1") as e:
        Workflow("w", max_concurrency=0)
    assert e.value.field == "max_concurrency"


def test_duplicate_ids_are_reported_at_validation(orch: podium.Orchestrator) -> None:
    wf = Workflow("w")
    wf.task("a", capability="x")
    wf.task("a", capability="x")  # kept aside, reported with the other structure errors
    assert len(wf) == 1
    orch.register(lambda ctx: 1, name="bot", capabilities=["x"])
    with pytest.raises(podium.ValidationError, match="'a' is used more than once"):
        orch.prepare(wf)


def test_task_to_dict() -> None:
    t = Task(
        "b",
        capability="x",
        input={"q": 1},
        depends_on=["a"],
        priority="high",
        timeout=2,
        retry={"max_attempts": 2},
    )
    d = t.to_dict()
    assert d["id"] == "b" and d["capability"] == "x" and d["input"] == {"q": 1}
    assert d["depends_on"] == ["a"] and d["priority"] == 8 and d["timeout"] == 2
    assert d["retry"]["max_attempts"] == 2
    assert Task("a", agent="bot").to_dict() == {"id": "a", "agent": "bot", "priority": 5}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"retry": {"max_attempt": 3}}, "retry.max_attempt", "Did you mean 'max_attempts'?"),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts", "whole number from 1 to 1000"),
        ({"retry": {"backoff": "linear"}}, "retry.backoff", "'exponential' or 'fixed'"),
        ({"retry": {"initial_delay": -1}}, "retry.initial_delay", "at least 0, not -1"),
        ({"retry": {"jitter": 2}}, "retry.jitter", "from 0 to 1, not 2"),
        ({"retry": 3}, "retry", "a podium.Retry or a mapping"),
        ({"timeout": "5"}, "timeout", "positive number of seconds, not '5'"),
        ({"depends_on": "fetch"}, "depends_on", "not the string 'fetch'"),
        ({"input": {1, 2}}, "input", "input contains a set, which is not JSON"),
        ({"input": {"x": float("nan")}}, "input", "['x']: nan (not a JSON number)"),
    ],
)
def test_bad_task_fields_in_code_name_the_task_and_field(
    fields: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(podium.ValidationError) as e:
        Task("fetch", capability="x", **fields)  # type: ignore[arg-type]
    assert str(e.value).startswith("task 'fetch': ") and message in str(e.value)
    assert e.value.task == "fetch" and e.value.field == field


def test_to_dict_keeps_the_retry_jitter() -> None:
    t = Task("a", capability="x", retry={"max_attempts": 2, "jitter": 0.5})
    assert t.to_dict()["retry"]["jitter"] == 0.5
