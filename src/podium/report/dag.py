"""The report's drawing of the DAG: one column per layer (tasks whose longest chain of
dependencies has the same length), left to right, so a wide fan-in reads as a few columns
side by side rather than one tall list.

A layer wider than `WIDE` tasks is collapsed: its interesting tasks (failed, cancelled, still
running, or on the critical path) are drawn one by one, up to `KEEP`, and the rest become one
node that says how many tasks it stands for and shows their outcomes as a bar. Edges between
collapsed nodes are drawn once. Past `MAX_NODES` drawn nodes (very long chains), the DAG
becomes one bar per layer split by outcome.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .._utils.text import plural
from .analysis import depths

if TYPE_CHECKING:
    from ..stores.base import TaskState

__all__ = ["COLORS", "MAX_NODES", "draw_dag"]

MAX_NODES = 300
WIDE = 12  # a layer with more tasks than this is collapsed
KEEP = 6  # tasks of a collapsed layer still drawn one by one
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
    "budget_exceeded": "#d64545",  # run status: its budget refused tasks
}
_INTERESTING = ("failed", "cancelled", "running")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


class _Node:
    __slots__ = ("ids", "key", "layer", "x", "y")

    def __init__(self, key: str, layer: int, ids: list[str]) -> None:
        self.key = key
        self.layer = layer
        self.ids = ids  # one task, or the tasks a collapsed node stands for
        self.x = 0.0
        self.y = 0.0


def draw_dag(
    nodes: list[tuple[str, list[str], str]],
    ordered: list[Any],
    states: dict[str, TaskState],
    path: set[str],
) -> str:
    """The DAG section's HTML (an inline SVG in a scroll box)."""
    if not nodes:
        return "<p class='muted'>The store has no definition of this run's workflow.</p>"
    depth = depths(ordered)
    layers: dict[int, list[str]] = {}
    for tid, _, _ in nodes:
        layers.setdefault(depth[tid], []).append(tid)
    status = {tid: (states[tid].status if tid in states else "pending") for tid, _, _ in nodes}
    drawn: dict[str, _Node] = {}  # task id -> the node that shows it
    columns: dict[int, list[_Node]] = {}
    collapsed = 0
    for d in sorted(layers):
        ids = layers[d]
        col: list[_Node] = []
        if len(ids) > WIDE:
            keep = [t for t in ids if t in path or status[t] in _INTERESTING][:KEEP]
            kept = set(keep)
            rest = [t for t in ids if t not in kept]
            col = [_Node(t, d, [t]) for t in keep]
            group = _Node(f"#{d}", d, rest)
            col.append(group)
            collapsed += 1
        else:
            col = [_Node(t, d, [t]) for t in ids]
        for n in col:
            for t in n.ids:
                drawn[t] = n
        columns[d] = col
    if sum(len(c) for c in columns.values()) > MAX_NODES:
        return _condensed(layers, status, len(nodes))
    deps_of = {t.id: list(t.depends_on) for t in ordered}
    route_of = {tid: route for tid, _, route in nodes}
    many = len(columns) > 12
    w, h, gx, gy = (120 if many else 150), 30, (40 if many else 60), 14
    for d in sorted(columns):
        col = columns[d]
        if d:  # barycentre: put each node near its dependencies, fewer crossings

            def centre(n: _Node) -> float:
                ys = [drawn[p].y for t in n.ids for p in deps_of.get(t, ()) if p in drawn]
                return sum(ys) / len(ys) if ys else 0.0

            col.sort(key=lambda n: (n.key.startswith("#"), centre(n)))
        for i, n in enumerate(col):
            n.x, n.y = 10 + d * (w + gx), 10 + i * (h + gy)
    width = 20 + len(columns) * (w + gx) - gx
    height = 20 + max(len(c) for c in columns.values()) * (h + gy) - gy
    out = []
    if collapsed:
        out.append(
            f"<p class='muted'>Wide layers are collapsed: each grey-edged node stands for the "
            f"tasks of its layer not drawn one by one (failed, cancelled, running and critical "
            f"tasks always are); its bar shows their outcomes. {plural(len(nodes), 'task')} in "
            f"{plural(len(columns), 'layer')}.</p>"
        )
    out.append(f"<div class='scroll'><svg width='{width}' height='{height}' role='img'>")
    edges: set[tuple[str, str]] = set()
    for tid, deps in deps_of.items():
        if tid not in drawn:
            continue
        for dep in deps:
            if dep in drawn:
                edges.add((drawn[dep].key, drawn[tid].key))
    by_key = {n.key: n for c in columns.values() for n in c}
    for a, b in sorted(edges):
        na, nb = by_key[a], by_key[b]
        hot = a in path and b in path
        stroke, sw = ("#1f2328", 2.4) if hot else ("#b6bec8", 1)
        x1, y1, x2, y2 = na.x + w, na.y + h / 2, nb.x, nb.y + h / 2
        mx = (x1 + x2) / 2
        out.append(
            f"<path d='M{x1},{y1} C{mx},{y1} {mx},{y2} {x2},{y2}' fill='none' "
            f"stroke='{stroke}' stroke-width='{sw}'/>"
        )
    for col in columns.values():
        for n in col:
            if n.key.startswith("#"):
                out.append(_group(n, status, w, h))
            else:
                out.append(_task(n, states, status, route_of, path, w, h))
    out.append("</svg></div>")
    return "".join(out)


def _task(
    n: _Node,
    states: dict[str, TaskState],
    status: dict[str, str],
    route_of: dict[str, str],
    path: set[str],
    w: int,
    h: int,
) -> str:
    tid = n.ids[0]
    s = states.get(tid)
    fill = COLORS.get(status[tid], "#dfe3e8")
    text_color = "#1f2328" if status[tid] == "pending" else "#fff"
    border = " stroke='#1f2328' stroke-width='2.4'" if tid in path else ""
    room = (w - 12) // 7
    label = tid if len(tid) <= room else tid[: room - 1] + "…"
    tip = f"{tid} [{route_of[tid]}]: {status[tid]}"
    if s is not None and s.agent:
        tip += f" on {s.agent}, attempt {s.attempts}"
    if s is not None and s.error:
        tip += f"\n{s.error}"
    return (
        f"<g><title>{_e(tip)}</title><rect x='{n.x}' y='{n.y}' width='{w}' height='{h}' rx='5' "
        f"fill='{fill}'{border}/><text x='{n.x + 8}' y='{n.y + 19}' fill='{text_color}'>"
        f"{_e(label)}</text></g>"
    )


def _group(n: _Node, status: dict[str, str], w: int, h: int) -> str:
    by: dict[str, int] = {}
    for t in n.ids:
        by[status[t]] = by.get(status[t], 0) + 1
    tip = f"layer {n.layer}: {plural(len(n.ids), 'more task')}: " + ", ".join(
        f"{k} {name}" for name, k in sorted(by.items())
    )
    sample = ", ".join(n.ids[:12]) + (", …" if len(n.ids) > 12 else "")
    out = [
        f"<g><title>{_e(tip)}\n{_e(sample)}</title><rect x='{n.x}' y='{n.y}' width='{w}' "
        f"height='{h}' rx='5' fill='#f6f8fa' stroke='#8c959f' stroke-dasharray='3 2'/>"
        f"<text x='{n.x + 8}' y='{n.y + 15}' fill='#1f2328'>+{_e(plural(len(n.ids), 'task'))}"
        "</text>"
    ]
    x = n.x + 8
    for name, k in sorted(by.items()):
        bw = (w - 16) * k / len(n.ids)
        out.append(
            f"<rect x='{x:.1f}' y='{n.y + h - 9}' width='{bw:.1f}' height='5' "
            f"fill='{COLORS.get(name, '#ccc')}'/>"
        )
        x += bw
    out.append("</g>")
    return "".join(out)


def _condensed(layers: dict[int, list[str]], status: dict[str, str], n: int) -> str:
    """One bar per layer of the DAG, split by outcome: for runs too big to draw task by task."""
    bar_w, gap, height = 26, 8, 160
    widest = max(len(v) for v in layers.values())
    width = 20 + len(layers) * (bar_w + gap)
    out = [
        f"<p class='muted'>{plural(n, 'task')} in {plural(len(layers), 'layer')}: too many to "
        "draw one by one. Each bar is one layer of the DAG (tasks whose longest chain of "
        "dependencies has the same length), split by outcome.</p>",
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
