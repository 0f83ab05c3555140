"""The assignment tensor T[n_tasks, n_agents, p_levels]: who runs what, at which priority.

Levels are ``critical, high, medium, low`` (priorities 10, 8-9, 5-7 and 1-4). A task's mass
sits at its own level; ``T[i, j, p]`` is the probability that task ``i`` runs on agent ``j``:

- **before a run** (`planned_tensor`), the scheduler's split of each route: a task pinned to an
  agent (or pool) is 1 there; a task asking for a capability is shared among the capable
  agents in proportion to their throughput, ``capacity / estimated_time`` (the long-run share
  the ``score`` and ``least_loaded`` strategies give each agent; ``round_robin`` shares
  equally); a pattern task (consensus, auction...) among the agents of its capability. Each
  task's row sums to 1 (0 when no agent can take it).
- **after a run** (`run_tensor`), exactly what happened: 1 where the task's last attempt ran
  (delegated subtasks included), 0 for tasks that never ran.

`Tensor` carries the array with the task, agent and level order alongside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..agents.agent import Agent

if TYPE_CHECKING:
    from ..spec.workflow import Workflow
    from ..stores.base import RunRecord, TaskState

__all__ = ["LEVELS", "Tensor", "level_of", "planned_tensor", "run_tensor"]

LEVELS = ("critical", "high", "medium", "low")


def level_of(priority: int) -> int:
    """The index in `LEVELS` of a priority 1-10."""
    if priority >= 10:
        return 0
    if priority >= 8:
        return 1
    if priority >= 5:
        return 2
    return 3


@dataclass
class Tensor:
    """``array`` (numpy, float64) of shape (tasks, agents, levels) and the names of each axis."""

    array: Any
    tasks: list[str]
    agents: list[str]
    levels: list[str] = field(default_factory=lambda: list(LEVELS))
    kind: str = "planned"  # or "actual"
    run_id: str | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)  # type: ignore[return-value]

    def index(self) -> dict[str, Any]:
        """The axes as JSON: what ``podium tensor`` writes next to the ``.npy`` file."""
        return {
            "kind": self.kind,
            "run_id": self.run_id,
            "shape": list(self.shape),
            "tasks": self.tasks,
            "agents": self.agents,
            "levels": self.levels,
        }

    def save(self, path: Any) -> tuple[str, str]:
        """Write the array to ``path`` (``.npy``) and the axes to the same name + ``.json``."""
        import json
        from pathlib import Path

        import numpy as np

        p = Path(path)
        np.save(p, self.array)
        npy = p if p.suffix == ".npy" else p.with_name(p.name + ".npy")
        side = npy.with_suffix(".json")
        side.write_text(json.dumps(self.index(), indent=2) + "\n", encoding="utf-8")
        return str(npy), str(side)


def _numpy() -> Any:
    try:
        import numpy as np
    except ImportError:
        from ..errors import ValidationError

        raise ValidationError(
            "the assignment tensor needs numpy: pip install 'podium[llm]'.", field="numpy"
        ) from None
    return np


def planned_tensor(
    workflow: Workflow, agents: list[Agent] | None = None, *, strategy: str | None = None
) -> Tensor:
    """The scheduler's assignment probabilities for ``workflow`` before it runs, on
    ``agents`` (default: the workflow's own)."""
    np = _numpy()
    pool = list(agents if agents is not None else workflow.agents)
    names = [a.name for a in pool]
    column = {n: j for j, n in enumerate(names)}
    tasks = list(workflow.tasks.values())
    t = np.zeros((len(tasks), len(names), len(LEVELS)))
    equal = (strategy or workflow.strategy) == "round_robin"
    for i, task in enumerate(tasks):
        if task.agent is not None:
            found = [a for a in pool if task.agent in (a.name, a.pool, _base(a.name))]
        else:
            found = [a for a in pool if task.capability in a.capabilities]
        if not found:
            continue
        weights = [1.0 if equal else a.capacity / (a.estimated_time or 1.0) for a in found]
        total = sum(weights)
        level = level_of(task.priority)
        for a, w in zip(found, weights, strict=True):
            t[i, column[a.name], level] += w / total
    return Tensor(t, [x.id for x in tasks], names)


def _base(name: str) -> str:
    return name.rsplit("-", 1)[0] if name.rsplit("-", 1)[-1].isdigit() else name


def run_tensor(saved: RunRecord, states: dict[str, TaskState]) -> Tensor:
    """Exactly who ran each task of a recorded run (its last attempt), at its priority."""
    np = _numpy()
    from ..stores.definition import graph, priorities

    definition = saved.definition or {}
    order = [tid for tid, _, _ in graph(definition)]
    order += [tid for tid in states if tid not in order]
    names = [a.get("name") for a in definition.get("agents") or [] if a.get("name")]
    for s in states.values():
        if s.agent and s.agent not in names:
            names.append(s.agent)
    priority = priorities(definition)
    column = {n: j for j, n in enumerate(names)}
    t = np.zeros((len(order), len(names), len(LEVELS)))
    for i, tid in enumerate(order):
        s = states.get(tid)
        if s is None or not s.agent or not s.attempts:
            continue
        t[i, column[s.agent], level_of(priority.get(tid, 5))] = 1.0
    return Tensor(t, order, names, kind="actual", run_id=saved.run_id)
