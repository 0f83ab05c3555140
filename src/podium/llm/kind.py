"""``kind: llm``: an agent backed by a chat model, declared in a workflow file.

    agents:
      - name: writer
        kind: llm
        model: gpt-4o-mini
        agent_type: knowledge          # a preset: system prompt and capabilities
        capabilities: [write]          # replaces the preset's
        base_url: http://localhost:11434/v1   # default: $OPENAI_BASE_URL
        api_key_env: OPENAI_API_KEY    # the variable holding the key, never the key
        prompt: "Write about {{input.topic}} using {{deps.research}}"
        temperature: 0.2
        max_tokens: 800

Every field maps to an argument of `podium.LLMAgent`; the LLM agents guide lists them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from .._utils.models import StrictModel
from ..agents.kinds.base import AgentKind, AgentSpec, Origin
from ..agents.kinds.python import resolve_handler
from ..errors import ValidationError
from .agent import LLMAgent
from .presets import AGENT_TYPES

__all__ = ["LLMAgentSpec", "LLMKind"]


class PriceSpec(StrictModel):
    input: float = Field(0.0, ge=0)
    output: float = Field(0.0, ge=0)


class DelegationSpec(StrictModel):
    to: list[str] | None = None  # None: the agent type's default (the planner's "*")
    max_depth: int = Field(2, ge=0)
    max_count: int = Field(8, ge=0)
    max_fanout: int = Field(4, ge=1)


class LLMAgentSpec(AgentSpec):
    kind: Literal["llm"] = "llm"
    model: str = Field(min_length=1)
    agent_type: str | None = None
    base_url: str | None = None
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    system_prompt: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    prompt: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    schema_retries: int = Field(2, ge=0, le=10)
    phases: list[str] = Field(default_factory=lambda: ["executing"])
    tools: list[str] = Field(default_factory=list)
    delegation: DelegationSpec | None = None
    message_to: list[str] = Field(default_factory=list)
    inbox: bool = False
    max_turns: int = Field(8, ge=1, le=100)
    request_timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    price: PriceSpec | None = None
    stream: bool = True
    native_tools: bool = False

    model_config = ConfigDict(populate_by_name=True)

    @field_validator("agent_type")
    @classmethod
    def _known_type(cls, v: str | None) -> str | None:
        if v is not None and v not in AGENT_TYPES:
            import difflib

            hint = difflib.get_close_matches(v, AGENT_TYPES, n=1)
            fix = f"did you mean {hint[0]!r}?" if hint else f"use one of {', '.join(AGENT_TYPES)}"
            raise ValueError(f"{v!r} is not an agent type: {fix}")
        return v


class LLMKind(AgentKind):
    name = "llm"
    spec = LLMAgentSpec

    def build(self, spec: LLMAgentSpec, origin: Origin) -> LLMAgent:
        options = spec.agent_options()
        explicit = "capabilities" in spec.model_fields_set
        if not explicit:
            options.pop("capabilities")
        tools = [
            resolve_handler(ref, base=origin.base, source=origin.file, agent=spec.name)
            for ref in spec.tools
        ]
        d = spec.delegation
        try:
            return LLMAgent(
                **options,
                model=spec.model,
                agent_type=spec.agent_type,
                base_url=spec.base_url,
                api_key_env=spec.api_key_env,
                system_prompt=spec.system_prompt,
                temperature=spec.temperature,
                max_tokens=spec.max_tokens,
                prompt=spec.prompt,
                schema=spec.schema_,
                schema_retries=spec.schema_retries,
                phases=spec.phases,
                tools=tools,
                delegate_to=d.to if d is not None else None,
                message_to=spec.message_to,
                inbox=spec.inbox,
                max_turns=spec.max_turns,
                max_depth=d.max_depth if d is not None else 2,
                max_delegations=d.max_count if d is not None else 8,
                max_fanout=d.max_fanout if d is not None else 4,
                request_timeout=spec.request_timeout,
                max_retries=spec.max_retries,
                price=spec.price.model_dump() if spec.price is not None else None,
                stream=spec.stream,
                native_tools=spec.native_tools,
            )
        except ValidationError as exc:
            raise ValidationError(
                f"{origin.prefix}{exc.message}", file=origin.file, field=f"agents.{exc.field}"
            ) from None
