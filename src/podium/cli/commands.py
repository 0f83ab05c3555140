"""The commands that take a workflow file: ``run``, ``validate``, ``graph``; and ``demo``."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from .._utils.text import plural
from .execute import execute, prepare
from .options import (
    AllowOpt,
    Backend,
    BackendOpt,
    FileArg,
    GatesOpt,
    JsonOpt,
    KeyOpt,
    RayAddressOpt,
    ServerOpt,
    allow,
    command,
)
from .output import check_out, print_json, say, user_errors, write_report

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    for fn in (run, validate, graph, demo):
        command(app, fn)


def run(
    file: FileArg,
    json_out: JsonOpt = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="PODIUM_DB",
            metavar="URL",
            help="Record the run in this store so it can be resumed and inspected: a SQLite "
            "file (or sqlite:///FILE) or postgresql://USER@HOST/DB.",
        ),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", metavar="ID", help="The run's id (default: a random one)."),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            metavar="DOLLARS",
            help="Budget: no new LLM task starts once its estimated cost would pass this.",
        ),
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option("--max-tokens", metavar="N", help="Budget in tokens, as --max-cost."),
    ] = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    backend: BackendOpt = Backend.local,
    ray_address: RayAddressOpt = None,
    allow_module: AllowOpt = None,
    gates: GatesOpt = None,
) -> None:
    """Run a workflow file and show its progress and a summary.

    Prints the run id first (with --db: once the run is recorded). Exit code 0 when every task
    completed, 1 when the run failed, ended partial or exceeded its budget, 2 when the file is
    invalid, 130 on Ctrl-C.
    """
    allow(allow_module)
    if server:  # the server runs it, with its own agents and store
        from .remote import remote_run

        raise typer.Exit(remote_run(file, server, key, json_out))
    budget = {"max_cost": max_cost, "max_tokens": max_tokens}
    orch, prepared = prepare(
        file,
        json_out,
        db,
        run_id,
        budget=budget,
        backend=backend.value,
        ray_address=ray_address,
        gates=gates,
    )
    raise typer.Exit(execute(orch, prepared, json_out))


def _shorten(path: list[str], keep: int = 6) -> str:
    shown = [repr(t) for t in path]
    if len(shown) > keep:
        shown = [*shown[:3], "...", *shown[-2:]]
    return " -> ".join(shown)


def validate(file: FileArg, json_out: JsonOpt = False, allow_module: AllowOpt = None) -> None:
    """Check a workflow file without running it.

    Checks fields, dependencies, cycles, capabilities and handlers; prints the number of tasks
    and agents and the DAG's depth. Exit code 0 when valid, 2 when not.
    """
    allow(allow_module)
    _, prepared = prepare(file, json_out)
    from ..spec import graph as _graph

    wf = prepared.workflow
    order = _graph.topological_order(wf.tasks, wf.source)
    path, depth = _graph.critical_path(order, lambda t: 1.0)
    if json_out:
        print_json(
            {
                "valid": True,
                "file": str(file),
                "workflow": wf.name,
                "tasks": len(wf.tasks),
                "agents": len(prepared.agents),
                "depth": int(depth),
                "critical_path": path,
            }
        )
        return
    say(
        f"ok {file}: workflow {wf.name!r}, {plural(len(wf.tasks), 'task')}, "
        f"{plural(len(prepared.agents), 'agent')}, depth {int(depth)} "
        f"(critical path: {_shorten(path)})",
        stderr=False,
    )


class GraphFormat(enum.StrEnum):
    mermaid = "mermaid"
    dot = "dot"


def graph(
    file: FileArg,
    fmt: Annotated[
        GraphFormat,
        typer.Option("--format", "-f", help="mermaid (flowchart) or dot (Graphviz)."),
    ] = GraphFormat.mermaid,
    allow_module: AllowOpt = None,
) -> None:
    """Print the workflow's DAG as Mermaid or Graphviz text.

    One node per task (its id and capability or agent); edges go from a dependency to its
    dependent. Render with e.g. `podium graph flow.yaml --format dot | dot -Tsvg > flow.svg`.
    """
    allow(allow_module)
    with user_errors():
        from ..spec import graph as _graph
        from ..spec.diagram import render
        from ..spec.loader import load_workflow

        wf = load_workflow(file)
        _graph.check_structure(wf)
        _graph.topological_order(wf.tasks, wf.source)
        text = render(wf, fmt.value)
    sys.stdout.write(text)


def demo(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="FILE", help="Where to write the Markdown report."),
    ] = Path("podium-report.md"),
    json_out: JsonOpt = False,
) -> None:
    """Run the bundled offline demo and write its Markdown report.

    Research agents search bundled texts in parallel, an analyst aggregates, a writer composes
    a report and three reviewers vote on it: no network, no API key. With OPENAI_BASE_URL set,
    the writer and reviewers are LLM agents on PODIUM_DEMO_MODEL (default gpt-4o-mini).
    """
    with user_errors(json_out):
        check_out(out)
        from ..demo import demo_workflow, report_markdown
        from ..orchestrator import Orchestrator

        # an in-memory store keeps every attempt, so the report can say why a retry was needed
        orch = Orchestrator(store="memory")
        prepared = orch.prepare(demo_workflow())

    import asyncio

    code = execute(orch, prepared, json_out)
    if code >= 128:  # interrupted: no report of half a run
        raise typer.Exit(code)
    history = asyncio.run(orch.store.transitions(prepared.run_id))  # type: ignore[union-attr]
    text = report_markdown(prepared.result(), history)
    with user_errors():  # stdout already holds the run's JSON document
        write_report(out, text)
    raise typer.Exit(code)
