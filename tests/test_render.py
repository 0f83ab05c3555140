"""DAG export (``podium._render``): Mermaid and Graphviz text that parses, whatever the ids."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess

import pytest

import podium
from podium.spec.diagram import render, to_dot, to_mermaid

TRICKY = [
    "fetch-1",
    "v1.2",
    "with space",
    'say "hi"',
    "back\\slash\\",
    "a#b&c<d>",
    "end",  # a Mermaid keyword
    "graph",  # a DOT keyword
    "naïve → ok",
]

MERMAID_NODE = re.compile(r'^    (n\d+)\["(.*)<br/><small>(.*)</small>"\]$')
MERMAID_EDGE = re.compile(r"^    (n\d+) --> (n\d+)$")
DOT_NODE = re.compile(
    r"^    (n\d+) \[label=<(.*)<br/><font point-size=\"10\">(.*)</font>>(, .*)?\];$"
)
DOT_EDGE = re.compile(r"^    (n\d+) -> (n\d+);$")


def tricky_workflow() -> podium.Workflow:
    """Each tricky id depends on the one before it; the last is pinned to an agent."""
    wf = podium.Workflow('flow "one"')
    for i, tid in enumerate(TRICKY):
        deps = [TRICKY[i - 1]] if i else []
        if i == len(TRICKY) - 1:
            wf.task(tid, agent="writer", depends_on=deps)
        else:
            wf.task(tid, capability="work", depends_on=deps)
    wf.task("fan-in", capability="work", depends_on=["fetch-1", "v1.2", "end"])
    return wf


def expected_edges(wf: podium.Workflow) -> set[tuple[str, str]]:
    return {(dep, t.id) for t in wf.tasks.values() for dep in t.depends_on}


def unescape_mermaid(text: str) -> str:
    out = re.sub(r"#([a-z]+|\d+);", lambda m: f"&{m.group(1)};", text)
    out = re.sub(r"&(\d+);", r"&#\1;", out)
    return html.unescape(out)


def parse_mermaid(text: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]]]:
    lines = text.splitlines()
    assert lines[1] == "flowchart TD"
    nodes: dict[str, tuple[str, str]] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[2:]:
        if m := MERMAID_NODE.match(line):
            assert '"' not in m.group(2) + m.group(3)  # quotes would end the label early
            nodes[m.group(1)] = (unescape_mermaid(m.group(2)), unescape_mermaid(m.group(3)))
        elif m := MERMAID_EDGE.match(line):
            edges.append((m.group(1), m.group(2)))
        else:
            assert line.startswith(("    classDef ", "    class ")), line
    return nodes, edges


def parse_dot(text: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]]]:
    lines = text.splitlines()
    assert lines[0] == "digraph workflow {" and lines[-1] == "}"
    nodes: dict[str, tuple[str, str]] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        if m := DOT_NODE.match(line):
            label, route = m.group(2), m.group(3)
            assert "<" not in label and ">" not in label  # would break the HTML label
            nodes[m.group(1)] = (html.unescape(label), html.unescape(route))
        elif m := DOT_EDGE.match(line):
            edges.append((m.group(1), m.group(2)))
        else:
            assert re.match(r"^    (label=<[^<>]*>|labelloc=t|rankdir=TB|node \[.*\]);$", line), (
                line
            )
    return nodes, edges


@pytest.mark.parametrize("parse, fmt", [(parse_mermaid, "mermaid"), (parse_dot, "dot")])
def test_every_task_and_dependency_is_drawn(parse, fmt: str) -> None:
    wf = tricky_workflow()
    nodes, edges = parse(render(wf, fmt))
    assert sorted(label for label, _ in nodes.values()) == sorted(wf.tasks)
    assert all(a in nodes and b in nodes for a, b in edges)  # edges name declared nodes
    assert {(nodes[a][0], nodes[b][0]) for a, b in edges} == expected_edges(wf)
    routes = {label: route for label, route in nodes.values()}
    assert routes["fetch-1"] == "work"
    assert routes["naïve → ok"] == "agent: writer"


def test_dot_names_the_workflow_safely() -> None:
    text = to_dot(tricky_workflow())
    assert "label=<flow &quot;one&quot;>;" in text


def test_graphviz_accepts_the_dot_text() -> None:
    if shutil.which("dot") is None:
        why = "Graphviz `dot` is not installed (.ci/run installs it: apt-get install graphviz)"
        if os.environ.get("PODIUM_REQUIRE_SERVICES"):
            pytest.fail(why)
        pytest.skip(why)
    p = subprocess.run(
        ["dot", "-Tsvg"], input=to_dot(tricky_workflow()), capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    assert "back\\slash\\" in html.unescape(p.stdout)


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown graph format 'png'"):
        render(tricky_workflow(), "png")


async def test_nodes_are_coloured_by_outcome(orch: podium.Orchestrator) -> None:
    @orch.agent(name="worker", capabilities=["work"])
    def work(ctx: podium.Context) -> str:
        if ctx.task_id == "bad":
            raise RuntimeError("nope")
        return "ok"

    wf = podium.Workflow("coloured", on_failure="continue")
    wf.task("good", capability="work")
    wf.task("bad", capability="work")
    wf.task("after-bad", capability="work", depends_on=["bad"])
    result = await orch.run(wf)
    assert str(result.status) == "partial"

    mermaid = to_mermaid(wf, result)
    nodes, _ = parse_mermaid(mermaid)
    name = {label: n for n, (label, _) in nodes.items()}
    classes = dict(re.findall(r"^    class (\S+) (\w+)$", mermaid, re.M))
    by_status = {status: set(members.split(",")) for members, status in classes.items()}
    assert by_status == {
        "completed": {name["good"]},
        "failed": {name["bad"]},
        "skipped": {name["after-bad"]},
    }
    assert all(f"classDef {s} fill:" in mermaid for s in by_status)

    dot = to_dot(wf, result)
    parse_dot(dot)
    bad_line = next(line for line in dot.splitlines() if line.startswith(f"    {name['bad']} ["))
    assert 'tooltip="failed"' in bad_line and "fillcolor=" in bad_line
