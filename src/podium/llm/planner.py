"""Goal planning: a goal in words becomes a workflow that ``podium validate`` accepts.

`plan_goal` decomposes the goal into atomic subtasks with dependencies, the capability each
needs, a priority and time and cost estimates, and returns the workflow as a mapping (what
``podium plan ... --out flow.yaml`` writes). The tasks must fit the agents there are: those
of ``agents`` (a file's ``agents:``), else one LLM agent per agent type the plan uses.

Without a model it uses the rule-based templates of `podium.llm.templates`. With one
(``model=``), it asks for a plan as JSON, checks it (ids, capabilities the agents have,
dependencies that exist, no cycle), repairs what it safely can (ids made unique and
file-friendly, a capability spelt like an agent type), and asks again with the problems
listed, up to ``repairs`` times; a plan that is still wrong falls back to the templates, and
the reason is in the result's ``description``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ValidationError
from .presets import AGENT_TYPES
from .templates import template_for

__all__ = ["check_plan", "plan_goal", "rule_plan"]

DEFAULT_MODEL = "gpt-4o-mini"
ESTIMATE_TOKENS = 1500  # tokens of one planned step, for its cost estimate


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return s[:40] or "step"


def _capabilities(agents: list[dict[str, Any]]) -> list[str]:
    caps: list[str] = []
    for a in agents:
        found = a.get("capabilities")
        if found is None and a.get("agent_type") in AGENT_TYPES:
            found = list(AGENT_TYPES[a["agent_type"]].capabilities)
        for c in found or []:
            if c not in caps:
                caps.append(c)
    return caps


def _resolve(types: Iterable[str], caps: list[str] | None) -> str | None:
    """The first of ``types`` an agent has (``caps``; None: any agent type will be made)."""
    types = list(types)
    if caps is None:  # an LLM agent of each agent type will be made: their capabilities
        caps = [c for p in AGENT_TYPES.values() for c in p.capabilities]
    for t in types:
        if t in caps:
            return t
        if t in AGENT_TYPES:  # an agent type: any of its capabilities will do
            for c in AGENT_TYPES[t].capabilities:
                if c in caps:
                    return c
    return None


def _cost(seconds: float, model: str | None) -> float:
    from .pricing import cost_of

    tokens = int(ESTIMATE_TOKENS * max(seconds, 1.0) / 60)  # longer steps say and read more
    return round(cost_of(model or DEFAULT_MODEL, tokens, tokens // 2), 6)


def rule_plan(goal: str, caps: list[str] | None, model: str | None = None) -> list[dict]:
    """Tasks from the template the goal picks, on capabilities ``caps`` has."""
    _, steps = template_for(goal)
    tasks = []
    for step in steps:
        cap = _resolve(step.types, caps)
        if cap is None:
            if not caps:
                raise ValidationError("--agents: the file has no agents with capabilities.")
            cap = _resolve(("knowledge", "research", "general", "default"), caps) or caps[0]
        tasks.append(
            {
                "id": step.id,
                "capability": cap,
                "depends_on": list(step.after),
                "priority": step.priority,
                "input": {"task": step.does.format(goal=goal.strip())},
                "options": {
                    "estimate": {"seconds": step.seconds, "cost": _cost(step.seconds, model)}
                },
            }
        )
    return tasks


def check_plan(tasks: Any, caps: list[str] | None) -> tuple[list[dict[str, Any]], list[str]]:
    """A model's plan repaired where that is safe, and the problems left (empty: it is good).

    Each task needs an id, a description, a capability (or agent type), dependencies among
    the plan's ids, and no cycle; priority and estimates get defaults."""
    problems: list[str] = []
    if isinstance(tasks, Mapping):
        tasks = tasks.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        return [], ['the plan must be a JSON object {"tasks": [...]} with at least one task']
    out: list[dict[str, Any]] = []
    renamed: dict[str, str] = {}
    for i, t in enumerate(tasks):
        if not isinstance(t, Mapping):
            problems.append(f"task #{i + 1} is not an object")
            continue
        raw_id = str(t.get("id") or t.get("name") or f"step-{i + 1}")
        tid = _slug(raw_id)
        while tid in renamed.values():
            tid = f"{tid}-{i + 1}"
        renamed[raw_id] = tid
        want = t.get("capability") or t.get("agent_type")
        cap = _resolve([want], caps) if isinstance(want, str) and want else None
        if cap is None:
            have = ", ".join(caps or AGENT_TYPES)
            problems.append(f"task {raw_id!r}: capability {want!r} is not one of: {have}")
            continue
        does = t.get("description") or t.get("task") or t.get("input")
        if not does:
            problems.append(f"task {raw_id!r} has no description")
            continue
        priority = t.get("priority", "medium")
        if priority not in ("critical", "high", "medium", "low"):
            priority = "medium"
        seconds = t.get("estimated_seconds", t.get("seconds", 60))
        cost = t.get("estimated_cost", t.get("cost"))
        out.append(
            {
                "id": tid,
                "capability": cap,
                "depends_on": t.get("depends_on") or [],
                "priority": priority,
                "input": {"task": does if isinstance(does, str) else json.dumps(does)},
                "options": {
                    "estimate": {
                        "seconds": float(seconds) if _number(seconds) else 60.0,
                        "cost": float(cost) if _number(cost) else None,
                    }
                },
            }
        )
    for t in out:
        deps = []
        for d in t["depends_on"] if isinstance(t["depends_on"], list) else []:
            d = renamed.get(str(d), _slug(str(d)))
            if d not in {x["id"] for x in out}:
                problems.append(f"task {t['id']!r} depends on {d!r}, which is not in the plan")
            elif d != t["id"] and d not in deps:
                deps.append(d)
        t["depends_on"] = deps
    if not problems:
        cycle = _cycle(out)
        if cycle:
            problems.append(f"the dependencies form a cycle: {' -> '.join(cycle)}")
    return out, problems


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v >= 0


def _cycle(tasks: list[dict[str, Any]]) -> list[str] | None:
    from ..spec.graph import topological_order
    from ..spec.workflow import Task

    try:
        topological_order(
            {t["id"]: Task(t["id"], capability="x", depends_on=t["depends_on"]) for t in tasks},
            None,
        )
    except ValidationError as exc:
        return list(getattr(exc, "cycle", None) or [str(exc)])
    return None


PROMPT = """Decompose this goal into atomic subtasks for a team of agents.

Goal: {goal}

Agent capabilities available: {caps}

Answer with JSON only, in this shape:
{{"tasks": [{{"id": "short-id", "description": "what to do, self-contained",
  "capability": "one of the capabilities above", "depends_on": ["ids of earlier tasks"],
  "priority": "critical|high|medium|low", "estimated_seconds": 60, "estimated_cost": 0.01}}]}}
Use 3 to 10 tasks; tasks that do not depend on each other run at once; no cycles."""


async def _ask_model(
    goal: str,
    caps: list[str] | None,
    *,
    model: str,
    base_url: str | None,
    api_key_env: str | None,
    repairs: int,
) -> tuple[list[dict[str, Any]] | None, str]:
    from .agent import LLMAgent
    from .schema import extract_json

    agent = LLMAgent(
        "planner",
        ["planner"],
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        stream=False,
        temperature=0,
    )
    await agent.setup()
    assert agent.client is not None
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": AGENT_TYPES["planner"].system_prompt},
        {"role": "user", "content": PROMPT.format(goal=goal, caps=", ".join(caps or AGENT_TYPES))},
    ]
    why = ""
    try:
        for _ in range(repairs + 1):
            done = await agent.client.complete(messages, temperature=0)
            messages.append({"role": "assistant", "content": done.text})
            try:
                data = extract_json(done.text)
            except ValueError as exc:
                problems = [str(exc)]
            else:
                tasks, problems = check_plan(data, caps)
                if not problems:
                    return tasks, ""
            why = "; ".join(problems[:8])
            messages.append(
                {
                    "role": "user",
                    "content": f"That plan has problems: {why}. Answer again, with JSON only, "
                    "fixing them.",
                }
            )
    finally:
        await agent.teardown()
    return None, why


def plan_goal(
    goal: str,
    *,
    agents: list[dict[str, Any]] | None = None,
    model: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
    repairs: int = 2,
    name: str | None = None,
) -> dict[str, Any]:
    """A workflow (as a file's mapping) that reaches ``goal``.

    >>> flow = plan_goal("build a URL shortener")
    >>> [t["id"] for t in flow["tasks"]]
    ['requirements', 'design', 'implementation', 'testing', 'review']
    """
    if not isinstance(goal, str) or not goal.strip():
        raise ValidationError("the goal is empty: say what should be achieved.", field="goal")
    caps = _capabilities(agents) if agents is not None else None
    if agents is not None and not caps:
        raise ValidationError(
            "--agents: its agents have no capabilities to plan with.", field="agents"
        )
    note = "rule-based plan"
    tasks = None
    if model is not None:
        import asyncio

        tasks, why = asyncio.run(
            _ask_model(
                goal,
                caps,
                model=model,
                base_url=base_url,
                api_key_env=api_key_env,
                repairs=repairs,
            )
        )
        note = f"planned by {model}"
        if tasks is None:
            note = f"rule-based plan ({model}'s plans stayed invalid: {why[:300]})"
    if tasks is None:
        tasks = rule_plan(goal, caps, model)
    if agents is None:
        agents = _default_agents(tasks, model, base_url, api_key_env)
    flow: dict[str, Any] = {
        "name": name or _slug(goal)[:30],
        "description": f"Goal: {goal.strip()} ({note})",
        "on_failure": "fail_fast",
        "agents": agents,
        "tasks": tasks,
    }
    for t in tasks:
        if t["options"]["estimate"].get("cost") is None:
            t["options"]["estimate"]["cost"] = _cost(t["options"]["estimate"]["seconds"], model)
        if not t["depends_on"]:
            del t["depends_on"]
    return flow


def _default_agents(
    tasks: list[dict[str, Any]], model: str | None, base_url: str | None, key: str | None
) -> list[dict[str, Any]]:
    """One LLM agent per agent type the plan uses."""
    out = []
    seen = set()
    for t in tasks:
        cap = t["capability"]
        kind = next((n for n, p in AGENT_TYPES.items() if cap in p.capabilities), None)
        if kind is None or kind in seen:
            continue
        seen.add(kind)
        agent: dict[str, Any] = {
            "name": kind,
            "kind": "llm",
            "model": model or DEFAULT_MODEL,
            "agent_type": kind,
        }
        if base_url:
            agent["base_url"] = base_url
        if key:
            agent["api_key_env"] = key
        out.append(agent)
    return out
