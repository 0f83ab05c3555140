"""The live progress of `podium run`: totals that grow with subtasks, time that runs, and
counts that say what really finished."""

from __future__ import annotations

import asyncio
import io
import re
import time

from rich.console import Console

from podium.cli.progress import follow

STATES = ("pending", "ready", "running", "retrying", "completed", "failed", "skipped", "cancelled")


class FakeRun:
    """What the display reads of a `Run`: ``total``, ``counts()`` and the workflow's name."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.workflow = type("W", (), {"name": "tour"})()
        self.state = dict.fromkeys(STATES, 0)
        self.state["pending"] = total

    def counts(self) -> dict[str, int]:
        return dict(self.state)


def _text(buf: io.StringIO) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", buf.getvalue()).replace("\r", "\n")


async def _poll_until(run: FakeRun, con: Console, buf: io.StringIO, seen: str) -> None:
    deadline = time.monotonic() + 30
    while seen not in _text(buf):
        assert time.monotonic() < deadline, _text(buf)[-500:]
        await asyncio.sleep(0.01)


async def test_the_bar_counts_subtasks_as_they_appear_and_keeps_time() -> None:
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, force_interactive=True, width=120)
    run = FakeRun(total=1)  # one pipeline task, whose steps appear while it runs
    watcher = asyncio.create_task(follow(run, con, interval=0.01))
    run.state.update(pending=0, running=1)
    for step in range(1, 41):  # 40 steps appear and complete
        run.total += 1
        run.state["completed"] = step
    await _poll_until(run, con, buf, "40/41")
    started = time.monotonic()
    while time.monotonic() - started < 1.1:  # the clock must move while the run goes on
        await asyncio.sleep(0.05)
    await _poll_until(run, con, buf, "0:00:01")
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    shown = re.findall(r"(\d+)/(\d+)", _text(buf))
    assert shown and all(int(done) <= int(total) for done, total in shown), shown


async def test_after_an_interrupt_the_bar_shows_what_completed() -> None:
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, force_interactive=True, width=120)
    run = FakeRun(total=31)
    watcher = asyncio.create_task(follow(run, con, interval=0.01))
    run.state.update(pending=0, completed=5, cancelled=3, skipped=23)  # Ctrl-C after 5
    await _poll_until(run, con, buf, "5/31")
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    last = [line for line in _text(buf).splitlines() if "tour" in line][-1]
    assert "5/31" in last and "31/31" not in _text(buf)
    assert "5 completed" in last and "23 skipped" in last and "3 cancelled" in last


async def test_off_a_terminal_a_plain_line_now_and_then() -> None:
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=False, width=200)
    run = FakeRun(total=1)
    run.total = 12
    run.state.update(pending=0, completed=4, running=2, ready=6)
    watcher = asyncio.create_task(follow(run, con, plain_every=0.01))
    await _poll_until(run, con, buf, "tasks completed")
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    line = buf.getvalue().splitlines()[0]
    assert re.fullmatch(
        r"\[\d+s\] 4 of 12 tasks completed: 4 completed · 2 running · 6 waiting", line
    )
    assert "\x1b" not in buf.getvalue()
