"""The HTML report of a recorded run: self-contained, every section present, escaped, and
readable for big runs and runs cut short by a crash. Structure only (no browser)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, fields

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
    dag = page.split("<h2>DAG</h2>")[1].split("<h2>")[0]
    assert "Wide layers are collapsed" in dag  # 100 layers of 42: one node for each layer's rest
    assert dag.count("<rect") < 1000
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


def _fake_run(nodes: dict[str, list[str]], status: dict[str, str] | None = None, **kw):
    """A recorded run of ``nodes`` (id -> depends_on) where every task took 1 s after its
    dependencies, without running anything."""
    from podium.stores.base import TaskState

    spec = {
        "name": "wf",
        "tasks": [{"id": t, "capability": "w", "depends_on": d} for t, d in nodes.items()],
    }
    spec.update(kw.pop("spec", {}))
    definition = {"format": 1, "kind": "file", "source": "/x/wf.yaml", "spec": spec}
    definition["agents"] = kw.pop("agents", [{"name": "w", "capabilities": ["w"], "capacity": 4}])
    end: dict[str, float] = {}
    transitions, states = [], {}
    for seq, (tid, deps) in enumerate(nodes.items(), 1):
        start = 100.0 + max([end[d] for d in deps], default=0.0)
        end[tid] = start - 100.0 + 1.0
        st = (status or {}).get(tid, "completed")
        err = "KeyError: 'missing'" if st == "failed" else None
        transitions.append(Transition(seq, tid, st, 1, "w", start, start + 1.0, None, err))
        states[tid] = TaskState(tid, st, None, "w", 1, err, start, start + 1.0)
    last = 100.0 + max(end.values())
    saved = RunRecord("r", "wf", status="completed", started_at=99.5, finished_at=last)
    saved.definition = definition
    return saved, states, transitions


def test_a_wide_fan_in_is_drawn_as_layers_side_by_side() -> None:
    nodes = {f"fetch-{i:03d}": [] for i in range(120)}
    nodes.update({f"parse-{i:03d}": [f"fetch-{i:03d}"] for i in range(120)})
    nodes["merge"] = [f"parse-{i:03d}" for i in range(120)]
    nodes["report"] = ["merge"]
    status = {"parse-007": "failed"}
    page = render_report(*_fake_run(nodes, status))
    dag = page.split("<h2>DAG</h2>")[1].split("<h2>")[0]
    assert "Wide layers are collapsed" in dag
    groups = [int(n) for n in re.findall(r">\+(\d+) tasks</text>", dag)]
    assert len(groups) == 2 and all(n >= 118 for n in groups), groups
    assert ">parse-007</text>" in dag and ">merge</text>" in dag and ">report</text>" in dag
    height = int(re.search(r"<svg width='\d+' height='(\d+)'", dag).group(1))
    assert height < 400, "a wide layer must not become one tall column"
    assert dag.count("<text") < 30


def test_a_long_chain_is_condensed() -> None:
    nodes = {"t0": []}
    nodes.update({f"t{i}": [f"t{i - 1}"] for i in range(1, 400)})
    page = render_report(*_fake_run(nodes))
    assert "too many to draw one by one" in page


def test_timeline_ticks_are_round() -> None:
    from podium.report.analysis import round_ticks

    assert round_ticks(1.0) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert round_ticks(0.537) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert round_ticks(37.0)[-1] == 35.0 and round_ticks(37.0)[1] == 5.0
    nodes = {"a": [], "b": ["a"], "c": ["b"]}
    page = render_report(*_fake_run(nodes))
    gantt = page.split("<h2>Timeline per agent</h2>")[1].split("<h2>")[0]
    labels = re.findall(r"fill='#656d76'>([^<]+)</text>", gantt)
    assert labels[:4] == ["0", "500ms", "1s", "1.5s"], labels


@dataclass
class Traced(Transition):
    """A transition with a traceback, as a store that keeps them will give."""

    traceback: str | None = None


def test_failures_come_first_with_their_errors_and_tracebacks() -> None:
    nodes = {"a": [], "b": ["a"], "c": ["b"]}
    saved, states, transitions = _fake_run(nodes, {"b": "failed"})
    states["c"].status = "skipped"
    b = transitions[1]
    transitions[1] = Traced(*(getattr(b, f.name) for f in fields(Transition)))
    transitions[1].traceback = 'Traceback (most recent call last):\n  File "h.py", line 3\nKeyError'
    page = render_report(saved, states, transitions)
    assert page.index("<h2>Failures</h2>") < page.index("<h2>DAG</h2>")
    failures = page.split("<h2>Failures</h2>")[1].split("<h2>")[0]
    assert "1 task failed, 1 task skipped" in failures
    assert "<code>b</code></b> failed on w after 1 attempt" in failures
    assert "KeyError: &#x27;missing&#x27;" in failures
    assert (
        "<summary>traceback</summary>" in failures and "File &quot;h.py&quot;, line 3" in failures
    )
    clean = render_report(*_fake_run(nodes))
    assert "<h2>Failures</h2>" not in clean


async def test_a_retried_attempt_is_listed_with_its_error() -> None:
    store = MemoryStore()
    saved, states, transitions = await recorded(pipeline(), pipeline_orch(store), "rep-3")
    page = render_report(saved, states, transitions)
    failures = page.split("<h2>Failures</h2>")[1].split("<h2>")[0]
    assert "<code>broken</code></b> failed on fetcher" in failures
    assert "bad &lt;row&gt; &amp; more" in failures
    assert "were retried" in failures and "<code>flaky</code></b> attempt 1" in failures
    assert "ConnectionError: reset by peer" in failures


def test_what_limited_the_run_is_said_from_the_data() -> None:
    chain = {"a": [], "b": ["a"], "c": ["b"]}
    page = render_report(*_fake_run(chain))
    limited = page.split("<h2>What limited this run</h2>")[1].split("<h2>")[0]
    assert "The critical path limited this run" in limited
    # 12 independent 1 s tasks that ran 4 at a time: 3 s of wall time, a 1 s critical path
    from podium.stores.base import TaskState

    saved, states, transitions = _fake_run({f"t{i}": [] for i in range(12)})
    transitions, states = [], {}
    for i in range(12):
        start = 100.0 + i // 4
        transitions.append(Transition(i + 1, f"t{i}", "completed", 1, "w", start, start + 1))
        states[f"t{i}"] = TaskState(f"t{i}", "completed", None, "w", 1, None, start, start + 1)
    page = render_report(saved, states, transitions)
    limited = page.split("<h2>What limited this run</h2>")[1].split("<h2>")[0]
    assert "The critical path limited" not in limited and "only 33%" in limited
    assert "<b>agent capacity</b>" in limited and "<code>w</code> (capacity 4)" in limited
    assert "cannot make this run finish sooner" not in page


def test_wall_time_starts_with_the_first_task() -> None:
    saved, states, transitions = _fake_run({"a": []})
    saved.started_at = 40.0  # stamped long before the first task (store start-up)
    page = render_report(saved, states, transitions)
    assert "<span class='muted'>wall time</span><b>1.00s</b>" in page
