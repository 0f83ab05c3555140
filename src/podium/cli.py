"""The ``podium`` command line: parse, call the API, print. No engine logic lives here.

Data goes to stdout (summaries, ``--json`` documents, graphs); messages and progress go to
stderr. Exit codes:

    0    the run completed (or the file is valid)
    1    the run failed or ended partial
    2    invalid input: a bad workflow file, an unknown capability, a handler that cannot be
         imported, a usage error
    130  interrupted by Ctrl-C (SIGINT): running tasks were cancelled
    143  stopped by SIGTERM: running tasks were cancelled, as for Ctrl-C

Start-up stays fast (``podium --help`` well under 0.3 s) because only typer is imported at the
top: the engine, pydantic, yaml and most of rich are imported by the commands that use them.
"""

from __future__ import annotations

import asyncio
import enum
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console

    from ._engine import Run
    from .errors import PodiumError
    from .orchestrator import Orchestrator
    from .result import RunResult, TaskResult

__all__ = ["app", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 128 + 15

SUMMARY_ROWS = 50  # rows of the summary table before it says "... N more"

app = typer.Typer(
    name="podium",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain click help: rich's help formatter alone costs ~0.1 s of imports at every start
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FileArg = Annotated[
    Path,
    typer.Argument(help="Workflow file (YAML or JSON).", metavar="FILE", show_default=False),
]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document to stdout instead of tables."),
]


_fast_exit = False  # set when a finished run left sync handlers running in threads


def main() -> None:
    """Console entry point (``podium``, ``python -m podium``)."""
    try:
        app(prog_name="podium")
    except SystemExit as exc:
        if _fast_exit:  # the command is done (report written, output printed): go now
            _leave(exc.code if isinstance(exc.code, int) else 1)
        raise
    if _fast_exit:
        _leave(0)


# -- consoles and errors -------------------------------------------------------------------

_consoles: dict[bool, Console] = {}


def _console(stderr: bool = False) -> Console:
    """The stdout (data) or stderr (messages, progress) console; rich detects the terminal."""
    console = _consoles.get(stderr)
    if console is None:
        from rich.console import Console

        console = _consoles[stderr] = Console(stderr=stderr, highlight=False)
    return console


def _say(text: str, *, stderr: bool = True, style: str | None = None) -> None:
    """Print one line as is (no markup, no wrapping)."""
    _console(stderr).print(text, style=style, markup=False, soft_wrap=True)


def _exit_code_for(exc: PodiumError) -> int:
    from .errors import CapabilityError, HandlerError, StoreError, ValidationError

    if isinstance(exc, (ValidationError, CapabilityError, HandlerError, StoreError)):
        return EXIT_INPUT
    return EXIT_FAILED


def _report_error(exc: PodiumError, json_out: bool = False) -> int:
    """``error: <message>`` on stderr (and the error as JSON on stdout with ``--json``)."""
    from rich.text import Text

    line = Text("error: ", style="bold red")
    line.append(exc.message)
    _console(stderr=True).print(line, soft_wrap=True)
    if json_out:
        _print_json(exc.to_dict())
    return _exit_code_for(exc)


@contextmanager
def _user_errors(json_out: bool = False) -> Iterator[None]:
    """Turn a `PodiumError` into ``error: ...`` and its exit code, with no traceback (and
    Ctrl-C into exit 130)."""
    from .errors import PodiumError, PodiumInternalError

    try:
        yield
    except PodiumInternalError:
        raise  # a bug: the traceback is what a bug report needs
    except PodiumError as exc:
        raise typer.Exit(_report_error(exc, json_out)) from None
    except KeyboardInterrupt:  # Ctrl-C while loading a file: nothing ran
        _say("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _print_json(doc: Any) -> None:
    import json

    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(doc, indent=indent) + "\n")  # ASCII: any locale can print it
    sys.stdout.flush()


# -- the root command ------------------------------------------------------------------------


def _show_version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"podium {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Orchestrate many agents: run DAG workflows of tasks routed by capability.

    Exit codes: 0 completed, 1 failed or partial, 2 invalid input, 130 interrupted (Ctrl-C),
    143 terminated (SIGTERM).
    """


# -- running -----------------------------------------------------------------------------------


def _prepare(
    path: Path, json_out: bool, db: str | None = None, run_id: str | None = None
) -> tuple[Orchestrator, Run]:
    """Load and validate a workflow file and build its run (nothing runs yet); with ``db``,
    the run will be recorded in that store."""
    with _user_errors(json_out):
        from .orchestrator import Orchestrator
        from .spec import load_workflow

        if run_id is not None:
            from .stores.recorder import check_run_id

            check_run_id(run_id)
        orch = Orchestrator(store=db)
        return orch, orch.prepare(load_workflow(path), run_id=run_id)


class _Stop:
    """How a run was interrupted: the signal that cancelled it and how many arrived."""

    signum: int | None = None
    count = 0


def _execute(orch: Orchestrator, run: Run, json_out: bool) -> int:
    """Run ``run`` to the end with progress on stderr, print its summary (or its JSON
    document) and return the exit code. ``run``, ``demo`` and ``resume`` share it.

    SIGINT (Ctrl-C) and SIGTERM cancel the main task: the engine cancels the running handlers
    and skips the rest, and the summary shows the run as cancelled (exit 128 + signal). A
    second signal stops waiting for handlers that ignore cancellation; a third quits at once.
    """
    from .errors import PodiumError, PodiumInternalError

    stop = _Stop()
    try:
        asyncio.run(_drive(orch, run, json_out, stop))
    except (KeyboardInterrupt, asyncio.CancelledError):
        stop.signum = stop.signum or signal.SIGINT
    except PodiumInternalError:
        raise
    except PodiumError as exc:  # e.g. an agent's setup() failed
        return _report_error(exc, json_out)
    code = _report_run(run, json_out, stop)
    if _threads_linger():
        # a sync handler that timed out (or was cancelled) still runs in its thread: the run
        # is over and recorded, so the process should not wait for it once the command ends
        global _fast_exit
        _fast_exit = True
    return code


def _report_run(run: Run, json_out: bool, stop: _Stop) -> int:
    """Print the run's summary (or JSON document) and return its exit code."""
    result = run.result()
    status = str(result.status)
    if stop.signum and status == "running":  # interrupted before it could close
        status = "cancelled"
    if json_out:
        doc = result.to_dict()
        doc["status"] = status
        _print_json(doc)
        _finished_line(run, result, status, stderr=True)
    else:
        _summary(result)
        _finished_line(run, result, status, stderr=False)
    if stop.signum:
        return 128 + int(stop.signum)
    return EXIT_OK if status == "completed" else EXIT_FAILED


def _threads_linger() -> bool:
    """Whether a thread (a sync handler still running) would hold the interpreter's exit."""
    import threading

    main_thread = threading.main_thread()
    return any(t is not main_thread and not t.daemon for t in threading.enumerate())


async def _drive(orch: Orchestrator, run: Run, json_out: bool, stop: _Stop) -> None:
    from ._progress import follow

    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()

    def interrupt(signum: int) -> None:
        stop.count += 1
        if stop.count == 1:
            # the engine hears this as cancellation: it cancels handlers and skips the rest
            stop.signum = signum
            what = "interrupted" if signum == signal.SIGINT else "terminated"
            _say(f"{what}: cancelling running tasks (press Ctrl-C again to quit at once)")
        elif stop.count == 2:
            n = run.n_running
            _say(f"interrupted again: not waiting for {n} running task{'s' * (n != 1)}")
        else:
            _leave(128 + (stop.signum or signum))
        if main_task is not None:
            main_task.cancel()

    if orch.store is not None:
        await orch.record(run)  # recorded before its id is printed, so it can be resumed
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, interrupt, sig)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, not the main thread
            pass
    # the run id comes first, once signals are handled: scripts read it to follow the run
    _say(
        f"run {run.run_id} started: workflow {run.workflow.name!r}, {run.total} tasks",
        stderr=json_out,
    )
    _console(stderr=json_out).file.flush()
    watcher = loop.create_task(follow(run, _console(stderr=True)))
    try:
        await orch.execute(run)
    finally:
        watcher.cancel()
        await asyncio.wait([watcher])
        if stop.count >= 2:
            # handlers that ignore cancellation would hold asyncio.run's clean-up forever
            _leave(_report_run(run, json_out, stop))
        await orch.close()
        for sig in handled:
            loop.remove_signal_handler(sig)


def _leave(code: int) -> None:
    """Exit at once, without waiting for threads: Python cannot stop a sync handler that is
    still running in a thread, and an interrupted run should not wait for it."""
    import os

    _console(stderr=True).show_cursor(True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


_STYLES = {
    "completed": "green",
    "failed": "red",
    "partial": "yellow",
    "skipped": "bright_black",
    "cancelled": "magenta",
    "running": "cyan",
    "retrying": "yellow",
}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 0.0005:
        return "<1ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, sec = divmod(seconds, 60)
    return f"{minutes:.0f}m{sec:02.0f}s"


def _pick_rows(tasks: dict[str, TaskResult], limit: int) -> list[TaskResult]:
    """Every task when there are few; else failed and cancelled ones first, then the rest,
    shown in workflow order."""
    if len(tasks) <= limit:
        return list(tasks.values())
    chosen: list[tuple[int, TaskResult]] = []
    others: list[tuple[int, TaskResult]] = []
    for i, rec in enumerate(tasks.values()):
        if rec.status in ("failed", "cancelled"):
            chosen.append((i, rec))
            if len(chosen) == limit:
                break
        elif len(others) < limit:
            others.append((i, rec))
    chosen.extend(others[: limit - len(chosen)])
    chosen.sort(key=lambda pair: pair[0])
    return [rec for _, rec in chosen]


def _summary(result: RunResult, limit: int = SUMMARY_ROWS) -> None:
    """The summary table on stdout: task, agent, status, attempts, duration (and errors)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = _pick_rows(result.tasks, limit)
    with_errors = any(rec.error for rec in rows)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("task", overflow="fold")
    table.add_column("agent", overflow="fold")
    table.add_column("status")
    table.add_column("attempts", justify="right")
    table.add_column("duration", justify="right")
    if with_errors:
        table.add_column("error", overflow="fold")
    for rec in rows:
        status = str(rec.status)
        cells = [
            Text(rec.id),
            Text(rec.agent or "-"),
            Text(status, style=_STYLES.get(status, "")),
            str(rec.attempts),
            _duration(rec.duration),
        ]
        if with_errors:
            cells.append(Text((rec.error or "").strip()))
        table.add_row(*cells)
    out = _console()
    out.print(table)
    more = len(result.tasks) - len(rows)
    if more > 0:
        _say(f"... {more} more tasks (use --json to see every task)", stderr=False)


def _finished_line(run: Run, result: RunResult, status: str, *, stderr: bool) -> None:
    from rich.text import Text

    from ._progress import describe_counts

    seconds = result.duration if result.duration is not None else None
    took = f" in {_duration(seconds)}" if seconds is not None else ""
    line = Text(f"run {result.run_id} ")
    line.append(status, style=f"bold {_STYLES.get(status, '')}")
    line.append(f"{took}: {describe_counts(run.counts())}")
    _console(stderr).print(line, soft_wrap=True)


@app.command()
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
) -> None:
    """Run a workflow file and show its progress and a summary.

    Prints the run id first (with --db: once the run is recorded). Exit code 0 when every task
    completed, 1 when the run failed or ended partial, 2 when the file is invalid, 130 on
    Ctrl-C.
    """
    orch, prepared = _prepare(file, json_out, db, run_id)
    raise typer.Exit(_execute(orch, prepared, json_out))


# -- checking and drawing ----------------------------------------------------------------------


def _shorten(path: list[str], keep: int = 6) -> str:
    shown = [repr(t) for t in path]
    if len(shown) > keep:
        shown = [*shown[:3], "...", *shown[-2:]]
    return " -> ".join(shown)


@app.command()
def validate(file: FileArg, json_out: JsonOpt = False) -> None:
    """Check a workflow file without running it.

    Checks fields, dependencies, cycles, capabilities and handlers; prints the number of tasks
    and agents and the DAG's depth. Exit code 0 when valid, 2 when not.
    """
    _, prepared = _prepare(file, json_out)
    from . import _graph

    wf = prepared.workflow
    order = _graph.topological_order(wf.tasks, wf.source)
    path, depth = _graph.critical_path(order, lambda t: 1.0)
    if json_out:
        _print_json(
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
    _say(
        f"ok {file}: workflow {wf.name!r}, {len(wf.tasks)} tasks, {len(prepared.agents)} "
        f"agents, depth {int(depth)} (critical path: {_shorten(path)})",
        stderr=False,
    )


class GraphFormat(enum.StrEnum):
    mermaid = "mermaid"
    dot = "dot"


@app.command()
def graph(
    file: FileArg,
    fmt: Annotated[
        GraphFormat,
        typer.Option("--format", "-f", help="mermaid (flowchart) or dot (Graphviz)."),
    ] = GraphFormat.mermaid,
) -> None:
    """Print the workflow's DAG as Mermaid or Graphviz text.

    One node per task (its id and capability or agent); edges go from a dependency to its
    dependent. Render with e.g. `podium graph flow.yaml --format dot | dot -Tsvg > flow.svg`.
    """
    with _user_errors():
        from . import _graph
        from ._render import render
        from .spec import load_workflow

        wf = load_workflow(file)
        _graph.check_structure(wf)
        _graph.topological_order(wf.tasks, wf.source)
        text = render(wf, fmt.value)
    sys.stdout.write(text)


# -- the demo ----------------------------------------------------------------------------------


def _check_out(out: Path) -> None:
    """A ValidationError unless the folder ``--out`` names exists."""
    from .errors import ValidationError

    if not out.parent.is_dir():
        raise ValidationError(
            f"--out {out}: folder {out.parent} does not exist. Create it or pick another path.",
            field="out",
        )


def _write_report(out: Path, text: str) -> None:
    """Write a report to ``--out`` and say so; a ValidationError when it cannot be written."""
    from .errors import ValidationError

    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ValidationError(
            f"--out {out}: cannot write the report: {exc.strerror}.", field="out"
        ) from None
    _say(f"report written to {out}")


@app.command()
def demo(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Where to write the Markdown report."),
    ] = Path("podium-report.md"),
    json_out: JsonOpt = False,
) -> None:
    """Run the bundled offline demo and write its Markdown report.

    Research agents search bundled texts in parallel, an analyst aggregates, a writer composes
    a report and three reviewers vote on it: no network, no API key.
    """
    with _user_errors(json_out):
        _check_out(out)
        from .demo import DEMO_WORKFLOW, report_markdown

    orch, prepared = _prepare(DEMO_WORKFLOW, json_out)
    code = _execute(orch, prepared, json_out)
    if code >= 128:  # interrupted: no report of half a run
        raise typer.Exit(code)
    text = report_markdown(prepared.result())
    with _user_errors():  # stdout already holds the run's JSON document
        _write_report(out, text)
    raise typer.Exit(code)


# -- recorded runs: resume, runs, status, logs, report (in cli_runs.py) -------------------------

from . import cli_runs as _cli_runs  # noqa: E402 - needs `app`; imports only typer

_cli_runs.register(app)
