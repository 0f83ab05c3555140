"""What the coordinators share: their settings, their participants, subtasks and lookups."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import CapabilityError, TaskFailed
from ..result import TaskResult, TaskStatus
from ..spec.patterns import check_options, resolve_ref
from ..spec.workflow import Task

if TYPE_CHECKING:
    from ..agents.agent import Agent
    from ..engine.context import Context

__all__ = ["capable", "dig", "participants", "publish", "settings", "settle", "subtask"]

COMPLETED = TaskStatus.COMPLETED
MISSING: Any = object()


def settings(ctx: Context) -> Any:
    """The pattern task's settings as a validated model (defaults filled in)."""
    t = ctx.task
    return check_options(
        t.pattern,  # type: ignore[arg-type]
        ctx.options,
        task=t.id,
        depends_on=t.depends_on,
        file=ctx.run.workflow.source,
    )


def resolve(ctx: Context, ref: Any, field: str) -> Callable[..., Any] | None:
    """A callable setting (``module:function`` or a callable), or None when not set."""
    if ref is None:
        return None
    return resolve_ref(ref, field=field, task=ctx.task_id, file=ctx.run.workflow.source)


def capable(ctx: Context, *, capability: str | None, agent: str | None) -> list[Agent]:
    """The agents that can take work for ``capability`` (or the one named ``agent``), those
    taking work first. CapabilityError, naming the task, when there is none."""
    probe = Task(ctx.task_id, capability=capability, agent=agent)
    found = list(ctx.run.scheduler.route_for(probe).agents)
    if not found:
        src = ctx.run.workflow.source
        prefix = f"{src}: " if src else ""
        what = f"agent {agent!r} is not registered" if agent else f"no agent has {capability!r}"
        raise CapabilityError(
            f"{prefix}task {ctx.task_id!r}: {what}, so pattern {ctx.task.pattern!r} has no one "
            "to ask. Add an agent for it or fix the name.",
            file=src,
            task=ctx.task_id,
            field="agent" if agent else "capability",
        )
    return sorted(found, key=lambda a: not a.takes_work)


def participants(ctx: Context, n: int) -> list[tuple[str, str]]:
    """``n`` (label, agent name) pairs: distinct capable agents, then replicas of them in turn
    when there are fewer agents than ``n``. A label is the agent's name the first time and
    ``name#2``, ``name#3``... for its replicas.

    Agents that take no work (paused, in error) are left out while others take work. A
    replica of a pool's agent is pinned to the pool (label ``pool#2``...), so that any of its
    replicas may run it and the pool can grow to hold it."""
    t = ctx.task
    agents = capable(ctx, capability=t.capability, agent=t.agent)
    agents = [a for a in agents if a.takes_work] or agents
    out: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i in range(n):
        a = agents[i % len(agents)]
        name: str = a.name  # type: ignore[assignment]
        k = seen[name] = seen.get(name, 0) + 1
        if k == 1:
            out.append((name, name))
        elif a.pool is not None:
            m = seen[a.pool] = seen.get(a.pool, 1) + 1
            out.append((f"{a.pool}#{m}", a.pool))
        else:
            out.append((f"{name}#{k}", name))
    return out


def subtask(ctx: Context, suffix: str, **fields: Any) -> Task:
    """A subtask of the pattern task: id ``<task>/<suffix>``, the task's priority and
    dependencies (so the participant sees the same ``ctx.deps``), and ``fields``."""
    t = ctx.task
    fields.setdefault("priority", t.priority)
    fields.setdefault("depends_on", t.depends_on)
    return Task(f"{t.id}/{suffix}", **fields)


async def settle(ctx: Context, tasks: list[Task]) -> list[TaskResult]:
    """Run subtasks and wait for each to end; failed ones are returned, not raised."""
    return await ctx._settle(tasks)


def failure(ctx: Context, recs: list[TaskResult], what: str = "subtasks") -> TaskFailed:
    detail = "; ".join(f"{r.id!r}: {r.error}" for r in recs)
    return TaskFailed(
        f"task {ctx.task_id!r}: {len(recs)} {what} failed: {detail}", task=ctx.task_id
    )


def dig(value: Any, path: str | None) -> Any:
    """``value`` at a dotted ``path`` (``"review.verdict"``, ``"items.0"``); MISSING if absent."""
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict):
            if part not in value:
                return MISSING
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit():
            i = int(part)
            if not -len(value) <= i < len(value):
                return MISSING
            value = value[i]
        else:
            return MISSING
    return value


async def publish(ctx: Context, topic: str, payload: Any) -> None:
    """Publish on the run's bus when there is one (a blackboard for the participants)."""
    bus = getattr(ctx, "bus", None)
    if bus is not None:
        await bus.publish(topic, payload, sender=ctx.task_id)
