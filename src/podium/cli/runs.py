"""Commands about recorded runs: ``resume``, ``runs``, ``status``, ``logs``, ``report``.

Each reads a run store (``--db``: a SQLite file, ``sqlite:///FILE`` or
``postgresql://USER@HOST/DB``; the environment variable PODIUM_DB gives a default). `register`
adds them to the ``podium`` app; like the rest of the CLI, they import the engine and the
stores only when they run, so ``podium --help`` stays fast.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .options import AllowOpt, Backend, BackendOpt, RayAddressOpt, allow

if TYPE_CHECKING:
    from ..engine.run import Run
    from ..orchestrator import Orchestrator
    from ..stores.base import RunRecord, Store, TaskState, Transition

__all__ = ["register"]

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="PODIUM_DB",
        metavar="URL",
        help="The run store: a SQLite file (or sqlite:///FILE) or postgresql://USER@HOST/DB.",
    ),
]
RunIdArg = Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id.")]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document to stdout instead of tables."),
]
ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="PODIUM_SERVER",
        metavar="URL",
        help="Ask this podium server (podium serve) instead of a store.",
    ),
]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", envvar="PODIUM_KEY", metavar="KEY", help="The API key for --server."),
]


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    from .options import command

    for fn in (resume, runs, status, logs, report):
        command(app, fn)


# -- reading a store -------------------------------------------------------------------------


def existing_store(db: str) -> Store:
    """The store ``db`` names, which must exist: the commands that only read runs refuse a
    SQLite file that is not there (a typo) instead of creating an empty store."""
    import os

    from ..errors import StoreError
    from ..stores import open_store

    store = open_store(db)
    path = getattr(store, "path", None)
    if path is not None and path != ":memory:" and not os.path.exists(path):
        from .._utils.text import did_you_mean

        folder = os.path.dirname(path) or "."
        try:
            near = [os.path.join(os.path.dirname(path), f) for f in os.listdir(folder)]
        except OSError:
            near = []
        raise StoreError(
            f"--db {db}: no such store file {path!r}.{did_you_mean(path, near)} This command "
            "reads recorded runs and does not create a store: check the path "
            "(`podium run FILE --db PATH` records a run and creates the file).",
            file=db,
            field="db",
        )
    return store


async def _with_store(db: str, work: Any) -> Any:
    store = existing_store(db)
    try:
        await store.open()
        return await work(store)
    finally:
        await store.close()


def _ordered_states(saved: RunRecord, states: dict[str, TaskState]) -> dict[str, TaskState]:
    from ..report.documents import ordered_states

    return ordered_states(saved, states)


def _usage_stats(states: dict[str, TaskState]) -> dict[str, Any]:
    from ..report.documents import _usage_stats

    return _usage_stats(states)


def run_document(saved: RunRecord, states: dict[str, TaskState]) -> dict[str, Any]:
    from ..report.documents import run_document

    return run_document(saved, states)


def history(transitions: list[Transition]) -> list[dict[str, Any]]:
    from ..report.documents import history

    return history(transitions)


def _read(db: str | None, json_out: bool, work: Any) -> Any:
    """Run ``work(store)`` on an opened store; store errors become ``error: ...``, exit 2."""
    from .output import user_errors

    with user_errors(json_out):
        return asyncio.run(_with_store(_need_db(db), work))


def _need_db(db: str | None) -> str:
    if not db:
        from ..errors import ValidationError

        raise ValidationError(
            "give the run store (--db URL, or PODIUM_DB) or a server (--server URL).",
            field="db",
        )
    return db


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
            store=existing_store(_need_db(db)),
            backend=backend.value,
            ray_address=ray_address,
            echo_logs=not json_out,  # handlers' print() must not land before the JSON
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

    found = _read(db, json_out, work)
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

    saved, states = _read(db, json_out, work)
    if task is not None:
        _task_detail(saved, states, task, json_out)
        return
    if json_out:
        print_json(run_document(saved, states))
        return
    tasks = _ordered_states(saved, states)
    stats = saved.stats or _usage_stats(states)
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


# -- logs ----------------------------------------------------------------------------------------


def logs(
    run_id: RunIdArg,
    db: DbOpt = None,
    json_out: JsonOpt = False,
    task: Annotated[
        list[str] | None,
        typer.Option("--task", "-t", metavar="ID", help="Only this task (repeat for more)."),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep printing new lines until the run ends (with --db)."
        ),
    ] = False,
    server: ServerOpt = None,
    key: KeyOpt = None,
) -> None:
    """Show the ordered history of a recorded run, with what its tasks printed and logged.

    Who ran what and when: each attempt, its error and traceback, every line a task wrote
    (print, logging, ctx.log) and run-level events (resumes, agents paused or scaled)."""
    from .output import console, print_json

    async def work(store: Store) -> list[Transition]:
        return await store.transitions(run_id)

    if server:
        if follow:
            from ..errors import ValidationError
            from .output import user_errors

            with user_errors(json_out):
                raise ValidationError(
                    "--follow reads the run's store: give --db instead of --server.",
                    field="follow",
                )
        from .remote import remote_logs

        found = remote_logs(run_id, server, key, json_out, task)
        if found is None:
            return
        events = found
    elif follow:
        _follow(run_id, _need_db(db), set(task) if task else None, json_out)
        return
    else:
        events = history(_read(db, json_out, work))
    if task:
        wanted = set(task)
        events = [e for e in events if e["task"] in wanted]
    if json_out:
        print_json(events)
        return
    out = console()
    width = max((len(e["task"] or "") for e in events), default=4)
    for e in events:
        _print_event(out, e, width)


def _print_event(out: Any, e: dict[str, Any], width: int) -> None:
    from rich.text import Text

    from .output import STYLES, duration

    when = (e["at"] or "-").replace("T", " ")[:23]
    line = Text(f"{when}  ")
    if e.get("event") == "log":
        line.append(f"{e['task'] or '-':<{width}}  ")
        line.append(f"#{e['attempt'] or 0:<2} ")
        line.append(f"{e['stream'] or 'log':<9}", style="bright_black")
        line.append(f" {e['text']}")
    elif e["task"] is None:
        line.append(f"{'-':<{width}}  event {e['event']}", style="bright_black")
        if e.get("data"):
            line.append(" " + " ".join(f"{k}={v}" for k, v in e["data"].items()))
    else:
        line.append(f"{e['task']:<{width}}  ")
        line.append(f"#{e['attempt'] or 0:<2} ")
        line.append(f"{e['status']:<9}", style=STYLES.get(e["status"], ""))
        if e["agent"]:
            line.append(f" on {e['agent']}")
        if e.get("duration") is not None:
            line.append(f" after {duration(e['duration'])}")
        if e.get("error"):
            line.append(f"  {e['error']}", style="red")
        if e.get("note"):
            line.append(f"  ({e['note']})", style="bright_black")
    line.rstrip()
    out.print(line, soft_wrap=True, highlight=False)
    if e.get("traceback"):
        tb = Text("\n".join("    " + x for x in e["traceback"].rstrip("\n").splitlines()))
        out.print(tb, style="bright_black", soft_wrap=True, highlight=False)


def _follow(run_id: str, db: str, wanted: set[str] | None, json_out: bool) -> None:
    """Print the run's history, then what is recorded next, until the run ends (Ctrl-C stops
    following and leaves the run alone). With ``--json``, one event per line."""
    import json as _json

    from .output import console, user_errors

    out = console()

    async def poll() -> None:
        store = existing_store(db)
        await store.open()
        try:
            seen = 0  # highest seq printed
            while True:
                saved = await store.get_run(run_id)
                new = [t for t in await store.transitions(run_id) if t.seq > seen]
                if new:
                    seen = new[-1].seq
                    for e in history(new):
                        if wanted is not None and e["task"] not in wanted:
                            continue
                        if json_out:
                            print(_json.dumps(e, default=str), flush=True)
                        else:
                            _print_event(out, e, 12)
                if saved.status != "running" or saved.owner_alive() is False:
                    return
                await asyncio.sleep(0.5)
        finally:
            await store.close()

    with user_errors(json_out):
        try:
            asyncio.run(poll())
        except KeyboardInterrupt:
            pass


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

    saved, states, transitions = _read(db, False, work)
    from ..report.html import render_report

    target = out or Path(f"{run_id}.html")
    html = render_report(saved, _ordered_states(saved, states), transitions)
    with user_errors():
        check_out(target)
        write_report(target, html)
