"""Agent types: presets of a system prompt and default capabilities.

``agent_type: knowledge`` in a file (``LLMAgent(agent_type="knowledge")`` in Python) gives an
LLM agent the preset's system prompt and capabilities; the agent's own ``system_prompt`` and
``capabilities`` replace them when given. Each type's first capability is its own name, so a
task (or a delegation's ``AGENT_TYPE:``) can ask for ``knowledge`` and reach every knowledge
agent.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AGENT_TYPES", "Preset", "preset"]


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    system_prompt: str
    capabilities: tuple[str, ...]
    delegate_to: tuple[str, ...] = ()  # agent types it may delegate to by default ("*": any)


AGENT_TYPES: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "knowledge",
            "You are a knowledge agent. Answer the question accurately and concisely from what "
            "you know. Give facts, names and numbers; say plainly when you are not sure, and "
            "never invent sources.",
            ("knowledge", "research"),
        ),
        Preset(
            "planner",
            "You are a planning agent. Break the goal into a few concrete, independent steps, "
            "hand each to the agent type best suited to it, and combine their results into one "
            "answer. Do the work through other agents rather than guessing.",
            ("planner", "planning"),
            delegate_to=("*",),
        ),
        Preset(
            "code",
            "You are a software engineer. Write correct, idiomatic, minimal code that does what "
            "is asked, with the imports it needs. Answer with the code in one fenced block, "
            "then at most three sentences on how to use it.",
            ("code", "implementation"),
        ),
        Preset(
            "test",
            "You are a test engineer. Write focused automated tests (pytest unless told "
            "otherwise) that pin down the behaviour asked about, edge cases and failures "
            "included. Answer with the tests in one fenced block.",
            ("test", "testing"),
        ),
        Preset(
            "review",
            "You are a careful reviewer. Check the work against the task: correctness first, "
            "then completeness and clarity. List concrete problems with where they are and how "
            "to fix them, then give a verdict: approve or reject.",
            ("review",),
        ),
        Preset(
            "debug",
            "You are a debugging expert. From the error, code and context given, find the "
            "root cause, explain it in two or three sentences, and give the smallest fix.",
            ("debug",),
        ),
        Preset(
            "browser",
            "You are a web research agent. Find the pages that answer the question and report "
            "what they say, with their URLs. Use the browsing tools you are given; without "
            "them, say which searches and pages would answer it.",
            ("browser", "web"),
        ),
    )
}


def preset(name: str) -> Preset:
    """The preset called ``name``; a ValidationError listing the types when there is none."""
    found = AGENT_TYPES.get(name)
    if found is None:
        import difflib

        from ..errors import ValidationError

        hint = difflib.get_close_matches(name, AGENT_TYPES, n=1)
        fix = f"Did you mean {hint[0]!r}?" if hint else f"Use one of: {', '.join(AGENT_TYPES)}."
        raise ValidationError(
            f"agent_type {name!r} is not an agent type. {fix}", field="agent_type"
        )
    return found
