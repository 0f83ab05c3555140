"""The workflow file format as pydantic models: what a file may say, field by field.

Agents are validated by their kind's own model (see `podium.agents.kinds`), so ``agents`` is
read here as plain mappings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from .._utils.limits import MAX_AGENTS, MAX_CONCURRENCY, MAX_NAME_CHARS, MAX_TASKS
from .._utils.models import StrictModel

# a name: a task id, an agent's name, a capability
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]

__all__ = [
    "BudgetSpec",
    "CapabilitySpec",
    "ConcurrencySpec",
    "RateLimitSpec",
    "RetrySpec",
    "TaskSpec",
    "WorkflowSpec",
]


class RetrySpec(StrictModel):
    max_attempts: int = Field(1, ge=1, le=1000)
    backoff: Literal["fixed", "exponential"] = "exponential"
    initial_delay: float = Field(0.5, ge=0)
    max_delay: float = Field(30.0, ge=0)
    jitter: float = Field(0.1, ge=0, le=1)


class BudgetSpec(StrictModel):
    max_cost: float | None = Field(None, gt=0)
    max_tokens: int | None = Field(None, gt=0)


class ConcurrencySpec(StrictModel):
    key: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    max: int = Field(ge=1)


class RateLimitSpec(StrictModel):
    requests: int | None = Field(None, ge=1)
    tokens: int | None = Field(None, ge=1)
    per: float = Field(1.0, gt=0)


class CapabilitySpec(StrictModel):
    concurrency: ConcurrencySpec | None = None
    rate_limit: RateLimitSpec | None = None
    resources: dict[Name, Any] | None = None  # checked by podium._utils.rules


class TaskSpec(StrictModel):
    id: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    capability: str | None = Field(None, max_length=MAX_NAME_CHARS)
    agent: str | None = Field(None, max_length=MAX_NAME_CHARS)
    input: Any = None
    depends_on: list[Name] = Field(default_factory=list)
    priority: int | str = "medium"
    timeout: float | None = Field(None, gt=0)
    retry: RetrySpec | None = None
    cache: bool = False
    cache_key: str | None = None
    pattern: str | None = None
    options: dict[str, Any] | None = None
    concurrency: ConcurrencySpec | None = None
    resources: dict[Name, Any] | None = None  # checked by podium._utils.rules
    # a pattern's settings, in a block named after it (see podium.spec.patterns)
    auction: dict[str, Any] | None = None
    consensus: dict[str, Any] | None = None
    delegation: dict[str, Any] | None = None
    pipeline: dict[str, Any] | None = None
    swarm: dict[str, Any] | None = None


class WorkflowSpec(StrictModel):
    name: str = Field(min_length=1)
    description: str | None = None
    on_failure: Literal["fail_fast", "continue"] = "fail_fast"
    max_concurrency: int | None = Field(None, ge=1, le=MAX_CONCURRENCY)
    strategy: Literal["score", "least_loaded", "round_robin"] | None = None
    budget: BudgetSpec | None = None
    rate_limit: RateLimitSpec | None = None
    capabilities: dict[Name, CapabilitySpec] = Field(default_factory=dict)
    agents: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_AGENTS)
    tasks: list[TaskSpec] = Field(min_length=1, max_length=MAX_TASKS)
