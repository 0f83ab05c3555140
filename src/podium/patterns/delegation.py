"""Hierarchical delegation written in the workflow file: fixed subtasks, one aggregate.

    - id: search
      capability: search
      pattern: delegation
      delegation:
        subtasks:
          - {input: {q: raft}}                  # the task's capability by default
          - {input: {q: paxos}}
          - {capability: wiki, input: {q: consensus}}
        aggregate: concat                        # concat | vote | merge | module:function

Each subtask is ``<task>/<id or n>``, with the task's input when it gives none, its priority
and its dependencies (so it sees the same ``ctx.deps``). The result is the aggregate of the
subtasks' results in the order given (their list without ``aggregate``). A failed subtask
fails the task, naming it.

When subtasks are decided at run time, no pattern is needed: the task's own handler calls
``await ctx.delegate(...)`` or ``ctx.delegate_many([...], aggregate=...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..spec.workflow import Retry
from . import register_pattern
from ._common import resolve, settings
from ._common import subtask as make_subtask

if TYPE_CHECKING:
    from ..engine.context import Context


@register_pattern("delegation")
async def coordinate(ctx: Context) -> Any:
    s = settings(ctx)
    t = ctx.task
    subs = []
    for n, sub in enumerate(s.subtasks, 1):
        fields: dict[str, Any] = {
            "input": sub.input if "input" in sub.model_fields_set else t.input,
            "timeout": sub.timeout,
        }
        if sub.agent is not None or sub.capability is not None:
            fields["agent"], fields["capability"] = sub.agent, sub.capability
        else:  # the pattern task's own capability (or agent)
            fields["agent"], fields["capability"] = t.agent, t.capability
        if sub.priority is not None:
            fields["priority"] = sub.priority
        if sub.retry is not None:
            fields["retry"] = Retry(**sub.retry.model_dump())
        subs.append(make_subtask(ctx, sub.id or str(n), **fields))
    how = s.aggregate
    if isinstance(how, str) and ":" in how:
        how = resolve(ctx, how, "delegation.aggregate")
    return await ctx.delegate_many(subs, aggregate=how)
