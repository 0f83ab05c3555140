"""The demo's LLM agents, used instead of the offline writer and reviewers when
``OPENAI_BASE_URL`` points to a model (see `podium.demo.demo_workflow`).

Both are `LLMAgent` subclasses that shape the model's answer into what the rest of the demo
reads: the writer's Markdown into the offline writer's result, a reviewer's JSON verdict into
a vote the moderator counts.
"""

from __future__ import annotations

from typing import Any

from ..llm.agent import LLMAgent
from .agents import _find

__all__ = ["LLMReviewer", "LLMWriter", "llm_agents"]

WRITER_PROMPT = """Write a research report in Markdown titled "{{input.title}}".
Use only the findings below; quote at most {{input.max_quotes}} passages per question, word
for word, each followed by its source file in backticks. Sections: a one-paragraph Summary,
Findings (one subsection per question), Sources. At most 500 words.

Findings:
{{deps}}"""

REVIEW_SCHEMA = {
    "type": "object",
    "properties": {
        "vote": {"enum": ["approve", "reject"]},
        "reasons": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    },
    "required": ["vote", "reasons"],
}

RUBRICS = {
    "coverage": "Does the report answer every question with at least one quoted finding?",
    "citations": "Is every quote attributed to a source file, and does the report invent none?",
    "brevity": "Is the report clear, well structured and under 600 words?",
}


class LLMWriter(LLMAgent):
    """Writes the report with a model; returns it as the offline writer would."""

    async def handle(self, ctx: Any) -> dict[str, Any]:
        markdown = await super().handle(ctx)
        text = str(markdown).strip()
        if text.startswith("```"):
            text = text.split("\n", 1)[-1].rsplit("```", 1)[0]
        sources = [s["file"] for s in _find(ctx, "sources", "the analysis task")[0]["sources"]]
        return {
            "title": ctx.input.get("title") or "Research report",
            "markdown": text.rstrip() + "\n",
            "words": len(text.split()),
            "sections": [],
            "citations": [],
            "sources": sources,
            "themes": [],
            "model": self.model,
        }


class LLMReviewer(LLMAgent):
    """Reviews the report against one rubric (``metadata.rubric``) with a model."""

    async def handle(self, ctx: Any) -> dict[str, Any]:
        verdict = await super().handle(ctx)
        return {
            "reviewer": self.name,
            "rubric": self.metadata.get("rubric"),
            "vote": verdict["vote"],
            "reasons": [str(r) for r in verdict.get("reasons", [])] or ["no reasons given"],
        }


def llm_agents(model: str) -> list[LLMAgent]:
    """The writer and the three reviewers, on ``model`` at ``OPENAI_BASE_URL``."""
    writer = LLMWriter(
        "writer",
        ["write"],
        capacity=1,
        model=model,
        agent_type="knowledge",
        system_prompt="You are a precise technical writer.",
        prompt=WRITER_PROMPT,
        temperature=0.2,
        max_tokens=1200,
    )
    reviewers: list[LLMAgent] = []
    for rubric, question in RUBRICS.items():
        prompt = (
            f"Review this report. {question} Vote approve or reject and give short reasons."
            "\n\n{{deps}}"
        )
        reviewers.append(
            LLMReviewer(
                f"reviewer-{rubric}",
                ["review"],
                capacity=1,
                model=model,
                agent_type="review",
                prompt=prompt,
                schema=REVIEW_SCHEMA,
                temperature=0,
                max_tokens=400,
                metadata={"rubric": rubric},
            )
        )
    return [writer, *reviewers]
