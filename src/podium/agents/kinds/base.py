"""The agent-kind seam: how one way of running an agent plugs into podium.

A workflow file's agent says ``kind: <name>`` (default ``python``). The kind owns two things:

- ``spec``: a pydantic model of the agent's fields, `AgentSpec` (what every agent has: name,
  capabilities, capacity, breaker, replicas, ...) plus its own. podium validates the file's
  mapping with it, so errors name the file, the agent and the field like any other.
- ``build(spec, origin)``: returns an `Agent`, the one thing the engine knows how to run. An
  agent whose work happens elsewhere (an HTTP service, a Ray actor, a model) is an `Agent`
  whose handler is a coroutine that waits for that work; ``setup`` and ``teardown`` open and
  close what it needs.

Adding a kind is one module with an `AgentKind` subclass plus `register_kind`; the engine's
hot loop never changes. A kind imports its heavy libraries inside ``build`` (or the agent's
``setup``), so workflows that do not use it never pay for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field

from ..._utils.limits import (
    MAX_BREAKER_FAILURES,
    MAX_CAPACITY,
    MAX_NAME_CHARS,
    MAX_REPLICAS,
)
from ..._utils.models import StrictModel

if TYPE_CHECKING:
    from ..agent import Agent

__all__ = ["AgentKind", "AgentSpec", "BreakerSpec", "Origin", "ReplicasSpec"]


class BreakerSpec(StrictModel):
    failures: int = Field(5, ge=1, le=MAX_BREAKER_FAILURES)
    cooldown: float = Field(30.0, ge=0)


class ReplicasSpec(StrictModel):
    min: int = Field(1, ge=0, le=MAX_REPLICAS)
    max: int = Field(1, ge=1, le=MAX_REPLICAS)


class AgentSpec(StrictModel):
    """The fields every agent has, whatever its kind. A kind's model subclasses it."""

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    kind: str = "python"
    capabilities: list[Annotated[str, Field(max_length=MAX_NAME_CHARS)]] = Field(
        default_factory=list, max_length=MAX_NAME_CHARS
    )
    capacity: int = Field(10, ge=1, le=MAX_CAPACITY)
    estimated_time: float | None = Field(None, gt=0)
    cost_estimate: float | None = Field(None, ge=0)
    circuit_breaker: BreakerSpec | None = None
    heartbeat_timeout: float | None = Field(None, gt=0)
    replicas: ReplicasSpec | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    # {requests, tokens, per}: checked again, and set on the built agent, by the loader
    rate_limit: dict[str, Any] | None = None
    # what its tasks may hold at once, {cpu: 4, gpu: 1, memory: 8GB} (kind: ray means the
    # actor's placement by it instead); set on the built agent by the loader
    resources: dict[str, Any] | None = None
    batch: dict[str, Any] | None = None  # {max_size, max_wait}; set by the loader

    def agent_options(self) -> dict[str, Any]:
        """The `Agent` constructor's arguments for the fields every kind shares."""
        options: dict[str, Any] = {
            "name": self.name,
            "capabilities": self.capabilities,
            "capacity": self.capacity,
            "estimated_time": self.estimated_time,
            "cost_estimate": self.cost_estimate,
            "metadata": self.metadata,
            "heartbeat_timeout": self.heartbeat_timeout,
            "replicas": self.replicas.model_dump() if self.replicas else None,
        }
        if self.circuit_breaker is not None:
            options["breaker_failures"] = self.circuit_breaker.failures
            options["breaker_cooldown"] = self.circuit_breaker.cooldown
        return options


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an agent's declaration comes from: the file (for messages) and its folder (where
    code the file names is looked up)."""

    file: str | None = None
    base: Path | None = None

    @property
    def prefix(self) -> str:
        return f"{self.file}: " if self.file else ""

    def load(self, spec: AgentSpec, field: str) -> Any:
        """The object that ``spec``'s ``field`` names (``module:attr``), imported under the
        rule for code a file names; errors name the file, the agent and the field."""
        from ..._utils.code import import_ref

        ref = getattr(spec, field)
        return import_ref(
            ref,
            label=f"{field} {ref!r}",
            base=self.base,
            file=self.file,
            agent=spec.name,
            field=field,
        )


class AgentKind:
    """One way of running an agent. Subclass it, set ``name`` and ``spec``, define ``build``.

    >>> class EchoKind(AgentKind):
    ...     name = "echo"
    ...     spec = AgentSpec
    ...     def build(self, spec, origin):
    ...         return Agent(handler=lambda ctx: ctx.input, **spec.agent_options())
    >>> register_kind(EchoKind())
    """

    name: ClassVar[str]
    spec: ClassVar[type[AgentSpec]] = AgentSpec

    def build(self, spec: Any, origin: Origin) -> Agent:
        """The agent declared by ``spec`` (an instance of ``self.spec``)."""
        raise NotImplementedError
