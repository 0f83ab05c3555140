"""Consensus: the same task goes to N agents and the majority answer wins.

Participants are distinct agents of the task's capability; when there are fewer agents than
``agents``, the same agents run it again as replicas (``name#2``...). Each participant is a
subtask ``<task>/<agent or replica>`` with the task's input and dependencies.

Results are compared exactly (as canonical JSON), or by ``key`` (a field or dotted path) and/or
``normalize`` (a function of the value). The most common value wins if its share of all
participants reaches ``min_agreement`` and no other value has as many votes. The result::

    {"consensus": true, "winning_result": {...}, "agreement": 0.67,
     "votes": {"reviewer-a": {...}, "reviewer-b": {...}, "reviewer-c": {...}}}

``winning_result`` is the full result of the first participant that gave the winning value
(null without consensus). A participant that fails fails the task (``on_error: fail``), or
counts as a vote for nothing (``on_error: abstain``: its vote is null and its error is listed
under ``errors``). ``required: true`` fails the task when there is no consensus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import TaskFailed
from ..spec.aggregate import canonical
from . import register_pattern
from ._common import COMPLETED, MISSING, dig, failure, participants, resolve, settings, settle
from ._common import subtask as make_subtask

if TYPE_CHECKING:
    from ..engine.context import Context


@register_pattern("consensus")
async def coordinate(ctx: Context) -> dict[str, Any]:
    s = settings(ctx)
    t = ctx.task
    normalize = resolve(ctx, s.normalize, "consensus.normalize")
    people = participants(ctx, s.agents)
    subs = [
        make_subtask(ctx, label, capability=t.capability, agent=name, input=t.input)
        for label, name in people
    ]
    recs = await settle(ctx, subs)
    failed = [r for r in recs if r.status is not COMPLETED]
    if failed and s.on_error == "fail":
        raise failure(ctx, failed, "participants")

    votes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    counts: dict[str, int] = {}
    first: dict[str, Any] = {}  # compared value -> the first full result that gave it
    missing = 0
    for (label, _), rec in zip(people, recs, strict=True):
        if rec.status is not COMPLETED:
            votes[label] = None
            errors[label] = rec.error or str(rec.status)
            continue
        votes[label] = rec.result
        value = dig(rec.result, s.key)
        if value is MISSING:  # no such field: a vote for nothing
            missing += 1
            continue
        if normalize is not None:
            value = normalize(value)
        k = canonical(value)
        counts[k] = counts.get(k, 0) + 1
        first.setdefault(k, rec.result)
    answered = len(recs) - len(failed)
    if s.key and answered and missing == answered:
        raise TaskFailed(
            f"task {ctx.task_id!r}: consensus.key {s.key!r} is in none of the "
            f"{answered} results (first one: {canonical(votes[people[0][0]])[:200]}). "
            "Fix the key or leave it out to compare whole results.",
            task=ctx.task_id,
            field="consensus.key",
        )

    top = max(counts.values(), default=0)
    leaders = [k for k, n in counts.items() if n == top]
    agreement = top / len(recs)
    reached = bool(counts) and len(leaders) == 1 and agreement >= s.min_agreement - 1e-9
    out: dict[str, Any] = {
        "consensus": reached,
        "winning_result": first[leaders[0]] if reached else None,
        "agreement": round(agreement, 4),
        "votes": votes,
    }
    if errors:
        out["errors"] = errors
    if s.required and not reached:
        why = "a tie" if len(leaders) > 1 else f"agreement {agreement:.2f}"
        raise TaskFailed(
            f"task {ctx.task_id!r}: no consensus among {len(recs)} participants ({why}, "
            f"min_agreement {s.min_agreement:g}); votes: {canonical(votes)[:300]}",
            task=ctx.task_id,
        )
    return out
