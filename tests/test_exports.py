"""The public API: ``podium.__all__`` is sorted and lists exactly what the package exports."""

from __future__ import annotations

import types

import podium


def test_all_is_sorted() -> None:
    assert podium.__all__ == sorted(podium.__all__)


def test_all_matches_the_public_namespace() -> None:
    public = {
        name
        for name, value in vars(podium).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public | {"__version__"} | set(podium._LAZY) == set(podium.__all__)


def test_every_exported_name_exists() -> None:
    for name in podium.__all__:
        assert hasattr(podium, name), name


def test_public_classes_say_they_live_in_podium() -> None:
    for name in podium.__all__:
        obj = getattr(podium, name)
        if isinstance(obj, type):
            assert obj.__module__.startswith("podium."), name


def test_errors_form_one_hierarchy() -> None:
    errors = [
        podium.ValidationError,
        podium.CycleError,
        podium.CapabilityError,
        podium.HandlerError,
        podium.TaskFailed,
        podium.ResultError,
        podium.StoreError,
        podium.PodiumInternalError,
    ]
    for cls in errors:
        assert issubclass(cls, podium.PodiumError)
    assert issubclass(podium.ValidationError, ValueError)
    assert issubclass(podium.CycleError, podium.ValidationError)
    assert issubclass(podium.ResultError, TypeError)
    err = podium.ValidationError("f.yaml: task 'a': bad.", file="f.yaml", task="a", field="x")
    assert err.to_dict() == {
        "error": "ValidationError",
        "message": "f.yaml: task 'a': bad.",
        "file": "f.yaml",
        "task": "a",
        "field": "x",
    }
