"""A workflow's DAG as text for diagram tools: Mermaid (``flowchart``) and Graphviz ``dot``.

Nodes get generated names (``n0``, ``n1``, ...) and carry the task id in their label, so task
ids with dashes, dots, spaces, quotes or backslashes never clash with either syntax; only the
labels are escaped. Edges go from a dependency to its dependent. Given a `RunResult`, nodes
are coloured by each task's final status.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..result import RunResult
    from .workflow import Task, Workflow

__all__ = ["FORMATS", "render", "to_dot", "to_mermaid"]

FORMATS = ("mermaid", "dot")

# fill, border: readable on light and dark backgrounds
_COLOURS = {
    "completed": ("#d3f9d8", "#2b8a3e"),
    "failed": ("#ffe3e3", "#c92a2a"),
    "skipped": ("#f1f3f5", "#868e96"),
    "cancelled": ("#fff3bf", "#e67700"),
    "running": ("#d0ebff", "#1971c2"),
    "retrying": ("#d0ebff", "#1971c2"),
    "ready": ("#ffffff", "#495057"),
    "pending": ("#ffffff", "#495057"),
}


def render(wf: Workflow, fmt: str = "mermaid", result: RunResult | None = None) -> str:
    """The DAG of ``wf`` in ``fmt`` (``mermaid`` or ``dot``), coloured by ``result`` if given."""
    if fmt == "mermaid":
        return to_mermaid(wf, result)
    if fmt == "dot":
        return to_dot(wf, result)
    raise ValueError(f"unknown graph format {fmt!r}; use one of: {', '.join(FORMATS)}")


def _route(t: Task) -> str:
    return f"agent: {t.agent}" if t.agent is not None else str(t.capability)


def _names(wf: Workflow) -> dict[str, str]:
    return {tid: f"n{i}" for i, tid in enumerate(wf.tasks)}


def _edges(wf: Workflow, names: dict[str, str]) -> Iterable[tuple[str, str]]:
    for t in wf.tasks.values():
        for dep in t.depends_on:
            src = names.get(dep)
            if src is not None:  # a missing dependency is a validation error, not drawn
                yield src, names[t.id]


def _statuses(wf: Workflow, result: RunResult | None) -> dict[str, list[str]]:
    """Node names grouped by the status of their task in ``result``."""
    groups: dict[str, list[str]] = {}
    if result is None:
        return groups
    names = _names(wf)
    for tid, rec in result.tasks.items():
        name = names.get(tid)
        if name is not None:
            groups.setdefault(str(rec.status), []).append(name)
    return groups


# -- mermaid -------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    """Escape text for a double-quoted Mermaid label (entity codes, as Mermaid expects)."""
    return (
        text.replace("#", "#35;")
        .replace("&", "#amp;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("\n", " ")
    )


def to_mermaid(wf: Workflow, result: RunResult | None = None) -> str:
    """A Mermaid ``flowchart TD``: one node per task (id, then capability or agent)."""
    names = _names(wf)
    lines = [f"%% workflow: {_mermaid_text(wf.name)}", "flowchart TD"]
    for tid, t in wf.tasks.items():
        label = f"{_mermaid_text(tid)}<br/><small>{_mermaid_text(_route(t))}</small>"
        lines.append(f'    {names[tid]}["{label}"]')
    for src, dst in _edges(wf, names):
        lines.append(f"    {src} --> {dst}")
    groups = _statuses(wf, result)
    for status, members in groups.items():
        fill, stroke = _COLOURS.get(status, _COLOURS["pending"])
        lines.append(f"    classDef {status} fill:{fill},stroke:{stroke}")
        lines.append(f"    class {','.join(members)} {status}")
    return "\n".join(lines) + "\n"


# -- dot -----------------------------------------------------------------------------------


def _dot_html(text: str) -> str:
    # HTML-like labels: only &, <, > and " are special, so ids ending in a backslash or
    # holding quotes need no DOT string escaping at all.
    return html.escape(text, quote=True)


def to_dot(wf: Workflow, result: RunResult | None = None) -> str:
    """A Graphviz ``digraph``: one box per task (id, then capability or agent)."""
    names = _names(wf)
    status_of: dict[str, str] = {}
    for status, members in _statuses(wf, result).items():
        for m in members:
            status_of[m] = status
    lines = [
        "digraph workflow {",
        f"    label=<{_dot_html(wf.name)}>;",
        "    labelloc=t;",
        "    rankdir=TB;",
        '    node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
    ]
    for tid, t in wf.tasks.items():
        name = names[tid]
        label = f'<{_dot_html(tid)}<br/><font point-size="10">{_dot_html(_route(t))}</font>>'
        attrs = f"label={label}"
        status = status_of.get(name)
        if status is not None:
            fill, stroke = _COLOURS.get(status, _COLOURS["pending"])
            attrs += f', fillcolor="{fill}", color="{stroke}", tooltip="{status}"'
        lines.append(f"    {name} [{attrs}];")
    for src, dst in _edges(wf, names):
        lines.append(f"    {src} -> {dst};")
    lines.append("}")
    return "\n".join(lines) + "\n"
