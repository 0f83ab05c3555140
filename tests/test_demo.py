"""The offline demo (``podium.demo``): the research-report workflow end to end, through the
Python API and through ``podium demo``."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from importlib import resources
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

import podium
from podium.demo import DEMO_WORKFLOW, report_markdown
from podium.spec import parse_workflow, read_file

CORPUS = {
    e.name: " ".join(e.read_text(encoding="utf-8").split())
    for e in resources.files("podium.demo").joinpath("corpus").iterdir()
    if e.name.endswith(".txt")
}


def run_demo(data: dict[str, Any] | None = None) -> podium.RunResult:
    wf = parse_workflow(data, source=str(DEMO_WORKFLOW)) if data else DEMO_WORKFLOW
    return podium.Orchestrator().run_sync(wf)


def edited(**changes: dict[str, Any]) -> dict[str, Any]:
    """The demo's workflow file as data, with agents' metadata or tasks' input replaced by name."""
    data = read_file(DEMO_WORKFLOW)
    for a in data["agents"]:
        if a["name"] in changes:
            a["metadata"] = changes[a["name"]]
    for t in data["tasks"]:
        if t["id"] in changes:
            t["input"] = changes[t["id"]]
    return data


@pytest.fixture(scope="module")
def demo() -> tuple[podium.RunResult, str]:
    result = run_demo()
    return result, report_markdown(result)


def research_tasks(result: podium.RunResult) -> list[podium.TaskResult]:
    return [r for r in result.tasks.values() if r.task.capability == "research"]


# -- the run --------------------------------------------------------------------------------


def test_corpus_is_bundled() -> None:
    assert 10 <= len(CORPUS) <= 14
    for name, text in CORPUS.items():
        assert 150 <= len(text.split()) <= 400, name


def test_demo_completes(demo: tuple[podium.RunResult, str]) -> None:
    result, _ = demo
    assert result.status == podium.RunStatus.COMPLETED
    assert all(r.status == podium.TaskStatus.COMPLETED for r in result.tasks.values())
    assert len(result.tasks) == 11


def test_research_runs_in_parallel_on_several_researchers(
    demo: tuple[podium.RunResult, str],
) -> None:
    result, _ = demo
    research = research_tasks(result)
    assert len(research) == 4
    agents = {r.agent for r in research}
    assert len(agents) > 1 and all(a.startswith("researcher-") for a in agents)
    overlapping = [
        (a.id, b.id)
        for a, b in combinations(research, 2)
        if a.started_at < b.finished_at and b.started_at < a.finished_at
    ]
    assert overlapping, "no two research tasks ran at the same time"


def test_dependencies_hold(demo: tuple[podium.RunResult, str]) -> None:
    result, _ = demo
    for rec in result.tasks.values():
        for dep in rec.task.depends_on:
            assert result.tasks[dep].finished_at <= rec.started_at, (dep, rec.id)


def test_planned_failure_is_retried(demo: tuple[podium.RunResult, str]) -> None:
    result, _ = demo
    flaky = result.tasks["research-failures"]
    assert flaky.status == podium.TaskStatus.COMPLETED and flaky.attempts == 2
    researchers = [a for n, a in result.stats["agents"].items() if n.startswith("researcher-")]
    assert sum(a["failed"] for a in researchers) == 1
    assert sum(a["completed"] for a in researchers) == 4


# -- the report -----------------------------------------------------------------------------


def test_report_cites_sources_from_the_corpus(demo: tuple[podium.RunResult, str]) -> None:
    result, md = demo
    assert md.startswith("# Coordinating concurrent work")
    for heading in ("## Summary", "## Findings", "## Sources", "## Review"):
        assert f"\n{heading}\n" in md
    cited = set(re.findall(r"`([\w.-]+\.txt)`", md))
    assert len(cited) >= 4 and cited <= set(CORPUS)
    quotes = [line[2:] for line in md.splitlines() if line.startswith("> ")]
    assert len(quotes) >= 4
    for q in quotes:
        assert any(q in text for text in CORPUS.values()), q
    for r in research_tasks(result):
        assert r.task.input["question"] in md


def test_three_votes_and_the_majority_verdict(demo: tuple[podium.RunResult, str]) -> None:
    result, md = demo
    votes = [r for r in result.tasks.values() if r.task.capability == "review"]
    assert len(votes) == 3
    assert len({r.agent for r in votes}) == 3  # capability routing: one reviewer each
    assert {r.result["rubric"] for r in votes} == {"coverage", "citations", "brevity"}
    tally = result["verdict"]
    assert len(tally["votes"]) == 3
    approve = sum(v["vote"] == "approve" for v in tally["votes"])
    assert tally["approve"] == approve
    assert tally["verdict"] == ("approved" if approve >= 2 else "rejected")
    assert f"**Verdict: {tally['verdict']}**" in md
    for v in tally["votes"]:
        assert f"| {v['reviewer']} | {v['rubric']} | {v['vote']} |" in md


def test_verdict_follows_the_votes() -> None:
    # a stricter coverage rubric rejects too: two of three reject
    result = run_demo(edited(**{"reviewer-coverage": {"rubric": "coverage", "min_findings": 9}}))
    tally = result["verdict"]
    assert tally["approve"] == 1 and tally["reject"] == 2
    assert tally["verdict"] == "rejected"
    assert "**Verdict: rejected**" in report_markdown(result)


def test_unanimous_rule() -> None:
    result = run_demo(edited(verdict={"rule": "unanimous"}))
    tally = result["verdict"]
    assert tally["needed"] == 3
    assert tally["verdict"] == ("approved" if tally["approve"] == 3 else "rejected")


# -- errors a user can cause by editing the workflow -----------------------------------------


def test_unknown_rubric_fails_with_a_clear_message() -> None:
    result = run_demo(edited(**{"reviewer-brevity": {"rubric": "style"}}))
    assert result.status == podium.RunStatus.FAILED
    failed = [r for r in result.tasks.values() if r.status == podium.TaskStatus.FAILED]
    assert len(failed) == 1 and failed[0].agent == "reviewer-brevity"
    assert (
        "agent 'reviewer-brevity': metadata.rubric is 'style'; use one of coverage, citations, "
        "brevity" in failed[0].error
    )
    md = report_markdown(result)
    assert "## What went wrong" in md and "metadata.rubric is 'style'" in md
    assert "## Review" not in md


def test_unknown_rule_fails_with_a_clear_message() -> None:
    result = run_demo(edited(verdict={"rule": "plurality"}))
    assert result.status == podium.RunStatus.FAILED
    assert result.tasks["verdict"].error == (
        "ValueError: task 'verdict': input.rule must be 'majority' or 'unanimous'"
    )


def test_research_without_a_question_fails_with_a_clear_message() -> None:
    result = run_demo(edited(**{"research-agents": {"keywords": ["agent"]}}))
    assert result.status == podium.RunStatus.FAILED
    assert result.tasks["research-agents"].error == (
        "ValueError: task 'research-agents': input.question must be a non-empty string"
    )
    assert "# Research report: not written (run failed)" in report_markdown(result)


def test_missing_dependency_is_named() -> None:
    data = read_file(DEMO_WORKFLOW)
    for t in data["tasks"]:
        if t["id"] == "write":
            t["depends_on"] = ["index"]
    result = run_demo(data)
    assert result.tasks["write"].error == (
        "ValueError: task 'write' needs the analysis task among its dependencies: add that task "
        "to its depends_on."
    )


# -- the command line -----------------------------------------------------------------------


@pytest.mark.skipif(
    importlib.util.find_spec("podium.cli") is None, reason="podium.cli does not exist yet"
)
def test_podium_demo_command(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    p = subprocess.run(
        [sys.executable, "-m", "podium", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    md = out.read_text(encoding="utf-8")
    assert md.startswith("# Coordinating concurrent work")
    assert "**Verdict: approved**" in md
