"""Workflow files (YAML or JSON): load, validate with pydantic, turn into a `Workflow`.

Every problem becomes a `ValidationError` (or `HandlerError`) that names the file, the task
and the field, and says what to do; unknown fields are errors, so typos do not pass silently.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from pathlib import Path
from typing import Any, Literal, get_args

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ._files import parse_json, parse_yaml
from ._json import json_problem
from .agents import Agent
from .errors import HandlerError, ValidationError
from .workflow import Retry, Task, Workflow, parse_priority

__all__ = ["load_workflow", "parse_workflow", "read_file", "resolve_handler"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # YAML's true/false would otherwise pass as 1/0 in number fields
        if isinstance(value, bool) and info.field_name is not None:
            ann = cls.model_fields[info.field_name].annotation
            if ann is not bool and ann is not Any and bool not in get_args(ann):
                raise ValueError(f"expected a number or text, not the boolean {value}")
        return value


class RetrySpec(_Model):
    max_attempts: int = Field(1, ge=1, le=1000)
    backoff: Literal["fixed", "exponential"] = "exponential"
    initial_delay: float = Field(0.5, ge=0)
    max_delay: float = Field(30.0, ge=0)
    jitter: float = Field(0.1, ge=0, le=1)


class BreakerSpec(_Model):
    failures: int = Field(5, ge=1)
    cooldown: float = Field(30.0, ge=0)


class ReplicasSpec(_Model):
    min: int = Field(1, ge=0)
    max: int = Field(1, ge=1)


class AgentSpec(_Model):
    name: str = Field(min_length=1)
    capabilities: list[str] = Field(default_factory=list)
    capacity: int = Field(10, ge=1)
    handler: str = Field(min_length=1)
    estimated_time: float | None = Field(None, gt=0)
    cost_estimate: float | None = Field(None, ge=0)
    executor: Literal["async", "thread", "inline"] | None = None
    circuit_breaker: BreakerSpec | None = None
    heartbeat_timeout: float | None = Field(None, gt=0)
    replicas: ReplicasSpec | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class TaskSpec(_Model):
    id: str = Field(min_length=1)
    capability: str | None = None
    agent: str | None = None
    input: Any = None
    depends_on: list[str] = Field(default_factory=list)
    priority: int | str = "medium"
    timeout: float | None = Field(None, gt=0)
    retry: RetrySpec | None = None
    cache: bool = False
    cache_key: str | None = None
    pattern: str | None = None
    options: dict[str, Any] | None = None
    # a pattern's settings, in a block named after it (see podium.patterns._settings)
    auction: dict[str, Any] | None = None
    consensus: dict[str, Any] | None = None
    delegation: dict[str, Any] | None = None
    pipeline: dict[str, Any] | None = None
    swarm: dict[str, Any] | None = None


class WorkflowSpec(_Model):
    name: str = Field(min_length=1)
    description: str | None = None
    on_failure: Literal["fail_fast", "continue"] = "fail_fast"
    max_concurrency: int | None = Field(None, ge=1)
    strategy: Literal["score", "least_loaded", "round_robin"] | None = None
    agents: list[AgentSpec] = Field(default_factory=list)
    tasks: list[TaskSpec] = Field(min_length=1)


def read_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a YAML or JSON workflow file into a mapping; errors name the file and line."""
    p = Path(path)
    src = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"{src}: no such file.", file=src) from None
    except IsADirectoryError:
        raise ValidationError(f"{src}: is a directory, not a workflow file.", file=src) from None
    except UnicodeDecodeError:
        raise ValidationError(f"{src}: is not UTF-8 text.", file=src) from None
    except OSError as exc:
        raise ValidationError(f"{src}: cannot read it: {exc.strerror}.", file=src) from None
    data = parse_json(text, src) if p.suffix.lower() == ".json" else parse_yaml(text, src)
    if data is None:
        raise ValidationError(
            f"{src}: the file is empty. A workflow file is a mapping with 'name' and 'tasks'.",
            file=src,
        )
    if not isinstance(data, dict):
        raise ValidationError(
            f"{src}: a workflow file is a mapping with 'name' and 'tasks', "
            f"not {type(data).__name__}.",
            file=src,
        )
    return data


def load_workflow(path: str | os.PathLike[str]) -> Workflow:
    """Load and validate a workflow file; handlers are imported relative to its folder."""
    return parse_workflow(read_file(path), source=str(path))


def parse_workflow(data: dict[str, Any], *, source: str | None = None) -> Workflow:
    """Validate a workflow mapping (as read from a file) and build the `Workflow`."""
    try:
        spec = WorkflowSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _convert(exc, data, source) from None
    prefix = f"{source}: " if source else ""
    wf = Workflow(
        spec.name,
        on_failure=spec.on_failure,
        max_concurrency=spec.max_concurrency,
        strategy=spec.strategy,
        source=source,
    )
    base = Path(source).resolve().parent if source else None
    names: set[str] = set()
    for a in spec.agents:
        if a.name in names:
            raise ValidationError(
                f"{prefix}agent name {a.name!r} is used more than once.",
                file=source,
                field="agents",
            )
        names.add(a.name)
        wf.add_agent(_build_agent(a, base, source))
    for t in spec.tasks:
        where = f"{prefix}task {t.id!r}: "
        options = t.options
        if t.pattern is not None or _has_pattern_block(t):
            from .patterns._settings import default_route, spec_options

            options = spec_options(t, file=source)
            if t.capability is None and t.agent is None:
                t.capability, t.agent = default_route(t.pattern, options)  # type: ignore[arg-type]
        if (t.capability is None) == (t.agent is None):
            raise ValidationError(
                f"{where}give exactly one of 'capability' or 'agent'.",
                file=source,
                task=t.id,
                field="capability",
            )
        problem = json_problem(t.input)
        if problem is not None:
            raise ValidationError(
                f"{where}input contains {problem}, which is not JSON.",
                file=source,
                task=t.id,
                field="input",
            )
        retry = None
        if t.retry is not None:
            retry = Retry(**t.retry.model_dump())
        wf.add(
            Task(
                t.id,
                capability=t.capability,
                agent=t.agent,
                input=t.input,
                depends_on=t.depends_on,
                priority=parse_priority(t.priority, task=t.id, file=source),
                timeout=t.timeout,
                retry=retry,
                cache=t.cache,
                cache_key=t.cache_key,
                pattern=t.pattern,
                options=options,
            )
        )
    return wf


def _has_pattern_block(t: TaskSpec) -> bool:
    return any(b is not None for b in (t.auction, t.consensus, t.delegation, t.pipeline, t.swarm))


def _build_agent(a: AgentSpec, base: Path | None, source: str | None) -> Agent:
    obj = resolve_handler(a.handler, base=base, source=source, agent=a.name)
    options: dict[str, Any] = {
        "name": a.name,
        "capabilities": a.capabilities,
        "capacity": a.capacity,
        "estimated_time": a.estimated_time,
        "cost_estimate": a.cost_estimate,
        "executor": a.executor,
        "metadata": a.metadata,
        "heartbeat_timeout": a.heartbeat_timeout,
        "replicas": a.replicas.model_dump() if a.replicas else None,
    }
    if a.circuit_breaker is not None:
        options["breaker_failures"] = a.circuit_breaker.failures
        options["breaker_cooldown"] = a.circuit_breaker.cooldown
    try:
        if isinstance(obj, type) and issubclass(obj, Agent):
            return _instantiate(obj, a, source, **options)
        if isinstance(obj, type):
            if not callable(getattr(obj, "handle", None)):
                raise HandlerError(
                    f"{source}: agent {a.name!r}: handler {a.handler!r} is a class without a "
                    "handle(self, ctx) method.",
                    file=source,
                    field="handler",
                )
            return Agent(handler=_instantiate(obj, a, source).handle, **options)
        return Agent(handler=obj, **options)
    except ValidationError as exc:
        prefix = f"{source}: " if source else ""
        raise ValidationError(
            f"{prefix}{exc.message}", file=source, field=f"agents.{exc.field}"
        ) from None


def _instantiate(cls: type, a: AgentSpec, source: str | None, **options: Any) -> Any:
    """An instance of a handler class; a HandlerError naming the agent when it cannot be made."""
    try:
        return cls(**options)
    except (ValidationError, HandlerError):
        raise
    except Exception as exc:
        call = (
            f"{cls.__name__}(name=..., capabilities=..., ...)" if options else f"{cls.__name__}()"
        )
        raise HandlerError(
            f"{source}: agent {a.name!r}: handler {a.handler!r}: {call} raised "
            f"{type(exc).__name__}: {exc}",
            file=source,
            field="handler",
        ) from None


def resolve_handler(
    ref: str,
    *,
    base: Path | None = None,
    source: str | None = None,
    agent: str | None = None,
) -> Any:
    """Import ``module:attr`` (``attr`` may be dotted); ``base`` is searched first."""
    where = f"{source}: " if source else ""
    if agent is not None:
        where += f"agent {agent!r}: "
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise HandlerError(
            f"{where}handler {ref!r} must look like 'module:function' or 'module:Class'.",
            file=source,
            field="handler",
        )
    for folder in (str(base) if base else None, os.getcwd()):
        # A plain folder goes first, so the user's my_agents.py beats an installed namesake.
        # A package's folder never goes on sys.path: its modules would shadow top-level ones
        # (its handlers are named by their package, like podium.demo.agents:research).
        if folder and folder not in sys.path and not os.path.exists(f"{folder}/__init__.py"):
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise HandlerError(
            f"{where}handler {ref!r}: cannot import module {exc.name!r}. Put {module_name}.py "
            "next to the workflow file or install the package that provides it.",
            file=source,
            field="handler",
        ) from None
    except Exception as exc:
        raise HandlerError(
            f"{where}handler {ref!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}",
            file=source,
            field="handler",
        ) from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise HandlerError(
                f"{where}handler {ref!r}: module {module_name!r} has no {attr!r}.",
                file=source,
                field="handler",
            ) from None
    if not callable(obj):
        raise HandlerError(
            f"{where}handler {ref!r} is a {type(obj).__name__}, not a function or class.",
            file=source,
            field="handler",
        )
    return obj


def _convert(
    exc: pydantic.ValidationError, data: dict[str, Any], source: str | None
) -> ValidationError:
    err = exc.errors()[0]
    loc = list(err["loc"])
    full = list(loc)
    task_id = None
    prefix = f"{source}: " if source else ""
    where = ""
    if len(loc) >= 2 and loc[0] in ("tasks", "agents") and isinstance(loc[1], int):
        items = data.get(loc[0])
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        ident = item.get("id" if loc[0] == "tasks" else "name") if isinstance(item, dict) else None
        kind = "task" if loc[0] == "tasks" else "agent"
        if loc[0] == "tasks" and isinstance(ident, str):
            task_id = ident
        where = f"{kind} {ident!r}: " if ident is not None else f"{kind} #{loc[1] + 1}: "
        loc = loc[2:]
    field = ".".join(str(p) for p in loc if not isinstance(p, int)) or None
    if err["type"] == "extra_forbidden":
        name = str(loc[-1])
        allowed = _allowed_fields(full)
        hint = difflib.get_close_matches(name, allowed, n=1)
        fix = f" Did you mean {hint[0]!r}?" if hint else f" Allowed: {', '.join(allowed)}."
        msg = f"{prefix}{where}unknown field {name!r}.{fix}"
    elif err["type"] == "missing":
        msg = f"{prefix}{where}field {field!r} is required."
    else:
        shown = f"field {field!r}" if field else "value"
        msg = f"{prefix}{where}{shown}: {err['msg']} (got {err.get('input')!r})."
    return ValidationError(msg, file=source, task=task_id, field=field)


def _allowed_fields(loc: list[Any]) -> list[str]:
    nested: dict[str, type[BaseModel]] = {
        "tasks": TaskSpec,
        "agents": AgentSpec,
        "retry": RetrySpec,
        "circuit_breaker": BreakerSpec,
        "replicas": ReplicasSpec,
    }
    model: type[BaseModel] = WorkflowSpec
    for part in loc[:-1]:
        if isinstance(part, str) and part in nested:
            model = nested[part]
    return sorted(model.model_fields)
