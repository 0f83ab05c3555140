"""Workflow files (YAML or JSON): load, validate with pydantic, turn into a `Workflow`.

Every problem becomes a `ValidationError` (or `HandlerError`) that names the file, the task
and the field, and says what to do; unknown fields are errors, so typos do not pass silently.
Agents are built by their kind (``kind:``, default ``python``; see `podium.agents.kinds`).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel

from .._utils.code import allow_modules as allowing
from .._utils.code import handler_packages
from .._utils.limits import MAX_FILE_BYTES, excerpt
from .._utils.rules import check_rate_limit, check_resources
from ..agents.agent import Agent
from ..agents.kinds import AgentSpec, BreakerSpec, Origin, ReplicasSpec, get_kind
from ..errors import ValidationError
from .files import parse_json, parse_yaml
from .models import (
    BudgetSpec,
    CapabilitySpec,
    ConcurrencySpec,
    RateLimitSpec,
    RetrySpec,
    TaskSpec,
    WorkflowSpec,
)
from .workflow import Retry, Task, Workflow, parse_priority

__all__ = ["build_agent", "load_workflow", "parse_workflow", "read_file"]


def read_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a YAML or JSON workflow file into a mapping; errors name the file and line."""
    p = Path(path)
    src = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValidationError(
                f"{src}: the file has {size:,} bytes, more than podium's limit of "
                f"{MAX_FILE_BYTES:,} for a workflow file; split the workflow.",
                file=src,
            )
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


def load_workflow(
    path: str | os.PathLike[str], *, allow_modules: Iterable[str] | None = None
) -> Workflow:
    """Load and validate a workflow file; handlers are imported from its folder.

    The file may name code (handlers, pattern functions) from its own folder, its handlers'
    package, or the modules in ``allow_modules`` (and ``PODIUM_ALLOW_MODULES``); see
    docs/safety.md.
    """
    return parse_workflow(read_file(path), source=str(path), allow_modules=allow_modules)


def parse_workflow(
    data: dict[str, Any],
    *,
    source: str | None = None,
    allow_modules: Iterable[str] | None = None,
) -> Workflow:
    """Validate a workflow mapping (as read from a file) and build the `Workflow`; code it
    names comes from the file's folder (the current one without ``source``), its handlers'
    package or ``allow_modules``."""
    with allowing(allow_modules):
        return _parse_workflow(data, source)


def _parse_workflow(data: dict[str, Any], source: str | None) -> Workflow:
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
        budget=spec.budget.model_dump(exclude_none=True) if spec.budget else None,
        rate_limit=spec.rate_limit.model_dump() if spec.rate_limit else None,
        capabilities={
            cap: rules.model_dump(exclude_none=True) for cap, rules in spec.capabilities.items()
        },
    )
    origin = Origin(source, Path(source).resolve().parent if source else None)
    names: set[str] = set()
    for i, raw in enumerate(spec.agents):
        agent = build_agent(raw, origin, index=i, data=data)
        if agent.name in names:
            raise ValidationError(
                f"{prefix}agent name {excerpt(agent.name)} is used more than once.",
                file=source,
                field="agents",
            )
        names.add(agent.name)
        wf.add_agent(agent)
    with handler_packages(_handler_packages(spec.agents)):
        _add_tasks(wf, spec, source, prefix)
    return wf


def _handler_packages(agents: list[dict[str, Any]]) -> set[str]:
    """The packages of the workflow's handlers (``podium.demo`` for ``podium.demo.agents:f``;
    the module itself when it is top-level): its pattern functions may come from there."""
    out = set()
    for raw in agents:
        ref = raw.get("handler")
        if isinstance(ref, str) and ":" in ref:
            module = ref.partition(":")[0]
            out.add(module.rpartition(".")[0] or module)
    return out


def _add_tasks(wf: Workflow, spec: WorkflowSpec, source: str | None, prefix: str) -> None:
    for t in spec.tasks:
        options = t.options
        if t.pattern is not None or _has_pattern_block(t):
            from .patterns import default_route, spec_options

            options = spec_options(t, file=source)
            if t.capability is None and t.agent is None:
                t.capability, t.agent = default_route(t.pattern, options)  # type: ignore[arg-type]
        if (t.capability is None) == (t.agent is None):
            raise ValidationError(
                f"{prefix}task {excerpt(t.id)}: give exactly one of 'capability' or 'agent'.",
                file=source,
                task=t.id,
                field="capability",
            )
        resources = None
        if t.resources is not None:  # (the owner's excerpt costs a repr: only when needed)
            try:
                resources = check_resources(t.resources, owner=f"task {excerpt(t.id)}", task=t.id)
            except ValidationError as exc:
                raise ValidationError(
                    f"{prefix}{exc.message}", file=source, task=t.id, field=exc.field
                ) from None
        retry = None
        if t.retry is not None:
            retry = Retry(**t.retry.model_dump())
        try:  # Task checks the input is JSON (and the rest): say which file it is in
            task = Task(
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
                concurrency=t.concurrency.model_dump() if t.concurrency else None,
                resources=resources,
            )
        except ValidationError as exc:
            if exc.file is not None:
                raise
            raise ValidationError(
                f"{prefix}{exc.message}", file=source, task=exc.task or t.id, field=exc.field
            ) from None
        wf.add(task)


def build_agent(
    raw: dict[str, Any],
    origin: Origin = Origin(),
    *,
    index: int = 0,
    data: dict[str, Any] | None = None,
) -> Agent:
    """Build one agent from its mapping in a file's ``agents:`` list, through its kind."""
    source = origin.file
    name = raw.get("name") if isinstance(raw.get("name"), str) else None
    kind = get_kind(raw.get("kind", "python"), file=source, agent=name)
    try:
        spec = kind.spec.model_validate(raw)
    except pydantic.ValidationError as exc:
        doc = data if data is not None else {"agents": [raw]}
        raise _convert(exc, doc, source, prefix=("agents", index), agent_model=kind.spec) from None
    try:
        agent = kind.build(spec, origin)
        if spec.rate_limit is not None:  # every kind has one; set here, not by each kind
            agent.rate_limit = check_rate_limit(spec.rate_limit, owner=f"agent {spec.name!r}")
        if spec.batch is not None:
            if kind.name != "python":
                raise ValidationError(
                    f"agent {spec.name!r}: batch is for kind: python agents, not kind: "
                    f"{kind.name}.",
                    field="batch",
                )
            agent.use_batch(spec.batch)
        if isinstance(spec.resources, dict) and kind.name != "ray":
            agent.offers = check_resources(spec.resources, owner=f"agent {spec.name!r}")
        return agent
    except ValidationError as exc:
        if exc.file is not None:  # already says where
            raise
        raise ValidationError(
            f"{origin.prefix}{exc.message}", file=source, field=f"agents.{exc.field}"
        ) from None


def _has_pattern_block(t: TaskSpec) -> bool:
    return not (
        t.auction is None
        and t.consensus is None
        and t.delegation is None
        and t.pipeline is None
        and t.swarm is None
    )


def _convert(
    exc: pydantic.ValidationError,
    data: dict[str, Any],
    source: str | None,
    *,
    prefix: tuple[Any, ...] = (),
    agent_model: type[AgentSpec] = AgentSpec,
) -> ValidationError:
    err = exc.errors()[0]
    loc = [*prefix, *err["loc"]]
    full = list(loc)
    task_id = None
    head = f"{source}: " if source else ""
    where = ""
    if len(loc) >= 2 and loc[0] in ("tasks", "agents") and isinstance(loc[1], int):
        items = data.get(loc[0])
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        ident = item.get("id" if loc[0] == "tasks" else "name") if isinstance(item, dict) else None
        kind = "task" if loc[0] == "tasks" else "agent"
        if loc[0] == "tasks" and isinstance(ident, str):
            task_id = ident
        where = f"{kind} {excerpt(ident)}: " if ident is not None else f"{kind} #{loc[1] + 1}: "
        loc = loc[2:]
    field = ".".join(str(p) for p in loc if not isinstance(p, int)) or None
    if err["type"] == "extra_forbidden":
        name = excerpt(str(loc[-1]), 60).strip("'\"")
        allowed = _allowed_fields(full, agent_model)
        hint = difflib.get_close_matches(name, allowed, n=1)
        fix = f" Did you mean {hint[0]!r}?" if hint else f" Allowed: {', '.join(allowed)}."
        msg = f"{head}{where}unknown field {name!r}.{fix}"
    elif err["type"] == "missing":
        msg = f"{head}{where}field {field!r} is required."
    else:
        shown = f"field {field!r}" if field else "value"
        msg = f"{head}{where}{shown}: {err['msg']} (got {excerpt(err.get('input'))})."
    return ValidationError(msg, file=source, task=task_id, field=field)


def _allowed_fields(loc: list[Any], agent_model: type[AgentSpec]) -> list[str]:
    nested: dict[str, type[BaseModel]] = {
        "tasks": TaskSpec,
        "agents": agent_model,
        "retry": RetrySpec,
        "budget": BudgetSpec,
        "rate_limit": RateLimitSpec,
        "concurrency": ConcurrencySpec,
        "capabilities": CapabilitySpec,
        "circuit_breaker": BreakerSpec,
        "replicas": ReplicasSpec,
    }
    model: type[BaseModel] = WorkflowSpec
    for part in loc[:-1]:
        if isinstance(part, str) and part in nested:
            model = nested[part]
    return sorted(f.alias or name for name, f in model.model_fields.items())
