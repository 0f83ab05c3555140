"""The workflow format: files (YAML/JSON), their models, workflows built in code, and the DAG
analysis that runs before anything else (cycles, ranks, critical path).

Nothing here runs a task: the engine takes the `Workflow` this produces. The file readers
(pydantic, YAML) load on first use, so that ``podium --help`` and code-built workflows do not
pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..agents.kinds.python import resolve_handler as resolve_handler
    from .loader import build_agent as build_agent
    from .loader import load_workflow as load_workflow
    from .loader import parse_workflow as parse_workflow
    from .loader import read_file as read_file

__all__ = ["build_agent", "load_workflow", "parse_workflow", "read_file", "resolve_handler"]


def __getattr__(name: str) -> Any:
    if name == "resolve_handler":
        from ..agents.kinds.python import resolve_handler

        return resolve_handler
    if name in __all__:
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
