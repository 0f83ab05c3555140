"""Progress of a running `Run`, shown on stderr while the run goes on.

The display polls ``run.counts()`` (a few integer reads) every ~100 ms instead of hearing about
every task, so it costs the same for ten tasks as for a million. On a terminal it is a rich
progress bar with counts per state; anywhere else (a pipe, a CI log) it prints a plain line
now and then and no control codes.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from ..engine.run import Run

__all__ = ["describe_counts", "follow"]

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

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[counts]}"),
        console=console,
        auto_refresh=False,  # refreshed from the poll below: no thread of its own
        # print() in a handler goes above the bar, but only when stdout is this terminal too
        redirect_stdout=sys.stdout.isatty(),
        redirect_stderr=True,
    )
    with progress:
        bar = progress.add_task(run.workflow.name, total=run.total, counts="")

        def update() -> None:
            counts = run.counts()
            progress.update(
                bar, completed=done(counts), counts=describe_counts(counts, markup=True)
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
        counts = run.counts()
        console.print(
            f"[{time.monotonic() - start:.0f}s] {done(counts)}/{run.total} done: "
            f"{describe_counts(counts)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
