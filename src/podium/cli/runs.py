"""Commands about recorded runs: ``resume``, ``runs``, ``status``, ``report`` (``logs`` is in
logs.py).

Each reads a run store (``--db``: a SQLite file, ``sqlite:///FILE`` or
``postgresql://USER@HOST/DB``; the environment variable PODIUM_DB gives a default). `register`
adds them to the ``podium`` app; like the rest of the CLI, they import the engine and the
stores only when they run, so ``podium --help`` stays fast.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .options import AllowOpt, Backend, BackendOpt, GatesOpt, RayAddressOpt, allow
from .stored import (
    DbOpt,
    JsonOpt,
    KeyOpt,
    RunIdArg,
    ServerOpt,
    existing_store,
    need_db,
    ordered_states,
    read_store,
    run_document,
    usage_stats,
)

if TYPE_CHECKING:
    from ..engine.run import Run
    from ..orchestrator import Orchestrator
    from ..stores.base import RunRecord, Store, TaskState, Transition

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    from .options import command

    for fn in (resume, runs, status, report):
        command(app, fn)


# -- resume ------------------------------------------------------------------------------------


async def _prepare_resume(orch: Orchestrator, run_id: str) -> Run:
    from ..errors import CapabilityError

    store = orch.store
    assert store is not None
    try:
        return await orch.prepare_resume(run_id)
    except CapabilityError as exc:
        saved = await store.get_run(run_id)
        if (saved.definition or {}).get("kind") != "code":
            raise
        raise CapabilityError(
            f"{exc.message} Run {run_id!r} was built in Python, so its agents are not in the "
            "store: resume it from Python with the agents registered "
            f"(await orch.resume({run_id!r})).",
            task=exc.task,
            field=exc.field,
        ) from None
    finally:
        await store.close()  # the run itself goes on in another event loop: it reopens


def resume(
    run_id: RunIdArg,
    db: DbOpt = None,
    json_out: JsonOpt = False,
    backend: BackendOpt = Backend.local,
    ray_address: RayAddressOpt = None,
    allow_module: AllowOpt = None,
    gates: GatesOpt = None,
) -> None:
    """Continue a recorded run that was interrupted or failed.

    It runs until it ends. Completed tasks are not executed again and keep their results;
    every other task runs (again). The workflow comes from the store; a workflow file's
    handlers are imported from the file's folder. Exit codes as for `podium run`.
    """
    from .execute import execute
    from .output import say, user_errors

    allow(allow_module)
    with user_errors(json_out):
        from ..orchestrator import Orchestrator

        orch = Orchestrator(
            store=existing_store(need_db(db)),
            backend=backend.value,
            ray_address=ray_address,
            echo_logs=not json_out,  # handlers' print() must not land before the JSON
            gates=gates,
        )
        run = asyncio.run(_prepare_resume(orch, run_id))
    if orch._resuming[run_id].status == "completed":  # nothing to run: show it as recorded
        status(run_id, db, json_out)
        say(f"run {run_id} completed already: nothing to resume", stderr=True)
        raise typer.Exit(0)
    raise typer.Exit(execute(orch, run, json_out))


# -- runs and status ---------------------------------------------------------------------------


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    from datetime import datetime

    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _shown_status(saved: RunRecord) -> str:
    if saved.status == "running" and saved.owner_alive() is False:
        return "interrupted"
    return saved.status


def runs(
    db: DbOpt = None,
    json_out: JsonOpt = False,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, metavar="N", help="Newest runs shown.")
    ] = 50,
    server: ServerOpt = None,
    key: KeyOpt = None,
) -> None:
    """List recorded runs, newest first.

    Shows each run's id, workflow, status, start, duration and task counts.

    A run shown as `interrupted` was running when its process died: `podium resume` it.
    """
    from .output import STYLES, duration, print_json, say

    if server:
        from .remote import remote_runs

        remote_runs(server, key, json_out, limit)
        return

    async def work(store: Store) -> list[RunRecord]:
        return await store.list_runs(limit=limit)

    found = read_store(db, json_out, work)
    if json_out:
        print_json([r.to_dict() for r in found])
        return
    if not found:
        say(f"no runs recorded in {db} yet", stderr=False)
        return
    from rich.text import Text

    from .output import Column, table

    columns = [
        Column("run", "id"),
        Column("workflow", "id"),
        Column("status"),
        Column("started"),
        Column("duration", right=True),
        Column("tasks", right=True),
        Column("failed", right=True),
    ]
    rows = []
    for r in found:
        shown = _shown_status(r)
        counts = r.counts or {}
        total = sum(counts.values()) or r.total
        rows.append(
            [
                Text(r.run_id),
                Text(r.workflow),
                Text(shown, style=STYLES.get(shown, "yellow")),
                _when(r.started_at),
                duration(r.duration),
                f"{counts.get('completed', 0)}/{total}",
                str(counts.get("failed", 0)),
            ]
        )
    table(columns, rows)


class _Row:
    """A stored task state as the CLI's summary table reads a `TaskResult`."""

    __slots__ = (
        "agent",
        "attempts",
        "duration",
        "error",
        "id",
        "logs",
        "status",
        "traceback",
        "usage",
    )

    def __init__(self, tid: str, s: TaskState) -> None:
        self.id = tid
        self.traceback = s.traceback
        self.logs = s.logs
        self.usage = s.usage
        self.agent = s.agent
        self.status = s.status
        self.attempts = s.attempts
        self.error = s.error
        self.duration = (
            s.finished_at - s.started_at
            if s.finished_at is not None and s.started_at is not None
            else None
        )


def status(
    run_id: RunIdArg,
    db: DbOpt = None,
    json_out: JsonOpt = False,
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            "-t",
            metavar="ID",
            help="One task in full: its error, whole traceback and what it wrote.",
        ),
    ] = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
) -> None:
    """Show every task's state in a recorded run, or one task in full.

    `--json` prints the same document as `podium run --json` (with --task, that task's part)."""
    from types import SimpleNamespace

    if server:
        from .remote import remote_status

        remote_status(run_id, server, key, json_out, task)
        return

    from .output import duration, print_json, say, summary

    async def work(store: Store) -> tuple[RunRecord, dict[str, TaskState]]:
        return await store.get_run(run_id), await store.task_states(run_id)

    saved, states = read_store(db, json_out, work)
    if task is not None:
        _task_detail(saved, states, task, json_out)
        return
    if json_out:
        print_json(run_document(saved, states))
        return
    tasks = ordered_states(saved, states)
    stats = saved.stats or usage_stats(states)
    summary(SimpleNamespace(tasks={tid: _Row(tid, s) for tid, s in tasks.items()}, stats=stats))
    from ..stores.base import count_states

    counts = count_states(states, len(tasks))
    shown = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    state = _shown_status(saved)
    took = f" in {duration(saved.duration)}" if saved.duration is not None else ""
    say(f"run {saved.run_id} ({saved.workflow}) {state}{took}: {shown}", stderr=False)
    if state == "interrupted":
        say(f"its process is gone: continue it with `podium resume {run_id} --db {db}`")


def _task_detail(saved: RunRecord, states: dict[str, TaskState], tid: str, json_out: bool) -> None:
    """``podium status RUN --task ID``: one task in full."""
    from .output import task_detail

    doc = run_document(saved, states)
    task_detail(doc, tid, json_out)


# -- report ------------------------------------------------------------------------------------


def report(
    run_id: RunIdArg,
    db: DbOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Where to write the HTML page [default: RUN_ID.html].",
        ),
    ] = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
) -> None:
    """Write a self-contained HTML report of a recorded run.

    The page shows failures first, then the DAG coloured by outcome, a timeline of tasks per
    agent, the critical path, the slowest tasks and agent utilisation."""
    from .output import check_out, user_errors, write_report

    if server:
        from .remote import remote_report

        remote_report(run_id, server, key, out or Path(f"{run_id}.html"))
        return

    async def work(store: Store) -> tuple[RunRecord, dict[str, TaskState], list[Transition]]:
        return (
            await store.get_run(run_id),
            await store.task_states(run_id),
            await store.transitions(run_id),
        )

    saved, states, transitions = read_store(db, False, work)
    from ..report.html import render_report

    target = out or Path(f"{run_id}.html")
    html = render_report(saved, ordered_states(saved, states), transitions)
    with user_errors():
        check_out(target)
        write_report(target, html)
