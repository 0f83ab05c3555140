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
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from .._utils.text import plural
from ..result import iso
from ..spec import graph as _graph

if TYPE_CHECKING:
    from ..stores.base import RunRecord, TaskState, Transition

__all__ = ["render_report"]

MAX_NODES = 300
MAX_BARS = 4000
COLORS = {
    "completed": "#2e9d5b",
    "failed": "#d64545",
    "retrying": "#f0a030",  # a failed attempt that was retried
    "skipped": "#a3a9b0",
    "cancelled": "#9b59c9",
    "running": "#2f80ed",  # still running, or running when its process died
    "pending": "#dfe3e8",
    "event": "#555",
    "partial": "#c98a00",  # run status: some tasks failed, the rest ran
}
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


class _Attempt:
    __slots__ = ("agent", "attempt", "end", "error", "open", "outcome", "start", "task")

    def __init__(self, t: Transition, end: float, outcome: str, open_: bool) -> None:
        self.task = t.task_id
        self.agent = t.agent or "?"
        self.attempt = t.attempt
        self.start = t.started_at or end
        self.end = end
        self.outcome = outcome
        self.error = t.error
        self.open = open_  # no end recorded: still running, or its process died


def _attempts(transitions: list[Transition], now: float, alive: bool) -> list[_Attempt]:
    """Every attempt that ran, from the transitions. An attempt whose end is not recorded was
    cut short by a crash: it ends at the crashed process's last recorded transition (its last
    sign of life; the time until the resume was nobody's work), or at the run's last event;
    if the run is still going, it runs until now."""
    import bisect

    out: list[_Attempt] = []
    running: dict[tuple[str, int | None], Transition] = {}
    for t in transitions:
        if t.task_id is None or t.status == "skipped":
            continue
        key = (t.task_id, t.attempt)
        if t.status == "running":
            running[key] = t
            continue
        running.pop(key, None)
        if t.started_at is None or not t.attempt:
            continue  # never ran (cancelled before start) or came from the cache
        outcome = "retrying" if t.status == "retrying" else t.status
        out.append(_Attempt(t, t.finished_at or t.started_at, outcome, False))
    resumes = sorted(
        t.at for t in transitions if t.task_id is None and t.note == "resumed" and t.at
    )
    times = sorted(t.at for t in transitions if t.at is not None)
    last = times[-1] if times else now
    for t in running.values():
        start = t.started_at or last
        i = bisect.bisect_right(resumes, start)
        if i < len(resumes):
            j = bisect.bisect_left(times, resumes[i])  # transitions before that resume
            end = times[j - 1] if j else start
        else:
            end = now if alive else last
        out.append(_Attempt(t, max(end, start), "running", True))
    return out


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
    attempts = _attempts(transitions, now, alive)
    t0 = min([a.start for a in attempts] + [run.started_at])
    t1 = max([a.end for a in attempts] + [run.finished_at or t0])
    wall = max(t1 - t0, 1e-9)
    durations = {
        tid: (s.finished_at - s.started_at)
        if s.finished_at is not None and s.started_at is not None and s.attempts
        else 0.0
        for tid, s in states.items()
    }
    order = _order(nodes)
    path, path_len = _graph.critical_path(order, lambda t: durations.get(t.id, 0.0))
    counts: dict[str, int] = {}
    for s in states.values():
        counts[s.status] = counts.get(s.status, 0) + 1
    status = run.status
    busy = sum(a.end - a.start for a in attempts)
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
    parts.append(_legend())
    parts.append("<h2>DAG</h2>")
    parts.append(_dag(nodes, order, states, set(path)))
    parts.append("<h2>Timeline per agent</h2>")
    resumes = [t.at for t in transitions if t.task_id is None and t.note == "resumed" and t.at]
    parts.append(_gantt(attempts, t0, wall, resumes))
    parts.append("<h2>Critical path as executed</h2>")
    parts.append(_path_table(path, states, durations, path_len, wall))
    parts.append("<h2>Slowest tasks</h2>")
    parts.append(_slowest(states, durations))
    parts.append("<h2>Agent utilisation</h2>")
    parts.append(_agents(attempts, run.definition, wall))
    parts.append(
        f"<p class='muted'>Generated by podium at {_e(iso(now))} from the run store.</p>"
        "</body></html>"
    )
    return "".join(parts)


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


def _order(nodes: list[tuple[str, list[str], str]]) -> list[Any]:
    """The tasks in topological order, as objects with ``id`` and ``depends_on``."""
    tasks = {tid: SimpleNamespace(id=tid, depends_on=tuple(deps)) for tid, deps, _ in nodes}
    for t in tasks.values():  # a dependency the definition lost must not break the report
        t.depends_on = tuple(d for d in t.depends_on if d in tasks)
    try:
        return _graph.topological_order(tasks)  # type: ignore[arg-type]
    except Exception:  # a damaged definition: draw it flat rather than not at all
        return [SimpleNamespace(id=t.id, depends_on=()) for t in tasks.values()]


def _depths(order: list[Any]) -> dict[str, int]:
    """Each task's layer: the length of the longest chain of dependencies above it."""
    depth: dict[str, int] = {}
    for t in order:
        depth[t.id] = 1 + max((depth[d] for d in t.depends_on), default=-1)
    return depth


def _dag(
    nodes: list[tuple[str, list[str], str]],
    order: list[Any],
    states: dict[str, TaskState],
    path: set[str],
) -> str:
    if not nodes:
        return "<p class='muted'>The store has no definition of this run's workflow.</p>"
    depth = _depths(order)
    layers: dict[int, list[str]] = {}
    for tid, _, _ in nodes:
        layers.setdefault(depth[tid], []).append(tid)
    status = {tid: (states[tid].status if tid in states else "pending") for tid, _, _ in nodes}
    if len(nodes) > MAX_NODES:
        return _dag_condensed(layers, status, len(nodes))
    deps_of = {t.id: list(t.depends_on) for t in order}
    route_of = {tid: route for tid, _, route in nodes}
    pos: dict[str, tuple[float, float]] = {}
    w, h, gx, gy = 150, 30, 60, 14
    for d in sorted(layers):
        ids = layers[d]
        if d:  # barycentre: put each task near its dependencies, fewer crossings
            ids.sort(
                key=lambda t: (
                    sum(pos[p][1] for p in deps_of[t] if p in pos)
                    / max(1, len([p for p in deps_of[t] if p in pos]))
                )
            )
        for i, tid in enumerate(ids):
            pos[tid] = (10 + d * (w + gx), 10 + i * (h + gy))
    width = 20 + (max(layers) + 1) * (w + gx) - gx
    height = 20 + max(len(v) for v in layers.values()) * (h + gy) - gy
    out = [f"<div class='scroll'><svg width='{width}' height='{height}' role='img'>"]
    for tid, deps in deps_of.items():
        x2, y2 = pos[tid]
        for dep in deps:
            x1, y1 = pos[dep]
            hot = tid in path and dep in path
            stroke = "#1f2328" if hot else "#b6bec8"
            sw = 2.4 if hot else 1
            mx = (x1 + w + x2) / 2
            out.append(
                f"<path d='M{x1 + w},{y1 + h / 2} C{mx},{y1 + h / 2} {mx},{y2 + h / 2} "
                f"{x2},{y2 + h / 2}' fill='none' stroke='{stroke}' stroke-width='{sw}'/>"
            )
    for tid, (x, y) in pos.items():
        s = states.get(tid)
        fill = COLORS.get(status[tid], "#dfe3e8")
        text_color = "#1f2328" if status[tid] == "pending" else "#fff"
        border = " stroke='#1f2328' stroke-width='2.4'" if tid in path else ""
        label = tid if len(tid) <= 22 else tid[:21] + "…"
        tip = f"{tid} [{route_of[tid]}]: {status[tid]}"
        if s is not None and s.agent:
            tip += f" on {s.agent}, attempt {s.attempts}"
        if s is not None and s.error:
            tip += f"\n{s.error}"
        out.append(
            f"<g><title>{_e(tip)}</title><rect x='{x}' y='{y}' width='{w}' height='{h}' rx='5' "
            f"fill='{fill}'{border}/><text x='{x + 8}' y='{y + 19}' fill='{text_color}'>"
            f"{_e(label)}</text></g>"
        )
    out.append("</svg></div>")
    return "".join(out)


def _dag_condensed(layers: dict[int, list[str]], status: dict[str, str], n: int) -> str:
    """One bar per layer of the DAG, split by outcome: for runs too big to draw task by task."""
    bar_w, gap, height = 26, 8, 160
    widest = max(len(v) for v in layers.values())
    width = 20 + len(layers) * (bar_w + gap)
    out = [
        f"<p class='muted'>{plural(n, 'task')} in {plural(len(layers), 'layer')}: too many to "
        "draw one by one. "
        "Each bar is one layer of the DAG (tasks whose longest chain of dependencies has the "
        "same length), split by outcome.</p>",
        f"<div class='scroll'><svg width='{width}' height='{height + 30}' role='img'>",
    ]
    for i, d in enumerate(sorted(layers)):
        ids = layers[d]
        x = 10 + i * (bar_w + gap)
        y = height + 10.0
        by: dict[str, int] = {}
        for tid in ids:
            by[status[tid]] = by.get(status[tid], 0) + 1
        for name, k in sorted(by.items()):
            bh = height * k / widest
            y -= bh
            out.append(
                f"<rect x='{x}' y='{y:.1f}' width='{bar_w}' height='{bh:.1f}' "
                f"fill='{COLORS.get(name, '#ccc')}'><title>layer {d}: {k} {_e(name)}</title></rect>"
            )
        out.append(f"<text x='{x}' y='{height + 24}'>{d}</text>")
    out.append("</svg></div>")
    return "".join(out)


def _gantt(attempts: list[_Attempt], t0: float, wall: float, resumes: list[float]) -> str:
    if not attempts:
        return "<p class='muted'>No task ran.</p>"
    note = ""
    if len(attempts) > MAX_BARS:
        note = f"<p class='muted'>{len(attempts)} attempts: the {MAX_BARS} longest are drawn.</p>"
        attempts = sorted(attempts, key=lambda a: a.end - a.start, reverse=True)[:MAX_BARS]
    by_agent: dict[str, list[_Attempt]] = {}
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
    for k in range(11):  # time axis
        x = label_w + plot_w * k / 10
        out.append(
            f"<line x1='{x}' y1='16' x2='{x}' y2='{height}' stroke='#eef1f4'/>"
            f"<text x='{x - 10}' y='12' fill='#656d76'>{_e(_secs(wall * k / 10))}</text>"
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
        f"<b>{_secs(length)}</b>, {share} of the wall time. Speeding up anything else cannot "
        "make this run finish sooner.</p><table><tr><th>#</th><th>task</th><th>agent</th>"
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


def _agents(attempts: list[_Attempt], definition: dict[str, Any] | None, wall: float) -> str:
    if not attempts:
        return "<p class='muted'>No task ran.</p>"
    capacity = {a.get("name"): a.get("capacity") for a in (definition or {}).get("agents") or []}
    by_agent: dict[str, list[_Attempt]] = {}
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
