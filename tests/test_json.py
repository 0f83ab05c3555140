"""The JSON check applied to task inputs and handler results."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from podium._json import json_problem


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
