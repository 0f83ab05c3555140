"""``podium plan`` (a goal -> a workflow file) and ``podium tensor`` (who runs what)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .options import JsonOpt

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command()(plan)
    app.command()(tensor)


def plan(
    goal: Annotated[str, typer.Argument(metavar="GOAL", help="What the workflow should achieve.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the workflow (YAML or JSON).")
    ],
    agents: Annotated[
        Path | None,
        typer.Option(
            "--agents",
            metavar="FILE",
            help="A file whose 'agents:' the plan must use (default: one LLM agent per agent "
            "type the plan needs).",
        ),
    ] = None,
    llm: Annotated[
        str | None,
        typer.Option(
            "--llm",
            metavar="MODEL",
            help="Plan with this model (at $OPENAI_BASE_URL or --base-url) instead of the "
            "rule-based templates.",
        ),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", metavar="URL", help="The model's endpoint.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Turn a goal into a workflow file.

    The plan's subtasks get dependencies, capabilities, priorities and time/cost estimates;
    `podium validate` accepts what it writes and `podium run` runs it.

    Without --llm the rule-based templates decide (develop/build X: requirements, design,
    implementation, testing, review; fix/debug, write/draft, research/compare have theirs).
    """
    from .output import check_out, print_json, say, user_errors

    with user_errors(json_out):
        from ..errors import ValidationError
        from ..llm.planner import plan_goal
        from ..spec.loader import read_file

        check_out(out)
        found = None
        if agents is not None:
            found = read_file(agents).get("agents")
            if not isinstance(found, list) or not found:
                raise ValidationError(
                    f"{agents}: has no 'agents:' list to plan with.", file=str(agents)
                )
        flow = plan_goal(goal, agents=found, model=llm, base_url=base_url)
        _write(out, flow)
        from ..spec.loader import load_workflow

        load_workflow(out)  # what was written must load (handlers included)
    if json_out:
        print_json({"file": str(out), "workflow": flow})
        return
    for t in flow["tasks"]:
        deps = ", ".join(t.get("depends_on", [])) or "-"
        est = t["options"]["estimate"]
        say(
            f"{t['id']:<24} {t['capability']:<16} {t['priority']:<8} after {deps:<30} "
            f"~{est['seconds']:g}s ${est['cost']:g}",
            stderr=False,
        )
    say(f"{flow['description']}; {len(flow['tasks'])} tasks written to {out}")


def _write(out: Path, flow: dict[str, Any]) -> None:
    import json

    from ..errors import ValidationError

    if out.suffix.lower() == ".json":
        text = json.dumps(flow, indent=2) + "\n"
    else:
        import yaml

        text = "# written by podium plan\n" + yaml.safe_dump(
            flow, sort_keys=False, allow_unicode=True, width=100
        )
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"--out {out}: cannot write it: {exc.strerror}.") from None


def tensor(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Workflow file (YAML or JSON).")],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Where to write the array (.npy); the axes go to .json."),
    ],
    run: Annotated[
        str | None,
        typer.Option("--run", metavar="ID", help="A recorded run: its actual assignments."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="PODIUM_DB", metavar="URL", help="The run store (--run)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write the assignment tensor of a workflow or a recorded run.

    T[task, agent, level], with the levels critical, high, medium and low. Before a run: the
    probability that the scheduler gives each task to each agent. With --run and --db: 1
    where each task actually ran. The task and agent order go to OUT's .json.
    """
    from .output import check_out, print_json, say, user_errors

    with user_errors(json_out):
        from ..errors import ValidationError

        check_out(out)
        if run is not None:
            if db is None:
                raise ValidationError("--run needs --db: the store the run was recorded in.")
            t = _recorded(run, db)
        else:
            from ..llm.tensor import planned_tensor
            from ..orchestrator import Orchestrator
            from ..spec.loader import load_workflow

            wf = load_workflow(file)
            agents = Orchestrator().prepare(wf).agents.values()  # pools as their replicas
            t = planned_tensor(wf, list(agents))
        npy, side = t.save(out)
    if json_out:
        print_json({"array": npy, "index": side, **t.index()})
        return
    say(
        f"{t.kind} assignment tensor {t.shape[0]} tasks x {t.shape[1]} agents x "
        f"{t.shape[2]} levels written to {npy} (axes in {side})",
        stderr=False,
    )


def _recorded(run_id: str, db: str) -> Any:
    import asyncio

    from ..llm.tensor import run_tensor
    from ..stores import open_store

    async def read() -> Any:
        store = open_store(db)
        try:
            await store.open()
            return await store.get_run(run_id), await store.task_states(run_id)
        finally:
            await store.close()

    saved, states = asyncio.run(read())
    return run_tensor(saved, states)
