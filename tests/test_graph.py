"""Graph analysis: structure checks, topological order, cycles with their path, ranks."""

from __future__ import annotations

import itertools

import pytest

import podium
from podium.spec import graph as _graph
from podium.spec.workflow import Workflow


def wf_of(edges: dict[str, list[str]], source: str | None = None) -> Workflow:
    wf = Workflow("g", source=source)
    for tid, deps in edges.items():
        wf.task(tid, capability="x", depends_on=deps)
    return wf


def order_ids(wf: Workflow) -> list[str]:
    return [t.id for t in _graph.topological_order(wf.tasks, wf.source)]


# -- structure -------------------------------------------------------------------------------


def test_duplicate_task_id() -> None:
    wf = Workflow("g", source="flow.yaml")
    wf.task("a", capability="x")
    wf.task("a", capability="y")
    with pytest.raises(podium.ValidationError) as e:
        _graph.check_structure(wf)
    err = e.value
    assert "flow.yaml" in str(err) and "'a'" in str(err) and "more than once" in str(err)
    assert (err.file, err.task, err.field) == ("flow.yaml", "a", "id")


def test_missing_dependency() -> None:
    wf = wf_of({"a": [], "b": ["a", "nope"]}, source="flow.yaml")
    with pytest.raises(podium.ValidationError) as e:
        _graph.check_structure(wf)
    err = e.value
    msg = str(err)
    assert "flow.yaml" in msg and "task 'b'" in msg and "'nope'" in msg and "depends_on" in msg
    assert (err.file, err.task, err.field) == ("flow.yaml", "b", "depends_on")


def test_repeated_dependency() -> None:
    wf = wf_of({"a": [], "b": ["a", "a"]})
    with pytest.raises(podium.ValidationError, match=r"task 'b'.*'a' more than once") as e:
        _graph.check_structure(wf)
    assert (e.value.task, e.value.field) == ("b", "depends_on")


def test_empty_workflow() -> None:
    with pytest.raises(podium.ValidationError, match=r"'g' has no tasks") as e:
        _graph.check_structure(Workflow("g"))
    assert e.value.field == "tasks"


def test_well_formed_workflow_passes() -> None:
    _graph.check_structure(wf_of({"a": [], "b": ["a"], "c": ["a", "b"]}))


# -- order and cycles ------------------------------------------------------------------------


def test_topological_order_puts_dependencies_first_and_is_stable() -> None:
    wf = wf_of({"d": ["b", "c"], "b": ["a"], "c": ["a"], "a": [], "e": []})
    order = order_ids(wf)
    assert order == ["a", "e", "b", "c", "d"]
    pos = {t: i for i, t in enumerate(order)}
    for t in wf.tasks.values():
        assert all(pos[d] < pos[t.id] for d in t.depends_on)


def test_two_task_cycle_shows_its_path() -> None:
    wf = wf_of({"a": ["b"], "b": ["a"], "c": []}, source="flow.yaml")
    with pytest.raises(podium.CycleError) as e:
        order_ids(wf)
    err = e.value
    assert "'a' -> 'b' -> 'a'" in str(err) and "flow.yaml" in str(err)
    assert err.cycle == ["a", "b", "a"]
    assert (err.file, err.task, err.field) == ("flow.yaml", "a", "depends_on")
    assert isinstance(err, podium.ValidationError)


def test_self_cycle() -> None:
    wf = wf_of({"a": ["a"]})
    with pytest.raises(podium.CycleError) as e:
        order_ids(wf)
    assert "'a' -> 'a'" in str(e.value) and e.value.cycle == ["a", "a"]


def test_longer_cycle_behind_a_good_prefix() -> None:
    wf = wf_of({"start": [], "x": ["start", "z"], "y": ["x"], "z": ["y"], "tail": ["z"]})
    with pytest.raises(podium.CycleError) as e:
        order_ids(wf)
    cycle = e.value.cycle
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["x", "y", "z"]
    assert " -> ".join(repr(c) for c in cycle) in str(e.value)
    # each task on the path depends on the next one
    for a, b in itertools.pairwise(cycle):
        assert b in wf.tasks[a].depends_on


# -- ranks and the critical path -------------------------------------------------------------


def test_ranks_are_the_longest_remaining_path() -> None:
    wf = wf_of({"a": [], "b": ["a"], "c": ["b"], "d": ["a"], "e": []})
    ranks = _graph.ranks(_graph.topological_order(wf.tasks), lambda t: 1.0)
    assert ranks == {"a": 3.0, "b": 2.0, "c": 1.0, "d": 1.0, "e": 1.0}


def test_weighted_ranks() -> None:
    wf = wf_of({"a": [], "slow": ["a"], "quick1": ["a"], "quick2": ["quick1"]})
    w = {"a": 1.0, "slow": 5.0, "quick1": 1.0, "quick2": 1.0}
    ranks = _graph.ranks(_graph.topological_order(wf.tasks), lambda t: w[t.id])
    assert ranks["a"] == 6.0 and ranks["slow"] == 5.0 and ranks["quick1"] == 2.0


def test_critical_path() -> None:
    wf = wf_of({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]})
    dur = {"a": 1.0, "b": 1.0, "c": 4.0, "d": 2.0}
    path, length = _graph.critical_path(_graph.topological_order(wf.tasks), lambda t: dur[t.id])
    assert path == ["a", "c", "d"] and length == 7.0
    assert _graph.critical_path([], lambda t: 1.0) == ([], 0.0)
