"""The command line against a server (``--server URL``): ``podium run FILE --server``,
``runs``, ``status``, ``logs``, ``report``, ``cancel``, and ``agents list|pause|resume|
terminate|scale``. Output matches the local commands'."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import typer

from .options import Command, JsonOpt, KeyOpt

__all__ = ["register", "remote_logs", "remote_report", "remote_run", "remote_runs", "remote_status"]

agents_app = typer.Typer(
    name="agents",
    help="Live agents of a server: list, pause, resume, terminate, scale.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The agent's name.")]
RequiredServer = Annotated[
    str,
    typer.Option("--server", envvar="PODIUM_SERVER", metavar="URL", help="The podium server."),
]


def register(app: typer.Typer) -> None:
    from .options import command

    command(app, cancel)
    app.add_typer(agents_app)


def _client(server: str, key: str | None) -> Any:
    from ..remote.client import Client

    return Client(server, key)


def _rows(doc: dict[str, Any]) -> SimpleNamespace:
    from datetime import datetime

    def secs(a: str | None, b: str | None) -> float | None:
        if not a or not b:
            return None
        return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()

    tasks = {
        tid: SimpleNamespace(
            id=tid,
            agent=t.get("agent"),
            status=t.get("status"),
            attempts=t.get("attempts", 0),
            error=t.get("error"),
            duration=secs(t.get("started_at"), t.get("finished_at")),
        )
        for tid, t in (doc.get("tasks") or {}).items()
    }
    return SimpleNamespace(tasks=tasks)


def _finished(doc: dict[str, Any], *, stderr: bool) -> None:
    from rich.text import Text

    from .output import STYLES, console, duration
    from .progress import describe_counts

    took = doc.get("stats", {}).get("duration")
    line = Text(f"run {doc['run_id']} ")
    line.append(doc["status"], style=f"bold {STYLES.get(doc['status'], '')}")
    line.append(f"{' in ' + duration(took) if took is not None else ''}: ")
    line.append(describe_counts(doc.get("counts") or {}))
    console(stderr).print(line, soft_wrap=True)


# -- run -----------------------------------------------------------------------------------------


class _Progress:
    """What the progress display reads of a run, refreshed from the server."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.workflow = SimpleNamespace(name=doc.get("workflow", "run"))
        self.total = doc.get("total") or 0
        self._counts = doc.get("counts") or {}

    def counts(self) -> dict[str, int]:
        return {
            k: self._counts.get(k, 0)
            for k in ("pending", "ready", "running", "retrying", "completed", "failed",
                      "skipped", "cancelled")
        }  # fmt: skip


def remote_run(file: Path, server: str, key: str | None, json_out: bool) -> int:
    """``podium run FILE --server URL``: upload, follow, summarise; the exit code."""
    from .output import EXIT_FAILED, EXIT_OK, console, print_json, say, summary, user_errors
    from .progress import follow

    with user_errors(json_out):
        client = _client(server, key)
        run_id = client.start(file)
        doc = client.status(run_id, tasks=False)
    say(
        f"run {run_id} started on {client.url}: workflow {doc.get('workflow')!r}, "
        f"{doc.get('total')} tasks",
        stderr=json_out,
    )
    console(stderr=json_out).file.flush()
    progress = _Progress(doc)
    interrupted = False

    async def watch() -> dict[str, Any]:
        shown = asyncio.ensure_future(follow(progress, console(stderr=True)))  # type: ignore[arg-type]
        try:
            while True:
                d = await asyncio.to_thread(client.status, run_id, tasks=False)
                progress._counts = d.get("counts") or {}
                progress.total = d.get("total") or progress.total
                if d["status"] != "running":
                    return d
                await asyncio.sleep(0.25)
        finally:
            shown.cancel()
            await asyncio.gather(shown, return_exceptions=True)

    with user_errors(json_out):
        try:
            asyncio.run(watch())
        except KeyboardInterrupt:
            interrupted = True
            say("interrupted: cancelling the run on the server")
            client.cancel(run_id)
        final = client.wait(run_id, timeout=60)
    client.close()
    if json_out:
        print_json(final)
        _finished(final, stderr=True)
    else:
        summary(_rows(final))  # type: ignore[arg-type]
        _finished(final, stderr=False)
    if interrupted:
        return 130
    return EXIT_OK if final["status"] == "completed" else EXIT_FAILED


# -- recorded runs ------------------------------------------------------------------------------


def remote_runs(server: str, key: str | None, json_out: bool, limit: int) -> None:
    from .output import STYLES, console, duration, print_json, say, user_errors

    with user_errors(json_out), _client(server, key) as client:
        found = client.runs(limit=limit)
    if json_out:
        print_json(found)
        return
    if not found:
        say(f"no runs on {server} yet", stderr=False)
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("run", "workflow", "status", "started", "duration", "tasks", "failed"):
        table.add_column(
            name, justify="right" if name in ("duration", "tasks", "failed") else "left"
        )
    for r in found:
        shown = "interrupted" if r.get("interrupted") else r["status"]
        counts = r.get("counts") or {}
        total = sum(counts.values()) or r.get("total", 0)
        table.add_row(
            Text(r["run_id"]),
            Text(r["workflow"]),
            Text(shown, style=STYLES.get(shown, "yellow")),
            (r.get("started_at") or "-").replace("T", " ")[:19],
            duration(r.get("duration")),
            f"{counts.get('completed', 0)}/{total}",
            str(counts.get("failed", 0)),
        )
    console().print(table)


def remote_status(
    run_id: str, server: str, key: str | None, json_out: bool, task: str | None = None
) -> None:
    from .output import print_json, summary, task_detail, user_errors

    with user_errors(json_out), _client(server, key) as client:
        doc = client.status(run_id)
    if task is not None:
        task_detail(doc, task, json_out)
        return
    if json_out:
        print_json(doc)
        return
    summary(_rows(doc))  # type: ignore[arg-type]
    _finished(doc, stderr=False)


def remote_logs(
    run_id: str, server: str, key: str | None, json_out: bool, tasks: list[str] | None
) -> list[dict[str, Any]] | None:
    from .output import print_json, user_errors

    with user_errors(json_out), _client(server, key) as client:
        events = client.logs(run_id, tasks)
    if json_out:
        print_json(events)
        return None
    return events


def remote_report(run_id: str, server: str, key: str | None, out: Path) -> None:
    from .output import check_out, user_errors, write_report

    with user_errors():
        check_out(out)
        with _client(server, key) as client:
            html = client.report(run_id)
        write_report(out, html)


def cancel(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id.")],
    server: RequiredServer,
    key: KeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Cancel a run on a server.

    Its running tasks are cancelled and the rest skipped."""
    from .output import print_json, say, user_errors

    with user_errors(json_out), _client(server, key) as client:
        doc = client.cancel(run_id)
    if json_out:
        print_json(doc)
    else:
        say(f"run {run_id}: {doc['status']}", stderr=False)


# -- agents -------------------------------------------------------------------------------------


def _print_agents(docs: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.table import Table

    from .output import console

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("agent", "kind", "state", "load", "capabilities", "completed", "failed"):
        table.add_column(name)
    for d in docs:
        table.add_row(
            d["name"],
            d.get("kind", "python"),
            d["state"],
            f"{d['load']}/{d['capacity']}",
            ", ".join(d["capabilities"]),
            str(d["completed"]),
            str(d["failed"]),
        )
    console().print(table)


def _agent_call(server: str, key: str | None, json_out: bool, call: Any) -> Any:
    from .output import print_json, user_errors

    with user_errors(json_out), _client(server, key) as client:
        doc = call(client)
    if json_out:
        print_json(doc)
        return None
    return doc


@agents_app.command("list", cls=Command)
def agents_list(server: RequiredServer, key: KeyOpt = None, json_out: JsonOpt = False) -> None:
    """Every agent of the server: kind, state, load/capacity, capabilities, statistics."""
    docs = _agent_call(server, key, json_out, lambda c: c.agents())
    if docs is not None:
        _print_agents(docs)


def _one(server: str, key: str | None, json_out: bool, call: Any) -> None:
    doc = _agent_call(server, key, json_out, call)
    if doc is not None:
        _print_agents([doc])


@agents_app.command("pause", cls=Command)
def agents_pause(
    name: NameArg, server: RequiredServer, key: KeyOpt = None, json_out: JsonOpt = False
) -> None:
    """Give the agent no new tasks; the ones it runs finish."""
    _one(server, key, json_out, lambda c: c.pause_agent(name))


@agents_app.command("resume", cls=Command)
def agents_resume(
    name: NameArg, server: RequiredServer, key: KeyOpt = None, json_out: JsonOpt = False
) -> None:
    """Let a paused agent take tasks again."""
    _one(server, key, json_out, lambda c: c.resume_agent(name))


@agents_app.command("terminate", cls=Command)
def agents_terminate(
    name: NameArg, server: RequiredServer, key: KeyOpt = None, json_out: JsonOpt = False
) -> None:
    """Remove the agent; its running tasks go to other capable agents."""
    _one(server, key, json_out, lambda c: c.terminate_agent(name))


@agents_app.command("scale", cls=Command)
def agents_scale(
    name: NameArg,
    server: RequiredServer,
    key: KeyOpt = None,
    min_size: Annotated[int | None, typer.Option("--min", help="A pool's fewest replicas.")] = None,
    max_size: Annotated[int | None, typer.Option("--max", help="A pool's most replicas.")] = None,
    capacity: Annotated[int | None, typer.Option("--capacity", help="Tasks at once.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Resize a pool (--min, --max replicas) or an agent (--capacity)."""
    _one(
        server,
        key,
        json_out,
        lambda c: c.scale_agent(name, min=min_size, max=max_size, capacity=capacity),
    )
