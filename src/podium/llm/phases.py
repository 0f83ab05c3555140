"""Phases of an LLM agent's work on one task, and which actions each allows.

An agent goes through its ``phases`` in this order, each in one or more turns of the same
conversation, a phase ending with a final answer:

    phase      may use                      ends with
    planning   MESSAGE, FINAL               a short plan (kept in the conversation)
    executing  DELEGATE, TOOL, MESSAGE, FINAL  the task's result
    verifying  TOOL, FINAL                  the result, checked or corrected
    learning   FINAL                        a lesson, kept for the agent's next tasks

Delegation happens only while executing. An action used in a phase that does not allow it is
refused with an error turn naming the phases that do. The default is ``[executing]``.
"""

from __future__ import annotations

from ..errors import ValidationError

__all__ = ["ALLOWED", "PHASES", "check_phases", "guide"]

PHASES = ("planning", "executing", "verifying", "learning")

ALLOWED: dict[str, frozenset[str]] = {
    "planning": frozenset(("MESSAGE", "FINAL")),
    "executing": frozenset(("DELEGATE", "TOOL", "MESSAGE", "FINAL")),
    "verifying": frozenset(("TOOL", "FINAL")),
    "learning": frozenset(("FINAL",)),
}

_GUIDES = {
    "planning": "Phase: planning. Do not do the task yet: think about how to do it and write a "
    "short numbered plan. Your final answer in this phase is the plan.",
    "executing": "Phase: executing. Do the task{plan}. Your final answer in this phase is the "
    "task's result.",
    "verifying": "Phase: verifying. Check the result you gave against the task: is it correct "
    "and complete? Your final answer in this phase is the result again, unchanged if it is "
    "right, corrected if it is not.",
    "learning": "Phase: learning. In one or two sentences, write a lesson from this task that "
    "would help you with similar tasks. Your final answer in this phase is the lesson.",
}


def guide(phase: str, *, planned: bool) -> str:
    return _GUIDES[phase].format(plan=", following your plan" if planned else "")


def where_allowed(kind: str) -> list[str]:
    return [p for p in PHASES if kind in ALLOWED[p]]


def check_phases(phases: list[str] | tuple[str, ...], *, agent: str) -> tuple[str, ...]:
    """The phases in their order; a ValidationError for an unknown one or none executing."""
    for p in phases:
        if p not in PHASES:
            raise ValidationError(
                f"agent {agent!r}: phase {p!r} is not one of {', '.join(PHASES)}.",
                field="phases",
            )
    if "executing" not in phases:
        raise ValidationError(
            f"agent {agent!r}: phases must include 'executing' (the phase that does the task).",
            field="phases",
        )
    return tuple(p for p in PHASES if p in phases)
