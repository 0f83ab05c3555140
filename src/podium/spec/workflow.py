"""Workflows built in code: a named DAG of tasks plus the agents and policies of its runs.

The same objects come out of a workflow file (see ``podium.spec``), so the engine sees one
shape whatever the source. Tasks are plain slotted objects: a workflow of a million tasks
must fit in memory, so nothing here is a pydantic model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._utils.json_values import _ATOMS, json_problem
from .._utils.limits import excerpt
from .._utils.rules import check_concurrency, check_rate_limit, check_resources
from ..errors import ValidationError

if TYPE_CHECKING:
    from ..agents.agent import Agent

__all__ = ["PRIORITIES", "Retry", "Task", "Workflow", "check_budget", "parse_priority"]

PRIORITIES: dict[str, int] = {"critical": 10, "high": 8, "medium": 5, "low": 2}
ON_FAILURE = ("fail_fast", "continue")


def parse_priority(value: object, *, task: str | None = None, file: str | None = None) -> int:
    """Turn ``critical|high|medium|low`` or an integer 1-10 into 1-10 (higher runs first)."""
    if isinstance(value, str):
        if value in PRIORITIES:
            return PRIORITIES[value]
        raise ValidationError(
            f"{_where(file, task)}priority {excerpt(value)} is not one of critical, high, "
            "medium, low or an integer 1-10.",
            file=file,
            task=task,
            field="priority",
        )
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10:
        return value
    raise ValidationError(
        f"{_where(file, task)}priority {excerpt(value)} must be critical, high, medium, low "
        "or an integer 1-10.",
        file=file,
        task=task,
        field="priority",
    )


def _where(file: str | None, task: str | None) -> str:
    parts = []
    if file:
        parts.append(f"{file}: ")
    if task is not None:
        parts.append(f"task {task!r}: ")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Retry:
    """How often a failed task is tried and how long to wait between tries.

    >>> Retry(max_attempts=3, backoff="exponential", initial_delay=0.5, max_delay=10)
    """

    max_attempts: int = 1
    backoff: str = "exponential"  # or "fixed"
    initial_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.1  # +- this fraction of the delay, so retries of many tasks spread out

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds to wait before try ``attempt + 1``; ``rand`` is uniform in [0, 1)."""
        if self.backoff == "fixed":
            base = self.initial_delay
        else:
            base = self.initial_delay * (2 ** (attempt - 1))
        base = min(base, self.max_delay)
        return max(0.0, base * (1.0 + self.jitter * (2.0 * rand - 1.0)))


NO_RETRY = Retry()


class Task:
    """One unit of work: asks for a capability (or one agent by name), gets its dependencies'
    results, and produces a JSON result.

    >>> Task("summary", capability="write", depends_on=["fetch"], priority="high")
    """

    __slots__ = (
        "agent",
        "cache",
        "cache_key",
        "capability",
        "concurrency",
        "depends_on",
        "id",
        "input",
        "options",
        "pattern",
        "priority",
        "resources",
        "retry",
        "timeout",
    )

    def __init__(
        self,
        id: str,
        *,
        capability: str | None = None,
        agent: str | None = None,
        input: Any = None,
        depends_on: Iterable[str] = (),
        priority: int | str = 5,
        timeout: float | None = None,
        retry: Retry | Mapping[str, Any] | None = None,
        cache: bool = False,
        cache_key: str | None = None,
        pattern: str | None = None,
        options: Mapping[str, Any] | None = None,
        concurrency: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(id, str) or not id:
            raise ValidationError(f"task id {id!r} must be a non-empty string.", field="id")
        if pattern is not None and capability is None and agent is None:
            capability, agent = _pattern_route(pattern, options)
        if capability is None and agent is None:
            raise ValidationError(
                f"task {id!r}: give a capability or an agent to run it.",
                task=id,
                field="capability",
            )
        self.id = id
        self.capability = capability
        self.agent = agent
        if input is None:
            input = {}
        elif type(input) not in _ATOMS:
            problem = json_problem(input)
            if problem is not None:
                raise ValidationError(
                    f"task {id!r}: input contains {problem}, which is not JSON.",
                    task=id,
                    field="input",
                )
        self.input = input
        if isinstance(depends_on, str):
            raise ValidationError(
                f"task {id!r}: depends_on must be a list of task ids, not the string "
                f"{depends_on!r}: write depends_on=[{depends_on!r}].",
                task=id,
                field="depends_on",
            )
        self.depends_on = tuple(depends_on) if depends_on else ()
        self.priority = (
            priority
            if type(priority) is int and 1 <= priority <= 10
            else parse_priority(priority, task=id)
        )
        if timeout is not None and (
            not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0
        ):
            raise ValidationError(
                f"task {id!r}: timeout must be a positive number of seconds, not {timeout!r}.",
                task=id,
                field="timeout",
            )
        self.timeout = timeout
        if retry is None:
            self.retry = NO_RETRY
        elif isinstance(retry, Retry):
            self.retry = retry
        else:
            self.retry = _retry_from(id, retry)
        self.cache = cache or cache_key is not None
        self.cache_key = cache_key
        self.pattern = pattern
        self.options = dict(options) if options else None
        # at most ``max`` tasks with the same key at once (podium.engine.gates)
        self.concurrency = (
            None
            if concurrency is None
            else check_concurrency(concurrency, owner=f"task {id!r}", task=id)
        )
        # what it needs of its agent's resources while it runs (podium.engine.gates)
        self.resources = (
            None if resources is None else check_resources(resources, owner=f"task {id!r}", task=id)
        )
        if pattern is not None:
            _check_pattern(self)

    @property
    def route(self) -> str:
        """What the task asks for: ``agent:<name>`` when pinned, else the capability."""
        return f"agent:{self.agent}" if self.agent is not None else self.capability  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id}
        if self.capability is not None:
            d["capability"] = self.capability
        if self.agent is not None:
            d["agent"] = self.agent
        if self.input:
            d["input"] = self.input
        if self.depends_on:
            d["depends_on"] = list(self.depends_on)
        d["priority"] = self.priority
        if self.timeout is not None:
            d["timeout"] = self.timeout
        if self.retry is not NO_RETRY:
            r = self.retry
            d["retry"] = {
                "max_attempts": r.max_attempts,
                "backoff": r.backoff,
                "initial_delay": r.initial_delay,
                "max_delay": r.max_delay,
                "jitter": r.jitter,
            }
        if self.pattern is not None:
            d["pattern"] = self.pattern
        if self.concurrency is not None:
            d["concurrency"] = dict(self.concurrency)
        if self.resources is not None:
            d["resources"] = dict(self.resources)
        if self.options:
            # a pattern's settings sit in a block named after it, as in a workflow file
            d[self.pattern if self.pattern in _PATTERN_BLOCKS else "options"] = self.options
        return d

    def __repr__(self) -> str:
        return f"Task({self.id!r}, route={self.route!r}, depends_on={list(self.depends_on)!r})"


_PATTERN_BLOCKS = ("auction", "consensus", "delegation", "pipeline", "swarm")

# each retry field: (lowest, highest) for numbers, the choices for text
_RETRY_FIELDS: dict[str, tuple[Any, ...]] = {
    "max_attempts": (1, 1000),
    "backoff": ("exponential", "fixed"),
    "initial_delay": (0, float("inf")),
    "max_delay": (0, float("inf")),
    "jitter": (0, 1),
}


def _retry_from(task: str, fields: Mapping[str, Any]) -> Retry:
    """A `Retry` from a mapping, with a ValidationError naming the task and the field."""
    import difflib

    if not isinstance(fields, Mapping):
        raise ValidationError(
            f"task {task!r}: retry must be a podium.Retry or a mapping like "
            f"{{'max_attempts': 3}}, not {fields!r}.",
            task=task,
            field="retry",
        )
    for key, value in fields.items():
        allowed = _RETRY_FIELDS.get(key)
        if allowed is None:
            hint = difflib.get_close_matches(str(key), _RETRY_FIELDS, n=1)
            fix = f"Did you mean {hint[0]!r}?" if hint else f"Allowed: {', '.join(_RETRY_FIELDS)}."
            raise ValidationError(
                f"task {task!r}: unknown retry field {key!r}. {fix}",
                task=task,
                field=f"retry.{key}",
            )
        if key == "backoff":
            ok = value in allowed
            want = "'exponential' or 'fixed'"
        else:
            lo, hi = allowed
            number = int if key == "max_attempts" else int | float
            ok = isinstance(value, number) and not isinstance(value, bool) and lo <= value <= hi
            want = f"a {'whole ' if key == 'max_attempts' else ''}number from {lo} to {hi}"
            if hi == float("inf"):
                want = f"a number of at least {lo}"
        if not ok:
            raise ValidationError(
                f"task {task!r}: retry {key} must be {want}, not {value!r}.",
                task=task,
                field=f"retry.{key}",
            )
    return Retry(**fields)


def _pattern_route(
    pattern: str, options: Mapping[str, Any] | None
) -> tuple[str | None, str | None]:
    from .patterns import default_route

    return default_route(pattern, options)


def _check_pattern(task: Task) -> None:
    """Unknown patterns and bad settings fail when the task is made, not when it runs."""
    from .patterns import check_options, check_pattern_name

    check_pattern_name(task.pattern, task=task.id)
    check_options(task.pattern, task.options, task=task.id, depends_on=task.depends_on)  # type: ignore[arg-type]


def check_budget(value: Any, *, file: str | None = None) -> dict[str, float] | None:
    """``{"max_cost": ..., "max_tokens": ...}`` checked (either may be missing), or None."""
    if value is None:
        return None
    where = f"{file}: " if file else ""
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{where}budget must be a mapping like {{max_cost: 0.5, max_tokens: 100000}}, "
            f"not {value!r}.",
            file=file,
            field="budget",
        )
    out: dict[str, float] = {}
    for key, raw in value.items():
        if key not in ("max_cost", "max_tokens"):
            raise ValidationError(
                f"{where}budget: unknown field {key!r}. Allowed: max_cost, max_tokens.",
                file=file,
                field=f"budget.{key}",
            )
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not raw > 0:
            raise ValidationError(
                f"{where}budget: {key} must be a positive number, not {raw!r}.",
                file=file,
                field=f"budget.{key}",
            )
        out[key] = float(raw) if key == "max_cost" else int(raw)
    return out or None


class Workflow:
    """A named DAG of tasks, with the agents and policies its runs use.

    >>> wf = Workflow("report")
    >>> wf.task("fetch", capability="research", input={"query": "x"})
    >>> wf.task("summary", capability="research", depends_on=["fetch"])

    ``budget={"max_cost": 0.5, "max_tokens": 100_000}`` caps what each run may spend on model
    calls: LLM tasks that would exceed it do not start (see the LLM agents guide).

    ``capabilities={"embed": {"concurrency": {...}, "rate_limit": {...}}}`` gives the tasks of
    a capability their defaults, and ``rate_limit={...}`` limits every run of the workflow
    together (see the resources guide).
    """

    def __init__(
        self,
        name: str,
        *,
        on_failure: str = "fail_fast",
        max_concurrency: int | None = None,
        strategy: str | None = None,
        source: str | None = None,
        budget: Mapping[str, Any] | None = None,
        capabilities: Mapping[str, Mapping[str, Any]] | None = None,
        rate_limit: Mapping[str, Any] | None = None,
    ) -> None:
        if on_failure not in ON_FAILURE:
            raise ValidationError(
                f"workflow {name!r}: on_failure must be 'fail_fast' or 'continue', "
                f"not {on_failure!r}.",
                file=source,
                field="on_failure",
            )
        if max_concurrency is not None and max_concurrency < 1:
            raise ValidationError(
                f"workflow {name!r}: max_concurrency must be at least 1, not {max_concurrency}.",
                file=source,
                field="max_concurrency",
            )
        self.name = name
        self.on_failure = on_failure
        self.max_concurrency = max_concurrency
        self.strategy = strategy
        self.source = source  # the file it came from, for error messages
        # what one run may spend on model calls: {"max_cost": dollars, "max_tokens": n}
        self.budget = check_budget(budget, file=source)
        self.rate_limit = check_rate_limit(rate_limit, owner=_in(source, f"workflow {name!r}"))
        self.capabilities = _check_capabilities(capabilities, source)
        self.tasks: dict[str, Task] = {}
        self.keyed = False  # a task added has a concurrency key or resources: runs check them
        self.agents: list[Agent] = []
        self._duplicates: list[str] = []

    def task(self, id: str, **fields: Any) -> Task:
        """Add a task and return it; the keyword fields are those of `Task`."""
        t = Task(id, **fields)
        self.add(t)
        return t

    def add(self, task: Task) -> Task:
        """Add a built `Task`. A repeated id is reported by `validate`, with the others."""
        if task.id in self.tasks:
            self._duplicates.append(task.id)
        else:
            self.tasks[task.id] = task
            if task.concurrency is not None or task.resources is not None:
                self.keyed = True
        return task

    def add_agent(self, agent: Agent) -> Agent:
        """Attach an agent that runs with this workflow (as a workflow file's ``agents:``)."""
        self.agents.append(agent)
        return agent

    def sequence(self, *tasks: Task) -> list[Task]:
        """Make each given task depend on the one before it; returns them."""
        prev: Task | None = None
        for t in tasks:
            if t.id not in self.tasks:
                self.add(t)
            if prev is not None and prev.id not in t.depends_on:
                t.depends_on = (*t.depends_on, prev.id)
            prev = t
        return list(tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, tasks={len(self.tasks)})"


_CAPABILITY_RULES = ("concurrency", "rate_limit", "resources")


def _in(source: str | None, what: str) -> str:
    return f"{source}: {what}" if source else what


def _check_capabilities(
    value: Mapping[str, Mapping[str, Any]] | None, source: str | None
) -> dict[str, dict[str, Any]]:
    """``{capability: {"concurrency": ..., "rate_limit": ...}}`` checked."""
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{_in(source, 'capabilities')} must map capability names to their rules, like "
            f"{{embed: {{rate_limit: {{requests: 10}}}}}}, not {excerpt(value)}.",
            file=source,
            field="capabilities",
        )
    out: dict[str, dict[str, Any]] = {}
    for cap, rules in value.items():
        owner = _in(source, f"capability {cap!r}")
        if not isinstance(rules, Mapping):
            raise ValidationError(
                f"{owner}: its rules must be a mapping with {' or '.join(_CAPABILITY_RULES)}, "
                f"not {excerpt(rules)}.",
                file=source,
                field=f"capabilities.{cap}",
            )
        for key in rules:
            if key not in _CAPABILITY_RULES:
                raise ValidationError(
                    f"{owner}: unknown field {key!r}. Allowed: {', '.join(_CAPABILITY_RULES)}.",
                    file=source,
                    field=f"capabilities.{cap}.{key}",
                )
        out[cap] = {
            "concurrency": check_concurrency(rules.get("concurrency"), owner=owner),
            "rate_limit": check_rate_limit(rules.get("rate_limit"), owner=owner),
            "resources": check_resources(rules.get("resources"), owner=owner),
        }
    return out
