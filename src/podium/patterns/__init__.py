"""Coordination patterns: tasks that fan out to several agents in a coordinated way.

A task with ``pattern: <name>`` is not run by one of the workflow's agents. It is run by the
pattern's *coordinator*, a built-in handler that delegates subtasks (``ctx.delegate_many``) to
the agents of the task's capability and combines what they return. Subtasks are real tasks
of the run: scheduled, retried, recorded and visible in status.

Each coordinator is ``async def coordinate(ctx) -> result`` registered in `COORDINATORS`;
``ctx.task`` is the pattern task, ``ctx.options`` its pattern settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..agents.agent import Agent, AgentState
from ..errors import ValidationError

__all__ = ["COORDINATORS", "coordinator_agent", "register_pattern"]

Coordinator = Callable[[Any], Awaitable[Any]]

COORDINATORS: dict[str, Coordinator] = {}


def register_pattern(name: str) -> Callable[[Coordinator], Coordinator]:
    """Decorator: make ``async def coordinate(ctx)`` the coordinator of ``pattern: name``."""

    _load_builtin()  # so that a pattern of the user's can replace a built-in one

    def add(fn: Coordinator) -> Coordinator:
        from ..spec.patterns import add_pattern_name  # pydantic: only once a pattern is added

        COORDINATORS[name] = fn
        add_pattern_name(name)
        return fn

    return add


def coordinator_agent(name: str) -> Agent:
    """The built-in agent that runs tasks of pattern ``name`` (one per run and pattern)."""
    _load_builtin()
    fn = COORDINATORS.get(name)
    if fn is None:
        raise ValidationError(
            f"pattern {name!r} is not one of {', '.join(sorted(COORDINATORS)) or 'none'}.",
            field="pattern",
        )
    # Coordinators mostly wait on their subtasks (and lend their slot meanwhile), so their
    # own capacity does not limit the run; agent capacity and max_concurrency still hold.
    # A coordinator's failure is its participants' or its settings', not its own: it never
    # trips a circuit breaker. It has nothing to set up, so it takes work at once.
    agent = Agent(
        f"pattern:{name}",
        [],
        capacity=1_000_000,
        handler=fn,
        executor="async",
        breaker_failures=2**62,
    )
    agent.state = AgentState.IDLE
    return agent


_loaded = False


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    for mod in ("consensus", "auction", "swarm", "pipeline", "delegation"):
        try:
            importlib.import_module(f"{__name__}.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{mod}":
                raise
