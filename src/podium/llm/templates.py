"""Rule-based plans: a goal's first words pick a template of steps (no model needed).

    the goal starts with ...                        steps (-> : depends on the one before)
    develop, build, implement, create, make, code   requirements -> design -> implementation
                                                    -> testing -> review
    fix, debug, repair, troubleshoot                reproduce -> diagnose -> fix -> testing
                                                    -> review
    write, draft, compose, document                 outline -> research -> draft -> review
                                                    -> revise
    research, investigate, study, analyse, analyze, compare, evaluate, explore, find
                                                    scope -> 3 research facets at once ->
                                                    synthesis -> review
    anything else                                   analysis -> execution -> review

Each step names the agent types that can do it, best first; the planner picks the first that
an available agent has. Estimates are rough seconds of work per step for a model agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TEMPLATES", "Step", "template_for"]


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    does: str  # what to do, with {goal} in it
    types: tuple[str, ...]  # agent types / capabilities that can do it, best first
    after: tuple[str, ...] = ()
    priority: str = "medium"
    seconds: float = 30.0


_DEVELOP = (
    Step("requirements", "List the requirements and acceptance criteria for: {goal}",
         ("planner", "planning", "requirements", "analysis", "knowledge"), (), "high", 30),
    Step("design", "Design the solution (components, interfaces, data) for: {goal}",
         ("planner", "design", "architecture", "code", "knowledge"), ("requirements",), "high",
         45),
    Step("implementation", "Implement the design for: {goal}",
         ("code", "implementation", "develop", "knowledge"), ("design",), "critical", 90),
    Step("testing", "Write and run tests for the implementation of: {goal}",
         ("test", "testing", "code", "knowledge"), ("implementation",), "high", 60),
    Step("review", "Review the implementation and tests of: {goal}",
         ("review", "knowledge"), ("testing",), "medium", 30),
)  # fmt: skip
_FIX = (
    Step("reproduce", "Reproduce the problem and describe it exactly: {goal}",
         ("debug", "test", "knowledge"), (), "high", 30),
    Step("diagnose", "Find the root cause of: {goal}", ("debug", "code", "knowledge"),
         ("reproduce",), "critical", 45),
    Step("fix", "Write the smallest fix for: {goal}",
         ("code", "implementation", "debug", "knowledge"), ("diagnose",), "critical", 60),
    Step("testing", "Test that the fix works and nothing else broke: {goal}",
         ("test", "testing", "code", "knowledge"), ("fix",), "high", 45),
    Step("review", "Review the fix for: {goal}", ("review", "knowledge"), ("testing",),
         "medium", 30),
)  # fmt: skip
_WRITE = (
    Step("outline", "Outline the piece: {goal}", ("planner", "planning", "knowledge"), (),
         "high", 20),
    Step("research", "Gather the facts the piece needs: {goal}",
         ("knowledge", "research", "browser"), ("outline",), "high", 45),
    Step("draft", "Write the first draft: {goal}", ("knowledge", "write", "writing"),
         ("research",), "critical", 60),
    Step("review", "Review the draft for accuracy and clarity: {goal}", ("review", "knowledge"),
         ("draft",), "medium", 30),
    Step("revise", "Revise the draft following the review: {goal}",
         ("knowledge", "write", "writing"), ("review",), "high", 40),
)  # fmt: skip
_RESEARCH = (
    Step("scope", "Split into three sub-questions: {goal}", ("planner", "planning", "knowledge"),
         (), "high", 20),
    Step("research-background", "Research the background of: {goal}",
         ("knowledge", "research", "browser"), ("scope",), "high", 45),
    Step("research-evidence", "Find evidence and data for: {goal}",
         ("knowledge", "research", "browser"), ("scope",), "high", 45),
    Step("research-alternatives", "Find alternatives and counter-arguments for: {goal}",
         ("knowledge", "research", "browser"), ("scope",), "medium", 45),
    Step("synthesis", "Combine the findings into one answer: {goal}",
         ("knowledge", "research", "planner"),
         ("research-background", "research-evidence", "research-alternatives"), "critical", 40),
    Step("review", "Check the answer's claims and gaps: {goal}", ("review", "knowledge"),
         ("synthesis",), "medium", 30),
)  # fmt: skip
_GENERIC = (
    Step("analysis", "Work out what is needed to: {goal}", ("planner", "planning", "knowledge"),
         (), "high", 30),
    Step("execution", "Do it: {goal}", ("knowledge", "code", "research"), ("analysis",),
         "critical", 60),
    Step("review", "Review the result of: {goal}", ("review", "knowledge"), ("execution",),
         "medium", 30),
)  # fmt: skip

TEMPLATES: list[tuple[str, re.Pattern[str], tuple[Step, ...]]] = [
    ("develop", re.compile(r"^(develop|build|implement|create|make|code|program)\b", re.I),
     _DEVELOP),
    ("fix", re.compile(r"^(fix|debug|repair|troubleshoot|resolve)\b", re.I), _FIX),
    ("write", re.compile(r"^(write|draft|compose|document|blog)\b", re.I), _WRITE),
    ("research", re.compile(
        r"^(research|investigate|study|analy[sz]e|compare|evaluate|explore|find|survey)\b",
        re.I), _RESEARCH),
]  # fmt: skip


def template_for(goal: str) -> tuple[str, tuple[Step, ...]]:
    """The template a goal's first word picks: ``(name, steps)``."""
    text = goal.strip().lower()
    text = re.sub(r"^(please|let's|lets|i want to|we need to|help me|how (do|can) i)\s+", "", text)
    for name, pattern, steps in TEMPLATES:
        if pattern.search(text):
            return name, steps
    return "generic", _GENERIC
