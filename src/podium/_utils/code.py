"""Code named by data: ``"module:attr"`` references in workflow files (handlers, pattern
functions). The one place where a file makes podium import something, so the rules about
where that code may come from live here.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from ..errors import HandlerError, ValidationError
from .text import did_you_mean

__all__ = ["import_ref", "only_modules", "where"]

# None: any module (a file on disk, code); a set: only these modules and their submodules (a
# workflow that came over the network must not make the server import what it names)
_ALLOWED: ContextVar[frozenset[str] | None] = ContextVar("podium_allowed_modules", default=None)


@contextmanager
def only_modules(allowed: Iterable[str]) -> Iterator[None]:
    """Within the block, `import_ref` refuses modules outside ``allowed`` (and their
    submodules) with a `ValidationError` that names the field."""
    token = _ALLOWED.set(frozenset(allowed))
    try:
        yield
    finally:
        _ALLOWED.reset(token)


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
    allowed = _ALLOWED.get()
    if allowed is not None and not any(
        module_name == m or module_name.startswith(m + ".") for m in allowed
    ):
        raise ValidationError(
            f"{at}: a workflow sent over the network may not name code to import "
            f"(field {field!r}). Route its tasks to agents registered on the server, or start "
            f"the server with --allow-module {module_name.split('.')[0]}.",
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
        missing = exc.name or ""
        if missing != module_name and not module_name.startswith(missing + "."):
            # the module was found, but one of its own imports failed
            raise HandlerError(
                f"{at}: importing module {module_name!r} failed{_frame(exc)}: "
                f"{type(exc).__name__}: {exc}. Install {missing.split('.')[0]!r} or fix "
                f"the import in {module_name!r}.",
                file=file,
                task=task,
                field=field,
            ) from None
        raise HandlerError(
            f"{at}: cannot import module {exc.name!r}. Put {module_name}.py next to the "
            "workflow file or install the package that provides it.",
            file=file,
            task=task,
            field=field,
        ) from None
    except Exception as exc:
        raise HandlerError(
            f"{at}: importing module {module_name!r} failed{_frame(exc)}: "
            f"{type(exc).__name__}: {exc}. Fix the module so it imports.",
            file=file,
            task=task,
            field=field,
        ) from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise HandlerError(
                f"{at}: module {module_name!r} has no {attr!r}.{did_you_mean(part, names)}",
                file=file,
                task=task,
                field=field,
            ) from None
    return obj


def _frame(exc: BaseException) -> str:
    """Where an import failed: the last frame of ``exc``'s traceback outside importlib, as
    `` at h.py line 3 (import requestz)``; empty when there is none."""
    import traceback

    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith("<") and "importlib" not in f.filename
    ]
    if not frames:
        return ""
    f = frames[-1]
    code = f" ({f.line.strip()})" if f.line else ""
    return f" at {os.path.basename(f.filename)} line {f.lineno}{code}"
