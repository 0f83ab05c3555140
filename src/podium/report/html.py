"""The HTML report of a recorded run (``podium report``): one self-contained page.

Sections, each answering "where did the time go": the run at a glance, the DAG coloured by
outcome (with the critical path drawn heavier), a timeline of every attempt per agent (a Gantt
chart), the critical path as executed (`_graph.critical_path` on actual durations), the
slowest tasks and each agent's utilisation. CSS and SVG are inline: no script, no CDN, so the
page opens anywhere, offline, and can be attached to a ticket.

Big runs stay readable and small: the DAG draws at most `MAX_NODES` tasks (beyond that, one
bar per layer split by outcome) and the timeline the `MAX_BARS` longest attempts.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any

from .._utils.text import plural
from ..result import iso
from ..spec import graph as _graph
from ..stores.base import link_tracebacks
from .analysis import Attempt, Limits, attempts, limits, order, round_ticks
from .dag import COLORS, MAX_NODES, draw_dag
from .logs import log_tail, logs_section

if TYPE_CHECKING:
    from ..stores.base import RunRecord, TaskState, Transition

__all__ = ["COLORS", "MAX_BARS", "MAX_NODES", "render_report"]

_attempts = attempts  # kept for tests and callers of the old private name

MAX_BARS = 4000
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px 32px;
color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid
#d8dee4;padding-bottom:4px}.muted{color:#656d76}.badge{display:inline-block;padding:1px 9px;
border-radius:10px;color:#fff;font-weight:600;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}.card{border:1px solid #d8dee4;
border-radius:6px;padding:8px 14px;min-width:120px}.card b{display:block;font-size:18px}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 12px 3px 0;text-align:left;
vertical-align:top}th{color:#656d76;font-weight:600;border-bottom:1px solid #d8dee4}
td.num,th.num{text-align:right}.scroll{overflow:auto;max-height:640px;border:1px solid #eef1f4}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:11px;
height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.meter{display:inline-block;width:120px;height:9px;background:#eef1f4;border-radius:4px;
vertical-align:middle;margin-right:6px}.meter i{display:block;height:9px;border-radius:4px;
background:#2f80ed}svg text{font:11px system-ui,sans-serif}code{font-size:12px}
.failure{border-left:4px solid #d64545;padding:4px 12px;margin:10px 0;background:#fff8f8}
.failure.retried{border-color:#f0a030;background:#fffbf2}pre.err{white-space:pre-wrap;
margin:4px 0;color:#a40e26}pre.tb,pre.logs{white-space:pre;overflow:auto;font-size:12px;
background:#f6f8fa;padding:8px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _secs(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds == 0:
        return "0"
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.2f}s"
    return f"{seconds / 60:.1f}min"


def render_report(
    run: RunRecord, states: dict[str, TaskState], transitions: list[Transition]
) -> str:
    """The report page of ``run`` (states in workflow order) as one HTML string."""
    from ..stores.definition import graph

    now = time.time()
    nodes = graph(run.definition)
    known = {tid for tid, _, _ in nodes}
    nodes += [(tid, [], "") for tid in states if tid not in known]  # delegated subtasks
    alive = run.status == "running" and run.owner_alive() is not False
    found = attempts(link_tracebacks(transitions), now, alive)
    # the clock starts with the first task, not when the run was stamped: opening the store
    # and setting agents up come before it and are no task's time
    first = [t.started_at or t.at for t in transitions if t.task_id is not None]
    first = [x for x in first if x is not None]
    t0 = min(first) if first else run.started_at
    t1 = max([a.end for a in found] + [run.finished_at or t0, t0])
    wall = max(t1 - t0, 1e-9)
    durations = {
        tid: (s.finished_at - s.started_at)
        if s.finished_at is not None and s.started_at is not None and s.attempts
        else 0.0
        for tid, s in states.items()
    }
    ordered = order(nodes)
    path, path_len = _graph.critical_path(ordered, lambda t: durations.get(t.id, 0.0))
    counts: dict[str, int] = {}
    for s in states.values():
        counts[s.status] = counts.get(s.status, 0) + 1
    status = run.status
    busy = sum(a.end - a.start for a in found)
    spec = (run.definition or {}).get("spec") or {}
    limit = limits(found, ordered, states, t0, wall, path_len, spec.get("max_concurrency") or None)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>podium run {_e(run.run_id)}: {_e(run.workflow)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(run.workflow)} <span class='badge' style='background:"
        f"{COLORS.get(status, '#656d76')}'>{_e(status)}</span></h1>",
        f"<div class='muted'>run <code>{_e(run.run_id)}</code> · started "
        f"{_e(iso(run.started_at))} · {plural(len(states), 'task')} · "
        f"{plural(run.sessions, 'session')}</div>",
        "<div class='cards'>",
        _card("wall time", _secs(wall)),
        _card("critical path", f"{_secs(path_len)} ({plural(len(path), 'task')})"),
        _card("task time (all attempts)", _secs(busy)),
        _card("average parallelism", f"{busy / wall:.1f}x"),
    ]
    for name in ("completed", "failed", "skipped", "cancelled", "running", "pending"):
        if counts.get(name):
            parts.append(_card(name, str(counts[name]), COLORS[name]))
    parts.append("</div>")
    failures = _failures(found, states)
    if failures:
        parts.append("<h2>Failures</h2>")
        parts.append(failures)
    parts.append(_legend())
    parts.append("<h2>DAG</h2>")
    parts.append(draw_dag(nodes, ordered, states, set(path)))
    parts.append("<h2>Timeline per agent</h2>")
    resumes = [t.at for t in transitions if t.task_id is None and t.note == "resumed" and t.at]
    parts.append(_gantt(found, t0, wall, resumes))
    parts.append("<h2>What limited this run</h2>")
    parts.append(_limits(limit, _capacities(run.definition)))
    parts.append("<h2>Critical path as executed</h2>")
    parts.append(_path_table(path, states, durations, path_len, wall))
    parts.append("<h2>Slowest tasks</h2>")
    parts.append(_slowest(states, durations))
    parts.append("<h2>Agent utilisation</h2>")
    parts.append(_agents(found, run.definition, wall))
    waited = (run.stats or {}).get("waited_for")
    if waited:  # resources, concurrency keys, rate limits (podium.engine.gates)
        parts.append("<h2>What ready tasks waited for</h2><table>")
        parts.append("<tr><th>reason</th><th>tasks</th></tr>")
        parts += [
            f"<tr><td>{_e(why)}</td><td class='num'>{n}</td></tr>"
            for why, n in sorted(waited.items())
        ]
        parts.append("</table>")
    if any(s.usage for s in states.values()):
        parts.append("<h2>Model usage</h2>")
        parts.append(_usage(states, run.stats or {}))
    parts.append(logs_section(states))
    parts.append(
        f"<p class='muted'>Generated by podium at {_e(iso(now))} from the run store.</p>"
        "</body></html>"
    )
    return "".join(parts)


def _capacities(definition: dict[str, Any] | None) -> dict[str, int]:
    return {
        a.get("name"): a.get("capacity")
        for a in (definition or {}).get("agents") or []
        if isinstance(a, dict) and a.get("capacity")
    }


def _failures(found: list[Attempt], states: dict[str, TaskState]) -> str:
    """Every task that failed for good, then every attempt that failed and was retried, each
    with its error (and traceback, when the store kept one)."""
    failed = [tid for tid, s in states.items() if s.status == "failed"]
    retried = [a for a in found if a.outcome == "retrying"]
    if not failed and not retried:
        return ""
    by_task: dict[str, list[Attempt]] = {}
    for a in sorted(found, key=lambda a: (a.start, a.attempt or 0)):
        if a.outcome in ("failed", "retrying") and a.task is not None:
            by_task.setdefault(a.task, []).append(a)
    skipped = sum(1 for s in states.values() if s.status == "skipped")
    intro = []
    if failed:
        intro.append(f"{plural(len(failed), 'task')} failed")
    if skipped:
        intro.append(f"{plural(skipped, 'task')} skipped")
    if retried:
        intro.append(f"{plural(len(retried), 'failed attempt')} retried")
    out = [f"<p>{_e(', '.join(intro))}.</p>"]
    for tid in failed:
        s = states[tid]
        tries = by_task.get(tid) or []
        out.append(
            f"<div class='failure'><b><code>{_e(tid)}</code></b> failed"
            f"{f' on {_e(s.agent)}' if s.agent else ''} after "
            f"{plural(s.attempts, 'attempt')}"
        )
        shown = tries[-3:] if tries else []
        if not shown:  # no attempt recorded (a timeout before start, a lost dependency)
            out.append(_error_block(s.error, getattr(s, "traceback", None)))
        for a in shown:
            out.append(
                f"<div class='muted'>attempt {a.attempt} on {_e(a.agent)}, {_e(iso(a.end))}</div>"
            )
            out.append(_error_block(a.error, a.traceback))
        if len(tries) > len(shown):
            out.append(
                f"<div class='muted'>{plural(len(tries) - len(shown), 'earlier failed attempt')}"
                " not shown: see podium logs.</div>"
            )
        out.append(log_tail(s))
        out.append("</div>")
    earlier = [a for a in retried if a.task not in set(failed)]
    if earlier:
        out.append(
            "<p>Attempts that failed and were retried (their tasks did not fail in the end):</p>"
        )
        for a in earlier[:50]:
            out.append(
                f"<div class='failure retried'><b><code>{_e(a.task)}</code></b> attempt "
                f"{a.attempt} on {_e(a.agent)}"
            )
            out.append(_error_block(a.error, a.traceback))
            out.append("</div>")
        if len(earlier) > 50:
            out.append(f"<p class='muted'>... and {len(earlier) - 50} more.</p>")
    return "".join(out)


def _error_block(error: str | None, traceback: str | None) -> str:
    out = f"<pre class='err'>{_e(error or 'no error recorded')}</pre>"
    if traceback:
        out += (
            "<details open><summary>traceback</summary>"
            f"<pre class='tb'>{_e(traceback)}</pre></details>"
        )
    return out


def _limits(lim: Limits, capacity: dict[str, int]) -> str:
    """What limited the run, said from the data: the critical path only when it filled most
    of the wall time; else capacity (or max_concurrency), retries and idle time, biggest
    first."""
    wall = lim.wall
    share = lim.path / wall if wall > 0 else 0.0
    if share >= 0.8:
        return (
            f"<p><b>The critical path limited this run.</b> The longest chain of dependencies, "
            f"by the time each task actually took, is {_secs(lim.path)}: {share:.0%} of the "
            "wall time. Speeding up anything else cannot make this run finish much sooner: "
            "speed up the tasks on it (below).</p>"
        )
    items: list[tuple[float, str]] = []
    waited = sum(lim.waits.values())
    if waited > 0.02 * wall:
        top, top_wait = max(lim.waits.items(), key=lambda kv: kv[1])
        if lim.max_concurrency and lim.peak >= lim.max_concurrency:
            items.append(
                (
                    waited,
                    f"<b>max_concurrency</b>: {lim.peak} tasks ran at once, the workflow's "
                    f"limit, and ready tasks waited {_secs(waited)} in total for a slot. Raise "
                    "<code>max_concurrency</code> to run more at once.",
                )
            )
        else:
            cap = capacity.get(top)
            items.append(
                (
                    waited,
                    f"<b>agent capacity</b>: ready tasks waited {_secs(waited)} in total for a "
                    f"free agent, {_secs(top_wait)} of it for <code>{_e(top)}</code>"
                    f"{f' (capacity {cap})' if cap else ''}. More capacity, or more agents "
                    "with its capabilities, would let them start sooner.",
                )
            )
    for tid, took in sorted(lim.retries.items(), key=lambda kv: -kv[1])[:3]:
        if took > 0.02 * wall:
            items.append(
                (
                    took,
                    f"<b>retries</b>: <code>{_e(tid)}</code> spent {_secs(took)} between its "
                    "first attempt and its last (failed attempts and back-off); see "
                    "Failures for why.",
                )
            )
    if lim.idle > 0.1 * wall:
        items.append(
            (
                lim.idle,
                f"<b>idle time</b>: no task ran for {_secs(lim.idle)} (back-off before a "
                "retry, a timer, or the time between a crash and its resume).",
            )
        )
    head = (
        f"<p>The longest chain of dependencies took {_secs(lim.path)}, only {share:.0%} of the "
        "wall time, so it is not what held this run back."
    )
    if not items:
        return (
            head + " Nothing else stands out: the time went to many short tasks and the "
            "scheduling between them.</p>"
        )
    rows = "".join(f"<li>{text}</li>" for _, text in sorted(items, key=lambda it: -it[0]))
    return f"{head} What did, biggest first:</p><ul>{rows}</ul>"


def _card(label: str, value: str, color: str | None = None) -> str:
    style = f" style='border-left:4px solid {color}'" if color else ""
    return (
        f"<div class='card'{style}><span class='muted'>{_e(label)}</span><b>{_e(value)}</b></div>"
    )


def _legend() -> str:
    items = [
        ("completed", "completed"),
        ("failed", "failed"),
        ("retrying", "failed attempt, retried"),
        ("running", "running / interrupted"),
        ("cancelled", "cancelled"),
        ("skipped", "skipped"),
        ("pending", "never ran"),
    ]
    spans = "".join(f"<span><i style='background:{COLORS[k]}'></i>{_e(v)}</span>" for k, v in items)
    return f"<div class='legend'>{spans}</div>"


def _gantt(attempts: list[Attempt], t0: float, wall: float, resumes: list[float]) -> str:
    if not attempts:
        return "<p class='muted'>No task ran.</p>"
    note = ""
    if len(attempts) > MAX_BARS:
        note = f"<p class='muted'>{len(attempts)} attempts: the {MAX_BARS} longest are drawn.</p>"
        attempts = sorted(attempts, key=lambda a: a.end - a.start, reverse=True)[:MAX_BARS]
    by_agent: dict[str, list[Attempt]] = {}
    for a in sorted(attempts, key=lambda a: (a.start, a.end)):
        by_agent.setdefault(a.agent, []).append(a)
    label_w, plot_w = 130, 1000
    scale = plot_w / wall
    rows = []
    y = 24
    for agent in sorted(by_agent):
        lanes_end: list[float] = []  # greedy lanes: an attempt goes into the first free lane
        placed = []
        for a in by_agent[agent]:
            for i, end in enumerate(lanes_end):
                if end <= a.start + 1e-9:
                    lanes_end[i] = a.end
                    break
            else:
                i = len(lanes_end)
                lanes_end.append(a.end)
            placed.append((i, a))
        lanes = len(lanes_end)
        lane_h = max(2.0, min(16.0, 220.0 / lanes))
        rows.append((agent, y, lane_h, lanes, placed))
        y += lanes * lane_h + 14
    height = y + 10
    out = [note, f"<div class='scroll'><svg width='{label_w + plot_w + 50}' height='{height}'>"]
    for v in round_ticks(wall):  # time axis, at round values
        x = label_w + v * scale
        out.append(
            f"<line x1='{x:.1f}' y1='16' x2='{x:.1f}' y2='{height}' stroke='#eef1f4'/>"
            f"<text x='{x - 10:.1f}' y='12' fill='#656d76'>{_e(_tick(v))}</text>"
        )
    for at in resumes:
        x = label_w + (at - t0) * scale
        out.append(
            f"<line x1='{x:.1f}' y1='16' x2='{x:.1f}' y2='{height}' stroke='#1f2328' "
            f"stroke-dasharray='4 3'><title>resumed at {_e(iso(at))}</title></line>"
        )
    for agent, y0, lane_h, lanes, placed in rows:
        out.append(
            f"<text x='4' y='{y0 + min(lanes * lane_h, 16) - 3}' fill='#1f2328'>"
            f"{_e(agent[:20])}</text>"
            f"<line x1='{label_w}' y1='{y0 + lanes * lane_h + 6}' x2='{label_w + plot_w}' "
            f"y2='{y0 + lanes * lane_h + 6}' stroke='#d8dee4'/>"
        )
        for lane, a in placed:
            x = label_w + (a.start - t0) * scale
            bw = max(1.0, (a.end - a.start) * scale)
            tip = (
                f"{a.task} attempt {a.attempt} on {a.agent}: {a.outcome}, {_secs(a.end - a.start)}"
            )
            if a.open:
                tip += " (no end recorded: still running, or its process died)"
            if a.error:
                tip += f"\n{a.error}"
            opacity = " fill-opacity='0.55'" if a.open else ""
            by = y0 + lane * lane_h
            bh = max(1.0, lane_h - 1)
            out.append(
                f"<rect x='{x:.1f}' y='{by:.1f}' width='{bw:.1f}' height='{bh:.1f}' "
                f"fill='{COLORS.get(a.outcome, '#999')}'{opacity} stroke='#fff' "
                f"stroke-width='0.6'><title>{_e(tip)}</title></rect>"
            )
            label = str(a.task)
            if lane_h >= 12 and bw > 7 * len(label) + 8:  # room for the task's name
                out.append(
                    f"<text x='{x + 4:.1f}' y='{by + bh - 3:.1f}' fill='#fff' "
                    f"pointer-events='none'>{_e(label)}</text>"
                )
    out.append("</svg></div>")
    return "".join(out)


def _tick(v: float) -> str:
    """A round time for an axis: 0, 250ms, 1.5s, 2min."""
    if v == 0:
        return "0"
    if v < 0.001:
        return f"{v * 1e6:.4g}µs"
    if v < 1:
        return f"{v * 1000:.4g}ms"
    if v < 120:
        return f"{v:.4g}s"
    return f"{v / 60:.4g}min"


def _path_table(
    path: list[str],
    states: dict[str, TaskState],
    durations: dict[str, float],
    length: float,
    wall: float,
) -> str:
    if not path:
        return "<p class='muted'>No critical path: no dependency information.</p>"
    share = f"{100 * length / wall:.0f}%" if wall > 0 else "-"
    rows = [
        f"<p>The longest chain of dependencies, by the time each task actually took: "
        f"<b>{_secs(length)}</b>, {share} of the wall time.</p>"
        "<table><tr><th>#</th><th>task</th><th>agent</th>"
        "<th class='num'>took</th><th class='num'>share</th><th>status</th></tr>"
    ]
    for i, tid in enumerate(path, 1):
        s = states.get(tid)
        d = durations.get(tid, 0.0)
        pct = f"{100 * d / length:.0f}%" if length > 0 else "-"
        rows.append(
            f"<tr><td>{i}</td><td><code>{_e(tid)}</code></td><td>{_e(s.agent if s else '-')}"
            f"</td><td class='num'>{_secs(d)}</td><td class='num'>{pct}</td><td>"
            f"{_e(s.status if s else 'pending')}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _slowest(states: dict[str, TaskState], durations: dict[str, float], n: int = 10) -> str:
    ranked = sorted((d, tid) for tid, d in durations.items() if d > 0)[-n:][::-1]
    if not ranked:
        return "<p class='muted'>No task ran.</p>"
    rows = [
        "<table><tr><th>task</th><th>agent</th><th class='num'>took</th>"
        "<th class='num'>attempts</th><th>status</th></tr>"
    ]
    for d, tid in ranked:
        s = states[tid]
        rows.append(
            f"<tr><td><code>{_e(tid)}</code></td><td>{_e(s.agent or '-')}</td>"
            f"<td class='num'>{_secs(d)}</td><td class='num'>{s.attempts}</td>"
            f"<td>{_e(s.status)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _usage(states: dict[str, TaskState], stats: dict[str, Any]) -> str:
    """Tokens, cost and time in model calls per agent and per task (the costliest first)."""
    from ..result import add_usage

    by_agent: dict[str, dict[str, Any]] = {}
    for s in states.values():
        if s.usage:
            key = s.agent or "-"
            by_agent[key] = add_usage(by_agent.get(key), s.usage)
    total: dict[str, Any] | None = None
    for u in by_agent.values():
        total = add_usage(total, u)
    head = (
        "<tr><th>{}</th><th class='num'>calls</th><th class='num'>prompt tokens</th>"
        "<th class='num'>completion tokens</th><th class='num'>cost</th>"
        "<th class='num'>time in calls</th></tr>"
    )

    def row(name: str, u: dict[str, Any]) -> str:
        return (
            f"<tr><td><code>{_e(name)}</code></td><td class='num'>{u['calls']}</td>"
            f"<td class='num'>{u['prompt_tokens']:,}</td>"
            f"<td class='num'>{u['completion_tokens']:,}</td>"
            f"<td class='num'>{u['cost']:.6f}</td><td class='num'>{_secs(u['latency'])}</td></tr>"
        )

    parts = [f"<table>{head.format('agent')}"]
    parts += [row(name, u) for name, u in sorted(by_agent.items())]
    if total is not None:
        parts.append(row("all agents", total))
    parts.append("</table>")
    budget, stopped = stats.get("budget"), stats.get("stopped_by")
    if budget:
        parts.append(
            f"<p>Budget: max_cost {budget.get('max_cost')}, max_tokens "
            f"{budget.get('max_tokens')}; spent {budget.get('spent_cost')} and "
            f"{budget.get('spent_tokens')} tokens.</p>"
        )
    if stopped:
        parts.append(f"<p><b>Stopped:</b> {_e(stopped)}</p>")
    ranked = sorted(
        ((s.usage["cost"], s.usage["total_tokens"], tid) for tid, s in states.items() if s.usage),
        reverse=True,
    )[:10]
    parts.append(f"<table>{head.format('task (costliest first)')}")
    parts += [row(tid, states[tid].usage) for _, _, tid in ranked]  # type: ignore[arg-type]
    parts.append("</table>")
    return "".join(parts)


def _agents(attempts: list[Attempt], definition: dict[str, Any] | None, wall: float) -> str:
    if not attempts:
        return "<p class='muted'>No task ran.</p>"
    capacity = {a.get("name"): a.get("capacity") for a in (definition or {}).get("agents") or []}
    by_agent: dict[str, list[Attempt]] = {}
    for a in attempts:
        by_agent.setdefault(a.agent, []).append(a)
    rows = [
        "<p class='muted'>busy: time with at least one task running; slots: task time over "
        "capacity &times; wall time (how full the agent was).</p><table><tr><th>agent</th>"
        "<th class='num'>attempts</th><th class='num'>failed</th><th class='num'>task time"
        "</th><th>busy</th><th>slots</th><th class='num'>capacity</th></tr>"
    ]
    for agent in sorted(by_agent):
        items = sorted(by_agent[agent], key=lambda a: a.start)
        union, cur_s, cur_e = 0.0, None, None
        for a in items:
            if cur_e is None or a.start > cur_e:
                if cur_e is not None:
                    union += cur_e - cur_s  # type: ignore[operator]
                cur_s, cur_e = a.start, a.end
            else:
                cur_e = max(cur_e, a.end)
        if cur_e is not None:
            union += cur_e - cur_s  # type: ignore[operator]
        total = sum(a.end - a.start for a in items)
        failed = sum(1 for a in items if a.outcome in ("failed", "retrying"))
        cap = capacity.get(agent)
        busy = min(1.0, union / wall)
        slots = f"{_meter(min(1.0, total / (cap * wall)))}" if cap else "-"
        rows.append(
            f"<tr><td>{_e(agent)}</td><td class='num'>{len(items)}</td><td class='num'>"
            f"{failed}</td><td class='num'>{_secs(total)}</td><td>{_meter(busy)}</td>"
            f"<td>{slots}</td><td class='num'>{cap if cap else '-'}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _meter(fraction: float) -> str:
    pct = 100 * fraction
    return f"<span class='meter'><i style='width:{pct:.0f}%'></i></span>{pct:.0f}%"
