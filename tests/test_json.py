"""The JSON check applied to task inputs and handler results."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from podium._utils.json_values import json_problem


class Color(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -3,
        1.5,
        "text",
        [],
        {},
        [1, "a", None, [2, {"k": [True]}]],
        {"a": {"b": [1, 2, {"c": None}]}},
        Color.RED,
    ],
)
def test_json_values_pass(value: Any) -> None:
    assert json_problem(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({1, 2}, "a set"),
        ((1, 2), "a tuple (return a list instead)"),
        (object(), "a object"),
        (b"bytes", "a bytes"),
        ({1: "one"}, "a key 1 (int; JSON keys are strings)"),
        ({"items": [1, 2, {3}]}, "['items'][2]: a set"),
        ([[], [{"a": (1,)}]], "[1][0]['a']: a tuple (return a list instead)"),
        ({"outer": {"inner": {2: 0}}}, "['outer']['inner']: a key 2"),
    ],
)
def test_non_json_values_say_where(value: Any, expected: str) -> None:
    problem = json_problem(value)
    assert problem is not None and problem.startswith(expected)


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinities_are_not_json(number: float) -> None:
    assert json_problem(number) == f"{number!r} (not a JSON number)"
    assert json_problem({"score": [1.5, number]}) == f"['score'][1]: {number!r} (not a JSON number)"


def _nested(depth: int) -> list[Any]:
    top: list[Any] = []
    cur = top
    for _ in range(depth):
        cur.append([])
        cur = cur[0]
    return top


def test_deeply_nested_values_are_a_problem_not_a_crash() -> None:
    assert json_problem(_nested(99)) is None  # 100 lists, one in the other: the limit
    assert "nested deeper than 100 levels" in (json_problem(_nested(100)) or "")
    assert "nested deeper than 100 levels" in (json_problem(_nested(5000)) or "")


@pytest.mark.parametrize(
    ("result", "expected"),
    [(float("nan"), "returned nan (not a JSON number)"), (_nested(5000), "nested deeper than")],
)
def test_a_handler_returning_nan_or_a_too_deep_value_fails_its_task(
    result: Any, expected: str
) -> None:
    import podium

    orch = podium.Orchestrator()
    orch.register(lambda ctx: result, name="w", capabilities=["c"])
    wf = podium.Workflow("w")
    wf.task("a", capability="c")
    run = orch.run_sync(wf)
    assert run.status == "failed"
    assert expected in run.tasks["a"].error
