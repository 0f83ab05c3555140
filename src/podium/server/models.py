"""Request and response bodies of the API, as pydantic models: they make the OpenAPI schema
(``/openapi.json``) and validate what comes in. Documents that mirror the CLI's ``--json``
output (a run, a task state) are described loosely: their shape is documented in the docs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AgentIn",
    "AgentPatch",
    "Error",
    "KeyIn",
    "LeaseIn",
    "MessageIn",
    "ReportIn",
    "RunCreated",
    "ScaleIn",
    "TaskIn",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(BaseModel):
    error: str
    message: str
    field: str | None = None
    task: str | None = None
    file: str | None = None


class RunCreated(BaseModel):
    run_id: str
    status: str
    created: bool = Field(description="false: the Idempotency-Key was seen, this is the first run")
    url: str


class RunAction(BaseModel):
    run_id: str
    status: str


class TaskIn(Strict):
    capability: str | None = Field(None, min_length=1)
    agent: str | None = Field(None, min_length=1)
    input: Any = None
    timeout: float | None = Field(None, gt=0)
    retry: dict[str, Any] | None = None
    priority: int | str = "medium"
    wait: float = Field(0, ge=0, le=300, description="seconds to wait for the result")


class AgentIn(BaseModel):
    """An agent to register: ``url`` makes a push agent (kind http); a worker registers with
    kind ``worker``. Other fields are those of a workflow file's agents."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, max_length=128)
    kind: Literal["http", "worker", "python"] | None = None
    url: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    capacity: int = Field(10, ge=1, le=100_000)


class AgentPatch(Strict):
    capacity: int | None = Field(None, ge=1, le=100_000)
    metadata: dict[str, Any] | None = None


class ScaleIn(Strict):
    min: int | None = Field(None, ge=0, le=10_000)
    max: int | None = Field(None, ge=1, le=10_000)
    capacity: int | None = Field(None, ge=1, le=100_000)


class LeaseIn(Strict):
    max: int = Field(1, ge=1, le=10_000, description="tasks wanted at most")
    wait: float = Field(0, ge=0, le=60, description="seconds to wait for a first task")


class Report(Strict):
    token: str = Field(min_length=1, max_length=200)
    result: Any = None
    error: str | None = None


class ReportIn(Strict):
    results: list[Report] = Field(max_length=10_000)


class HeartbeatIn(Strict):
    tokens: list[str] = Field(default_factory=list, max_length=10_000)


class MessageIn(Strict):
    payload: Any = None
    sender: str | None = Field(None, min_length=1)


class KeyIn(Strict):
    role: Literal["admin", "operator", "viewer", "worker"]
    name: str | None = Field(None, max_length=200)
    rate_limit: float | None = Field(None, gt=0)
