"""Code named by data: ``"module:attr"`` references in workflow files (handlers, pattern
functions). The one place where a file makes podium import something, so the rules about
where that code may come from live here.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import HandlerError

__all__ = ["import_ref", "where"]


def where(file: str | None, task: str | None = None, agent: str | None = None) -> str:
    """The start of a message: ``"flow.yaml: task 'a': "``."""
    out = f"{file}: " if file else ""
    if agent is not None:
        out += f"agent {agent!r}: "
    if task is not None:
        out += f"task {task!r}: "
    return out


def import_ref(
    ref: str,
    *,
    label: str,
    base: Path | None = None,
    file: str | None = None,
    task: str | None = None,
    agent: str | None = None,
    field: str,
) -> Any:
    """Import ``module:attr`` (``attr`` may be dotted); ``base`` (the workflow's folder) is
    searched first. Errors are `HandlerError`s that start with ``label`` (``handler 'm:f'``)
    and name the file, task or agent, and ``field``."""
    at = where(file, task, agent) + label
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise HandlerError(
            f"{at} must look like 'module:function' or 'module:Class'.",
            file=file,
            task=task,
            field=field,
        )
    for folder in (str(base) if base else None, os.getcwd()):
        # A plain folder goes first, so the user's my_agents.py beats an installed namesake.
        # A package's folder never goes on sys.path: its modules would shadow top-level ones
        # (its handlers are named by their package, like podium.demo.agents:research).
        if folder and folder not in sys.path and not os.path.exists(f"{folder}/__init__.py"):
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise HandlerError(
            f"{at}: cannot import module {exc.name!r}. Put {module_name}.py next to the "
            "workflow file or install the package that provides it.",
            file=file,
            task=task,
            field=field,
        ) from None
    except Exception as exc:
        raise HandlerError(
            f"{at}: importing {module_name!r} raised {type(exc).__name__}: {exc}",
            file=file,
            task=task,
            field=field,
        ) from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise HandlerError(
                f"{at}: module {module_name!r} has no {attr!r}.",
                file=file,
                task=task,
                field=field,
            ) from None
    return obj
