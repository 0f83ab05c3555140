"""Progress of a running `Run`, shown on stderr while the run goes on.

The display polls ``run.counts()`` and ``run.total`` (a few integer reads) every ~100 ms
instead of hearing about every task, so it costs the same for ten tasks as for a million. On a
terminal it is a rich progress bar with counts per state; anywhere else (a pipe, a CI log) it
prints a plain line now and then and no control codes. Tasks that stream their answer
(`Context.stream`, LLM and LangChain agents) get a line each under the bar, on a terminal only.

The bar counts *completed* tasks out of every task known so far: subtasks (pipeline steps,
delegated work, pattern participants) join the total as they appear, so a pipeline shows
``12/41``, never ``41/1``; failed, skipped and cancelled tasks are counted beside it, so a run
interrupted after 5 tasks completed shows ``5/31``, not a full bar.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, Any

from .._utils.text import plural

if TYPE_CHECKING:
    from rich.console import Console

    from ..engine.run import Run

__all__ = ["describe_counts", "follow", "shown", "stream_lines"]

_FINAL = ("completed", "failed", "skipped", "cancelled")
# (key in the text, colour); "waiting" is pending + ready
_SHOWN = (
    ("completed", "green"),
    ("running", "cyan"),
    ("waiting", ""),
    ("retrying", "yellow"),
    ("failed", "red"),
    ("skipped", "bright_black"),
    ("cancelled", "magenta"),
)


def done(counts: dict[str, int]) -> int:
    """Tasks in a final state."""
    return sum(counts[k] for k in _FINAL)


def shown(run: Run) -> tuple[int, int, dict[str, int]]:
    """(completed, total so far, counts per state) of ``run``, for the progress display."""
    counts = run.counts()
    return counts["completed"], max(run.total, 1), counts


def describe_counts(counts: dict[str, int], *, markup: bool = False) -> str:
    """``12 completed · 4 running · 84 waiting`` (states with no tasks are left out)."""
    merged = dict(counts)
    merged["waiting"] = counts.get("pending", 0) + counts.get("ready", 0)
    parts = []
    for key, colour in _SHOWN:
        n = merged.get(key, 0)
        if not n and key != "completed":
            continue
        text = f"{n} {key}"
        parts.append(f"[{colour}]{text}[/]" if markup and colour else text)
    return " · ".join(parts)


def stream_lines(run: Run, limit: int = 4) -> list[tuple[str, str]]:
    """``(task id, last line)`` of up to ``limit`` running tasks that stream their answer
    (`Context.stream`); tasks that ended are forgotten."""
    streams = getattr(run, "streams", None)
    if not streams:
        return []
    out = []
    for tid, text in list(streams.items()):
        rec = run.records.get(tid)
        if rec is None or rec.status != "running":
            del streams[tid]
            continue
        line = text.rstrip().rpartition("\n")[2].strip()
        if line:
            out.append((tid, line))
    return out[-limit:]


async def follow(
    run: Run,
    console: Console,
    *,
    interval: float = 0.1,
    plain_every: float = 10.0,
) -> None:
    """Show ``run``'s progress on ``console`` until cancelled (then show the final counts).

    A live bar when ``console.is_interactive``; otherwise one plain line every
    ``plain_every`` seconds, so long runs in a pipe still say how far they got.
    """
    if console.is_interactive:
        await _live(run, console, interval)
    else:
        await _plain(run, console, plain_every)


async def _live(run: Run, console: Console, interval: float) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class _Progress(Progress):
        def get_renderables(self) -> Any:
            yield from super().get_renderables()
            waits = _waits(run)  # resources, keys, rate limits (engine.gates)
            if waits:
                shown = "; ".join(f"{n} for {why}" for why, n in sorted(waits.items()))
                yield Text(f"  waiting: {shown}", style="yellow", no_wrap=True, overflow="ellipsis")
            for tid, line in stream_lines(run):  # what streaming agents are saying now
                yield Text.assemble(
                    (f"  {tid}: ", "cyan"), (line, "dim"), no_wrap=True, overflow="ellipsis"
                )

    capture = getattr(run, "capture_logs", False)
    progress = _Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[counts]}"),
        console=console,
        auto_refresh=False,  # refreshed from the poll below: no thread of its own
        # print() in a handler goes above the bar, but only when stdout is this terminal too;
        # a run that captures its handlers' output shows their lines above the bar itself
        redirect_stdout=sys.stdout.isatty() and not capture,
        redirect_stderr=not capture,
    )
    if capture and run.echo_logs:
        run.echo_logs = False

        def show(task_id: str, line: tuple[Any, ...]) -> None:
            if line[2] in ("stdout", "stderr"):  # as print() would have shown them
                console.print(Text(line[3]), soft_wrap=True, highlight=False, markup=False)

        run.on_log = show
    with progress:
        bar = progress.add_task(run.workflow.name, total=run.total, counts="")

        def update() -> None:
            completed, total, counts = shown(run)
            progress.update(
                bar,
                completed=completed,
                total=total,
                counts=describe_counts(counts, markup=True),
            )
            progress.refresh()

        try:
            while True:
                update()
                await asyncio.sleep(interval)
        finally:
            update()


async def _plain(run: Run, console: Console, every: float) -> None:
    start = time.monotonic()
    while True:
        await asyncio.sleep(every)
        completed, total, counts = shown(run)
        console.print(
            f"[{time.monotonic() - start:.0f}s] {completed} of {plural(total, 'task')} "
            f"completed: {describe_counts(counts)}"
            + "".join(f"; {n} waiting for {why}" for why, n in _waits(run).items()),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _waits(run: Any) -> dict[str, int]:
    """Why ready tasks of ``run`` wait (engine.gates); nothing for runs that do not say."""
    waiting_for = getattr(run, "waiting_for", None)
    return waiting_for() if waiting_for is not None else {}
