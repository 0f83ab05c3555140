"""Pattern settings: one pydantic model per pattern, checked the same way for files and code.

In a workflow file a pattern task names its pattern and gives its settings in a block named
after it::

    - id: review
      capability: review
      pattern: consensus
      consensus: {agents: 3, min_agreement: 0.66, key: verdict}

In Python the same settings are the task's ``options``::

    wf.task("review", capability="review", pattern="consensus",
            options={"agents": 3, "min_agreement": 0.66, "key": "verdict"})

Functions (``normalize``, ``goal``, ``score``, ``aggregate``) are ``"module:function"``
strings in files and either that or a Python callable in code.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from .._utils.code import import_ref
from .._utils.limits import MAX_CAPACITY, MAX_PATTERN_ITEMS
from .._utils.models import StrictModel
from ..errors import HandlerError, ValidationError
from .aggregate import AGGREGATES
from .models import RetrySpec

__all__ = ["PATTERNS", "SETTINGS", "add_pattern_name", "check_options", "resolve_ref"]

# The names a task's ``pattern:`` may take: the built-in ones, and those a program adds with
# `podium.patterns.register_pattern` (which calls `add_pattern_name`). The format keeps its own
# list so that it never imports the code that runs patterns.
PATTERNS: set[str] = {"auction", "consensus", "delegation", "pipeline", "swarm"}

# sequential and parallel are plain DAGs: they need no pattern, only depends_on
_NOT_PATTERNS = ("sequential", "sequence", "parallel")

Ref = str | Callable[..., Any]


class _Settings(StrictModel):  # as strict as the rest of a workflow file (no true for 1)
    model_config = ConfigDict(extra="forbid", strict=False, arbitrary_types_allowed=True)


class ConsensusSettings(_Settings):
    agents: int = Field(
        3, ge=1, le=MAX_PATTERN_ITEMS
    )  # participants (replicas when agents are fewer)
    min_agreement: float = Field(0.5, gt=0, le=1)
    key: str | None = Field(None, min_length=1)  # compare this field (dotted path) only
    normalize: Ref | None = None  # compare normalize(value) instead of the value
    on_error: Literal["fail", "abstain"] = "fail"
    required: bool = False  # no consensus fails the task instead of returning consensus=false


class AuctionSettings(_Settings):
    bid_timeout: float = Field(1.0, gt=0)


class SwarmSettings(_Settings):
    agents: int = Field(3, ge=1, le=MAX_PATTERN_ITEMS)
    goal: Ref | None = None
    score: Ref | None = None
    max_attempts: int | None = Field(None, ge=1, le=MAX_PATTERN_ITEMS)
    time_budget: float | None = Field(None, gt=0)
    seed: int = 0
    topic: str | None = Field(None, min_length=1)


class StageSettings(_Settings):
    capability: str | None = Field(None, min_length=1)
    agent: str | None = Field(None, min_length=1)
    name: str | None = Field(None, min_length=1)
    concurrency: int = Field(1, ge=1, le=MAX_CAPACITY)
    timeout: float | None = Field(None, gt=0)
    retry: RetrySpec | None = None

    @property
    def label(self) -> str:
        return self.name or self.capability or self.agent  # type: ignore[return-value]


class PipelineSettings(_Settings):
    stages: list[StageSettings] = Field(min_length=1, max_length=MAX_PATTERN_ITEMS)
    items: list[Any] | None = None
    items_from: str | None = Field(None, min_length=1)
    queue_size: int = Field(16, ge=1, le=MAX_CAPACITY)
    on_error: Literal["fail", "skip"] = "fail"


class SubtaskSettings(_Settings):
    id: str | None = Field(None, min_length=1)
    capability: str | None = Field(None, min_length=1)
    agent: str | None = Field(None, min_length=1)
    input: Any = None
    priority: int | str | None = None
    timeout: float | None = Field(None, gt=0)
    retry: RetrySpec | None = None


class DelegationSettings(_Settings):
    subtasks: list[SubtaskSettings] = Field(min_length=1, max_length=MAX_PATTERN_ITEMS)
    aggregate: Ref | None = None


SETTINGS: dict[str, type[_Settings]] = {
    "auction": AuctionSettings,
    "consensus": ConsensusSettings,
    "delegation": DelegationSettings,
    "pipeline": PipelineSettings,
    "swarm": SwarmSettings,
}

# settings blocks nested inside a pattern's settings, for "did you mean" hints
_NESTED: dict[str, type[_Settings]] = {"stages": StageSettings, "subtasks": SubtaskSettings}


def add_pattern_name(name: str) -> None:
    """Let tasks say ``pattern: name`` (a pattern registered by a program)."""
    PATTERNS.add(name)


def known_patterns() -> list[str]:
    return sorted(PATTERNS)


def check_pattern_name(
    pattern: Any, *, task: str | None, file: str | None = None, field: str = "pattern"
) -> str:
    """``pattern`` if a coordinator is registered for it, else a ValidationError with a hint."""
    names = known_patterns()
    if isinstance(pattern, str) and pattern in names:
        return pattern
    where = _where(file, task)
    if pattern in _NOT_PATTERNS:
        fix = (
            "Sequential and parallel work need no pattern: tasks without depends_on run in "
            "parallel, and depends_on chains them."
        )
    else:
        hint = difflib.get_close_matches(str(pattern), names, n=1)
        fix = f"Did you mean {hint[0]!r}?" if hint else f"Use one of: {', '.join(names)}."
    raise ValidationError(
        f"{where}pattern {pattern!r} is not a pattern. {fix}", file=file, task=task, field=field
    )


def check_options(
    pattern: str,
    options: Mapping[str, Any] | None,
    *,
    task: str | None,
    depends_on: tuple[str, ...] | list[str] = (),
    file: str | None = None,
) -> _Settings | None:
    """Validate a pattern task's settings; returns the settings model (None for a pattern
    registered by the user, whose options are its own business).

    Errors name the file, the task and the setting (``consensus.min_agreement``).
    """
    model = SETTINGS.get(pattern)
    if model is None:
        return None
    where = _where(file, task)
    if options is not None and not isinstance(options, Mapping):
        raise ValidationError(
            f"{where}{pattern} settings must be a mapping, not {type(options).__name__}.",
            file=file,
            task=task,
            field=pattern,
        )
    try:
        s = model.model_validate(dict(options or {}))
    except pydantic.ValidationError as exc:
        raise _convert(exc, pattern, model, task=task, file=file) from None

    def bad(field: str, msg: str) -> ValidationError:
        return ValidationError(
            f"{where}{pattern}.{field}: {msg}", file=file, task=task, field=f"{pattern}.{field}"
        )

    for name in ("normalize", "goal", "score", "aggregate"):
        ref = getattr(s, name, None)
        if isinstance(ref, str) and not (name == "aggregate" and ref in AGGREGATES):
            mod, sep, attr = ref.partition(":")
            if not (sep and mod and attr):
                also = f"one of {', '.join(AGGREGATES)} or " if name == "aggregate" else ""
                raise bad(name, f"{ref!r} must be {also}'module:function'.")
    if isinstance(s, PipelineSettings):
        if (s.items is None) == (s.items_from is None):
            raise bad(
                "items",
                "give exactly one of 'items' (a list) or 'items_from' (a dependency's id, "
                "optionally with a dotted path into its result: 'fetch.documents').",
            )
        if s.items_from is not None:
            dep = s.items_from.split(".", 1)[0]
            if dep not in depends_on:
                raise bad(
                    "items_from",
                    f"{dep!r} is not in this task's depends_on "
                    f"({', '.join(depends_on) or 'none'}). Add it to depends_on.",
                )
        seen: set[str] = set()
        for i, st in enumerate(s.stages):
            if (st.capability is None) == (st.agent is None):
                raise bad(f"stages.{i}", "give exactly one of 'capability' or 'agent'.")
            if st.label in seen:
                raise bad(
                    f"stages.{i}",
                    f"two stages are called {st.label!r}: give them distinct 'name's "
                    "(subtask ids are <task>/<stage name>/<item index>).",
                )
            seen.add(st.label)
    if isinstance(s, DelegationSettings):
        ids: set[str] = set()
        for i, sub in enumerate(s.subtasks):
            if sub.capability is not None and sub.agent is not None:
                raise bad(f"subtasks.{i}", "give 'capability' or 'agent', not both.")
            if sub.id is not None:
                if sub.id in ids:
                    raise bad(f"subtasks.{i}.id", f"{sub.id!r} is used twice.")
                ids.add(sub.id)
    return s


def default_route(pattern: str, options: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(capability, agent) a pipeline or delegation task stands for when it names neither:
    those of its first stage or subtask (so the task shows up under a real route)."""
    if not isinstance(options, Mapping):
        return None, None
    key = {"pipeline": "stages", "delegation": "subtasks"}.get(pattern)
    items = options.get(key) if key else None
    if isinstance(items, list) and items and isinstance(items[0], Mapping):
        cap, agent = items[0].get("capability"), items[0].get("agent")
        cap = cap if isinstance(cap, str) and cap else None
        agent = agent if isinstance(agent, str) and agent else None
        return (cap, None) if cap else (None, agent)
    return None, None


def resolve_ref(
    ref: Any,
    *,
    field: str,
    task: str | None = None,
    file: str | None = None,
) -> Callable[..., Any]:
    """A callable setting as given, or imported from ``"module:function"`` (looked up next to
    the workflow file first, then in the current directory and on sys.path)."""
    if callable(ref):
        return ref
    obj = import_ref(
        str(ref),
        label=f"{field} {ref!r}",
        base=Path(file).resolve().parent if file else None,
        file=file,
        task=task,
        field=field,
    )
    if not callable(obj):
        raise HandlerError(
            f"{_where(file, task)}{field} {ref!r} is a {type(obj).__name__}, not a function.",
            file=file,
            task=task,
            field=field,
        )
    return obj


def check_refs(s: _Settings, pattern: str, *, task: str | None, file: str | None) -> None:
    """Import every ``module:function`` setting now, so a typo fails before the run starts."""
    for name in ("normalize", "goal", "score", "aggregate"):
        ref = getattr(s, name, None)
        if isinstance(ref, str) and ref not in AGGREGATES:
            resolve_ref(ref, field=f"{pattern}.{name}", task=task, file=file)


def is_number(value: Any) -> bool:
    """A real, finite number (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _where(file: str | None, task: str | None) -> str:
    out = f"{file}: " if file else ""
    if task is not None:
        out += f"task {task!r}: "
    return out


def _convert(
    exc: pydantic.ValidationError,
    pattern: str,
    model: type[_Settings],
    *,
    task: str | None,
    file: str | None,
) -> ValidationError:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    field = ".".join([pattern, *loc])
    where = _where(file, task)
    if err["type"] == "extra_forbidden":
        # the model the unknown key sits in: the pattern's, or a stage / subtask / retry
        owner: type[BaseModel] = model
        for part in loc[:-1]:
            if part in _NESTED:
                owner = _NESTED[part]
            elif part == "retry":
                owner = RetrySpec
        allowed = sorted(owner.model_fields)
        hint = difflib.get_close_matches(loc[-1], allowed, n=1)
        fix = f"Did you mean {hint[0]!r}?" if hint else f"Allowed: {', '.join(allowed)}."
        inside = ".".join([pattern, *loc[:-1]])
        msg = f"{where}unknown setting {loc[-1]!r} in {inside}. {fix}"
    elif err["type"] == "missing":
        msg = f"{where}{field} is required."
    else:
        text = err["msg"].removeprefix("Value error, ")
        if text.startswith("Input should be"):
            text = "should be" + text[len("Input should be") :]
        msg = f"{where}{field}: {text} (got {err.get('input')!r})."
    return ValidationError(msg, file=file, task=task, field=field)


def spec_options(t: Any, *, file: str | None) -> dict[str, Any] | None:
    """The settings of a workflow file's pattern task (a ``TaskSpec``), checked: the pattern
    exists, its block matches it, the settings are valid and their functions import."""
    blocks = {name: getattr(t, name) for name in SETTINGS if getattr(t, name) is not None}
    where = _where(file, t.id)
    if t.pattern is None:
        name = next(iter(blocks))
        raise ValidationError(
            f"{where}a {name!r} block needs 'pattern: {name}' on the task.",
            file=file,
            task=t.id,
            field=name,
        )
    pattern = check_pattern_name(t.pattern, task=t.id, file=file)
    for name in blocks:
        if name != pattern:
            raise ValidationError(
                f"{where}the {name!r} block does not match 'pattern: {pattern}': settings of "
                f"pattern {pattern!r} go in a {pattern!r} block.",
                file=file,
                task=t.id,
                field=name,
            )
    if pattern not in SETTINGS:
        return t.options  # a pattern of the user's: its options are its own
    if t.options is not None:
        raise ValidationError(
            f"{where}settings of pattern {pattern!r} go in a {pattern!r} block, not in 'options'.",
            file=file,
            task=t.id,
            field="options",
        )
    options = blocks.get(pattern)
    s = check_options(pattern, options, task=t.id, depends_on=t.depends_on, file=file)
    check_refs(s, pattern, task=t.id, file=file)  # type: ignore[arg-type]
    return options
