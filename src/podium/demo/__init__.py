"""The offline demo behind ``podium demo``: a research report written by a team of agents.

>>> import podium
>>> from podium.demo import DEMO_WORKFLOW, report_markdown
>>> result = podium.Orchestrator().run_sync(DEMO_WORKFLOW)
>>> print(report_markdown(result))

The workflow is ``research.yaml`` next to this file; its agents are in ``podium.demo.agents``
and the articles they search are in ``corpus/``. No network, no model and no API key, unless
``OPENAI_BASE_URL`` points to a model: then `demo_workflow` gives the workflow with an LLM writer
and three LLM reviewers (``podium.demo.llm_agents``) on ``PODIUM_DEMO_MODEL`` (default
``gpt-4o-mini``; the key comes from ``OPENAI_API_KEY`` when the endpoint needs one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._utils.text import plural
from ..result import RunResult, TaskStatus

if TYPE_CHECKING:
    from ..spec.workflow import Workflow

__all__ = ["DEMO_WORKFLOW", "demo_workflow", "report_markdown"]

DEMO_WORKFLOW: Path = Path(__file__).with_name("research.yaml")
DEFAULT_MODEL = "gpt-4o-mini"


def demo_workflow(model: str | None = None) -> Workflow:
    """The demo's workflow: offline agents, or with ``OPENAI_BASE_URL`` set (or ``model``
    given) an LLM writer and LLM reviewers."""
    from ..spec.loader import load_workflow

    wf = load_workflow(DEMO_WORKFLOW)
    if model is None:
        if not os.environ.get("OPENAI_BASE_URL"):
            return wf
        model = os.environ.get("PODIUM_DEMO_MODEL") or DEFAULT_MODEL
    from .llm_agents import llm_agents

    swapped = {a.name: a for a in llm_agents(model)}
    wf.agents = [swapped.get(a.name, a) for a in wf.agents]
    for t in wf.tasks.values():  # a model takes longer than the offline agents' timeouts
        if t.capability in ("write", "review"):
            t.timeout = 300.0
    wf.name = "research-report-llm"
    return wf


def report_markdown(result: RunResult, transitions: list[Any] | None = None) -> str:
    """The demo's final Markdown: the writer's report, the reviewers' verdict and how the run
    went. A run that did not complete gets a report that says which tasks failed and why.

    ``transitions`` (the run's history from a store, ``await store.transitions(run_id)``)
    adds why each retried task failed before: the error of every attempt that was retried.
    """
    report = _result_with(result, "markdown")
    verdict = _result_with(result, "votes")
    parts = []
    if report is not None:
        parts.append(report["markdown"].rstrip("\n"))
    else:
        parts.append(f"# Research report: not written (run {result.status})")
    if verdict is not None:
        parts.append(_verdict_section(verdict))
    if result.status != "completed":
        parts.append(_problems_section(result))
    parts.append(_run_section(result, _retried_errors(transitions or [])))
    return "\n\n".join(parts) + "\n"


def _result_with(result: RunResult, key: str) -> dict[str, Any] | None:
    for rec in result.tasks.values():
        res = rec.result
        if rec.status is TaskStatus.COMPLETED and isinstance(res, dict) and key in res:
            return res
    return None


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _verdict_section(v: dict[str, Any]) -> str:
    total = v["approve"] + v["reject"]
    lines = [
        "## Review",
        "",
        f"**Verdict: {v['verdict']}**: {v['approve']} of {total} reviewers approve "
        f"({v['rule']} needs {v['needed']}).",
        "",
        "| reviewer | rubric | vote | reasons |",
        "|---|---|---|---|",
    ]
    for vote in v["votes"]:
        reasons = "; ".join(vote["reasons"])
        lines.append(
            f"| {vote['reviewer']} | {vote['rubric']} | {vote['vote']} | {_cell(reasons)} |"
        )
    return "\n".join(lines)


def _problems_section(result: RunResult) -> str:
    lines = ["## What went wrong", ""]
    for tid, rec in result.tasks.items():
        if rec.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            lines.append(f"- `{tid}` {rec.status} on {rec.agent}: {rec.error}")
    skipped = [tid for tid, rec in result.tasks.items() if rec.status is TaskStatus.SKIPPED]
    if skipped:
        lines.append(f"- skipped: {', '.join(f'`{t}`' for t in skipped)}")
    return "\n".join(lines)


def _retried_errors(transitions: list[Any]) -> dict[str, list[tuple[int, str]]]:
    """Task id -> (attempt, error) of each attempt that failed and was retried."""
    out: dict[str, list[tuple[int, str]]] = {}
    for t in transitions:
        if t.task_id is not None and t.status == "retrying" and t.error:
            out.setdefault(t.task_id, []).append((t.attempt or 0, t.error))
    return out


def _run_section(result: RunResult, errors: dict[str, list[tuple[int, str]]]) -> str:
    recs = sorted(
        result.tasks.values(), key=lambda r: (r.started_at is None, r.started_at or 0.0, r.id)
    )
    agents = [a for a in result.stats.get("agents", {}).values() if a["completed"] + a["failed"]]
    took = f" in {result.duration:.2f} s" if result.duration is not None else ""
    retried = []
    for r in recs:
        if r.attempts > 1:
            why = "; ".join(f"attempt {n} failed: {_cell(e)}" for n, e in errors.get(r.id, []))
            retried.append(f"`{r.id}` ({r.attempts} attempts{'; ' + why if why else ''})")
    lines = [
        "## How this report was made",
        "",
        f"Run `{result.run_id}` of workflow `{result.workflow}`: {result.status}, "
        f"{plural(len(recs), 'task')} on {plural(len(agents), 'agent')}{took}."
        + (f" Retried: {', '.join(retried)}." if retried else ""),
        "",
        "| agent | capabilities | completed | failed | average seconds |",
        "|---|---|---|---|---|",
    ]
    for a in agents:
        lines.append(
            f"| {a['name']} | {', '.join(a['capabilities'])} | {a['completed']} | "
            f"{a['failed']} | {a['avg_latency']:.3f} |"
        )
    lines += [
        "",
        "Each task's last attempt, in seconds from the start of the run "
        "(tasks whose times overlap ran at once):",
        "",
        "| task | agent | status | attempts | start | end |",
        "|---|---|---|---|---|---|",
    ]
    t0 = result.started_at
    for r in recs:
        start = f"{r.started_at - t0:.2f}" if r.started_at is not None else "-"
        end = f"{r.finished_at - t0:.2f}" if r.finished_at is not None else "-"
        lines.append(f"| {r.id} | {r.agent or '-'} | {r.status} | {r.attempts} | {start} | {end} |")
    return "\n".join(lines)
