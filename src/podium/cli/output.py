"""What the command line prints and how it ends: consoles, ``error:`` lines, JSON documents,
the summary table, and the exit codes.

Data goes to stdout (summaries, ``--json`` documents, graphs); messages and progress go to
stderr.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console

    from ..engine.run import Run
    from ..errors import PodiumError
    from ..result import RunResult, TaskResult

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 128 + 15

SUMMARY_ROWS = 50  # rows of the summary table before it says "... N more"


class _State:
    # set when a finished run left sync handlers running in threads: the command exits
    # without waiting for them once it is done
    fast_exit = False


state = _State()


CONSOLES: dict[bool, Console] = {}


def console(stderr: bool = False) -> Console:
    """The stdout (data) or stderr (messages, progress) console; rich detects the terminal."""
    console = CONSOLES.get(stderr)
    if console is None:
        from rich.console import Console

        console = CONSOLES[stderr] = Console(stderr=stderr, highlight=False)
    return console


def say(text: str, *, stderr: bool = True, style: str | None = None) -> None:
    """Print one line as is (no markup, no wrapping)."""
    console(stderr).print(text, style=style, markup=False, soft_wrap=True)


def exit_code_for(exc: PodiumError) -> int:
    from ..errors import CapabilityError, HandlerError, StoreError, ValidationError

    if isinstance(exc, (ValidationError, CapabilityError, HandlerError, StoreError)):
        return EXIT_INPUT
    return EXIT_FAILED


def report_error(exc: PodiumError, json_out: bool = False) -> int:
    """``error: <message>`` on stderr (and the error as JSON on stdout with ``--json``)."""
    from rich.text import Text

    line = Text("error: ", style="bold red")
    line.append(exc.message)
    console(stderr=True).print(line, soft_wrap=True)
    if json_out:
        print_json(exc.to_dict())
    return exit_code_for(exc)


@contextmanager
def user_errors(json_out: bool = False) -> Iterator[None]:
    """Turn a `PodiumError` into ``error: ...`` and its exit code, with no traceback (and
    Ctrl-C into exit 130)."""
    from ..errors import PodiumError, PodiumInternalError

    try:
        yield
    except PodiumInternalError:
        raise  # a bug: the traceback is what a bug report needs
    except PodiumError as exc:
        raise typer.Exit(report_error(exc, json_out)) from None
    except KeyboardInterrupt:  # Ctrl-C while loading a file: nothing ran
        say("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def print_json(doc: Any) -> None:
    import json

    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(doc, indent=indent) + "\n")  # ASCII: any locale can print it
    sys.stdout.flush()


def leave(code: int) -> None:
    """Exit at once, without waiting for threads: Python cannot stop a sync handler that is
    still running in a thread, and an interrupted run should not wait for it."""
    import os

    console(stderr=True).show_cursor(True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


STYLES = {
    "completed": "green",
    "failed": "red",
    "partial": "yellow",
    "skipped": "bright_black",
    "cancelled": "magenta",
    "running": "cyan",
    "retrying": "yellow",
}


def duration(seconds: float | None) -> str:
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


def pick_rows(tasks: dict[str, TaskResult], limit: int) -> list[TaskResult]:
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


def summary(result: RunResult, limit: int = SUMMARY_ROWS) -> None:
    """The summary table on stdout: task, agent, status, attempts, duration (and errors)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = pick_rows(result.tasks, limit)
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
            Text(status, style=STYLES.get(status, "")),
            str(rec.attempts),
            duration(rec.duration),
        ]
        if with_errors:
            cells.append(Text((rec.error or "").strip()))
        table.add_row(*cells)
    out = console()
    out.print(table)
    more = len(result.tasks) - len(rows)
    if more > 0:
        say(f"... {more} more tasks (use --json to see every task)", stderr=False)


def finished_line(run: Run, result: RunResult, status: str, *, stderr: bool) -> None:
    from rich.text import Text

    from .progress import describe_counts

    seconds = result.duration if result.duration is not None else None
    took = f" in {duration(seconds)}" if seconds is not None else ""
    line = Text(f"run {result.run_id} ")
    line.append(status, style=f"bold {STYLES.get(status, '')}")
    line.append(f"{took}: {describe_counts(run.counts())}")
    console(stderr).print(line, soft_wrap=True)


def check_out(out: Path) -> None:
    """A ValidationError unless the folder ``--out`` names exists."""
    from ..errors import ValidationError

    if not out.parent.is_dir():
        raise ValidationError(
            f"--out {out}: folder {out.parent} does not exist. Create it or pick another path.",
            field="out",
        )


def write_report(out: Path, text: str) -> None:
    """Write a report to ``--out`` and say so; a ValidationError when it cannot be written."""
    from ..errors import ValidationError

    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ValidationError(
            f"--out {out}: cannot write the report: {exc.strerror}.", field="out"
        ) from None
    say(f"report written to {out}")
