"""The HTML report of a recorded run: self-contained, every section present, escaped, and
readable for big runs and runs cut short by a crash. Structure only (no browser)."""

from __future__ import annotations

import asyncio
import re

import podium
from podium.report import html as _report
from podium.report.html import COLORS, render_report
from podium.result import TaskStatus
from podium.stores import MemoryStore, RunRecord
from podium.stores.base import Transition


async def recorded(wf: podium.Workflow, orch: podium.Orchestrator, run_id: str):
    await orch.run(wf, run_id=run_id)
    store = orch.store
    return (
        await store.get_run(run_id),
        await store.task_states(run_id),
        await store.transitions(run_id),
    )


def pipeline_orch(store: MemoryStore) -> podium.Orchestrator:
    orch = podium.Orchestrator(store=store)

    @orch.agent(name="fetcher", capabilities=["fetch"], capacity=2)
    async def fetch(ctx):
        await asyncio.sleep(ctx.input.get("sleep", 0))
        if ctx.input.get("flaky") and ctx.attempt == 1:
            raise ConnectionError("reset by peer")
        if ctx.input.get("broken"):
            raise ValueError("bad <row> & more")
        return ctx.task_id

    @orch.agent(name="writer", capabilities=["write"])
    async def write(ctx):
        return "done"

    return orch


def pipeline() -> podium.Workflow:
    wf = podium.Workflow("report-me", on_failure="continue")
    wf.task("<b>&load", capability="fetch", input={"sleep": 0.05})
    wf.task("quick", capability="fetch")
    wf.task(
        "flaky",
        capability="fetch",
        input={"flaky": True},
        retry={"max_attempts": 2, "initial_delay": 0},
    )
    wf.task("broken", capability="fetch", input={"broken": True}, depends_on=["quick"])
    wf.task("after-broken", capability="write", depends_on=["broken"])
    wf.task("write", capability="write", depends_on=["<b>&load", "flaky"])
    return wf


async def test_the_report_is_self_contained_and_has_every_section() -> None:
    store = MemoryStore()
    saved, states, transitions = await recorded(pipeline(), pipeline_orch(store), "rep-1")
    page = render_report(saved, states, transitions)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert "<script" not in page and not re.search(r"(src|href)=", page)  # nothing to fetch
    assert "http://" not in page and "https://" not in page
    for heading in (
        "DAG",
        "Timeline per agent",
        "Critical path as executed",
        "Slowest tasks",
        "Agent utilisation",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert page.count("<svg") == 2  # the DAG and the timeline
    # outcomes are coloured: failed, skipped, a retried attempt, completed
    for status in ("failed", "skipped", "retrying", "completed"):
        assert f"fill='{COLORS[status]}'" in page, status
    # ids and errors are escaped, never raw markup
    assert "<b>&load" not in page and "&lt;b&gt;&amp;load" in page
    assert "bad &lt;row&gt; &amp; more" in page


async def test_the_critical_path_and_slowest_tasks_use_actual_durations() -> None:
    store = MemoryStore()
    saved, states, transitions = await recorded(pipeline(), pipeline_orch(store), "rep-2")
    page = render_report(saved, states, transitions)
    path_section = page.split("<h2>Critical path as executed</h2>")[1].split("<h2>")[0]
    # the slow load (50 ms) and what depends on it: the longest chain as executed
    assert path_section.index("&lt;b&gt;&amp;load") < path_section.index(">write<")
    slowest = page.split("<h2>Slowest tasks</h2>")[1].split("<h2>")[0]
    first_row = slowest.split("<tr>")[2]
    assert "&lt;b&gt;&amp;load" in first_row
    agents = page.split("<h2>Agent utilisation</h2>")[1]
    assert "fetcher" in agents and "writer" in agents


async def test_big_runs_stay_readable() -> None:
    store = MemoryStore()
    orch = podium.Orchestrator(store=store)
    orch.register(lambda ctx: None, name="w", capabilities=["w"], executor="inline", capacity=64)
    n = _report.MAX_BARS + 200
    wf = podium.Workflow("big")
    for i in range(n):
        wf.task(f"t{i}", capability="w", depends_on=[f"t{i - 1}"] if i % 100 else [])
    saved, states, transitions = await recorded(wf, orch, "big-1")
    page = render_report(saved, states, transitions)
    assert "too many to draw one by one" in page  # the condensed DAG
    assert f"{n} attempts: the {_report.MAX_BARS} longest are drawn" in page
    assert page.count("<rect") < _report.MAX_BARS + 500
    assert len(page) < 3_000_000


def test_an_attempt_cut_short_by_a_crash_ends_at_its_process_last_sign_of_life() -> None:
    C = TaskStatus.COMPLETED.value
    transitions = [
        Transition(1, "a", "running", 1, "w", 10.0),
        Transition(2, "b", C, 1, "w", 10.0, 11.0, "ok"),
        Transition(3, None, "event", None, None, 15.0, 15.0, {}, None, "resumed"),
        Transition(4, "a", C, 2, "w", 15.5, 16.0, "ok"),
    ]
    attempts = _report._attempts(transitions, now=100.0, alive=False)
    cut = next(a for a in attempts if a.task == "a" and a.attempt == 1)
    # the crashed process last recorded something at 11.0 (b completed); from then until the
    # resume at 15.0 nothing ran, so that time is nobody's work
    assert (cut.start, cut.end, cut.outcome, cut.open) == (10.0, 11.0, "running", True)
    saved = RunRecord("crashed", "wf", status="completed", started_at=10.0, finished_at=16.0)
    from podium.stores.base import fold

    page = render_report(saved, fold(transitions), transitions)
    assert "stroke-dasharray" in page and "resumed at" in page
    assert "no end recorded" in page
    dag = page.split("<h2>DAG</h2>")[1].split("<h2>")[0]
    assert ">a</text>" in dag and ">b</text>" in dag  # no definition: the tasks it saw
