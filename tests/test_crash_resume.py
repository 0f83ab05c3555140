"""Kill ``podium run --db`` with SIGKILL at random points, resume until the run completes.

A 300-task layered workflow (a third of the tasks sleep 50-400 ms, on an agent that runs four
at once) runs as a subprocess; it is killed at least 20 times, at random moments after the
run is recorded (and a few times during start-up), and resumed with ``podium resume`` each
time. Every handler execution appends one line (task, attempt, idempotency key, pid) to a
side-effect file with a single write(), so a kill never leaves half a line. After each kill
the test reads which tasks the store has as completed; at the end it checks:

- the run completed and every task has exactly one final (completed) result, and the right one;
- no task recorded as completed at a kill ran again in a later session;
- a task that ran more than once did so only because it was in flight at a kill (not
  recorded as completed when its session died);
- ctx.idempotency_key was the same in every execution of a task, and attempts only grow.
"""

from __future__ import annotations

import asyncio
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podium.stores import open_store

KILLS = 20
LAYERS, WIDTH = 6, 50
RUN_ID = "crash-1"

HANDLERS = """
import asyncio, os

LOG = os.environ["PODIUM_CRASH_LOG"]

def _note(ctx):
    line = f"{ctx.task_id} {ctx.attempt} {ctx.idempotency_key} {os.getpid()}\\n"
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())  # one write: a kill cannot leave half a line
    finally:
        os.close(fd)

def _result(ctx):
    return {"task": ctx.task_id, "deps": sorted(d["task"] for d in ctx.deps.values())}

def fast(ctx):
    _note(ctx)
    return _result(ctx)

async def slow(ctx):
    _note(ctx)
    await asyncio.sleep(ctx.input["sleep"])
    return _result(ctx)
"""


def write_workflow(folder: Path) -> dict[str, list[str]]:
    """The workflow file and its handlers; returns each task's dependencies."""
    rng = random.Random(7)
    deps: dict[str, list[str]] = {}
    lines = [
        "name: crash-test",
        "agents:",
        "  - {name: quick, capabilities: [fast], capacity: 16, handler: 'crash_handlers:fast',"
        " executor: inline}",
        "  - {name: sleepy, capabilities: [slow], capacity: 4, handler: 'crash_handlers:slow'}",
        "tasks:",
    ]
    for layer in range(LAYERS):
        for i in range(WIDTH):
            tid = f"L{layer}-{i}"
            before = [f"L{layer - 1}-{j}" for j in rng.sample(range(WIDTH), 2)] if layer else []
            deps[tid] = before
            if i % 3 == 0:
                sleep = round(rng.uniform(0.05, 0.4), 3)
                lines.append(
                    f"  - {{id: {tid}, capability: slow, input: {{sleep: {sleep}}}, "
                    f"depends_on: {before}}}"
                )
            else:
                lines.append(f"  - {{id: {tid}, capability: fast, depends_on: {before}}}")
    (folder / "flow.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "crash_handlers.py").write_text(HANDLERS, encoding="utf-8")
    return deps


def recorded(db: Path) -> bool:
    if not db.exists():
        return False
    conn = sqlite3.connect(db)
    try:
        return bool(conn.execute("SELECT 1 FROM podium_runs WHERE run_id=?", (RUN_ID,)).fetchall())
    except sqlite3.OperationalError:  # killed before the schema was created
        return False
    finally:
        conn.close()


def completed_tasks(db: Path) -> set[str]:
    async def read() -> set[str]:
        store = open_store(str(db))
        try:
            states = await store.task_states(RUN_ID)
        finally:
            await store.close()
        return {tid for tid, s in states.items() if s.status == "completed"}

    return asyncio.run(read()) if recorded(db) else set()


def wait_for_line(proc: subprocess.Popen, timeout: float) -> bool:
    """Wait until the process prints its first line (the run id, once recorded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.05)
        if ready:
            return bool(proc.stdout.readline())  # type: ignore[union-attr]
        if proc.poll() is not None:
            return False
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_at_random_points_then_resume(tmp_path: Path) -> None:
    deps = write_workflow(tmp_path)
    db = tmp_path / "runs.db"
    log = tmp_path / "side-effects.log"
    env = {**os.environ, "PODIUM_CRASH_LOG": str(log), "PYTHONUNBUFFERED": "1"}
    env.pop("PODIUM_DB", None)
    rng = random.Random(int(os.environ.get("PODIUM_CRASH_SEED", "20")))
    sessions: list[tuple[int, set[str] | None]] = []  # (pid, completed after its kill)
    kills = 0
    final = None
    started = time.monotonic()
    while final is None:
        if recorded(db):
            cmd = ["resume", RUN_ID, "--db", str(db)]
        else:
            cmd = ["run", str(tmp_path / "flow.yaml"), "--db", str(db), "--run-id", RUN_ID]
        proc = subprocess.Popen(
            [sys.executable, "-m", "podium", *cmd],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if kills >= KILLS:  # enough: let this process finish the run
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0, out
            sessions.append((proc.pid, None))
            final = out
            break
        if rng.random() < 0.15:  # now and then, during start-up
            time.sleep(rng.uniform(0.0, 0.3))
        else:
            assert wait_for_line(proc, 30), "the run id line never came"
            time.sleep(rng.uniform(0.02, 0.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        if proc.returncode == 0:  # finished before the kill came: fine, but keep count honest
            sessions.append((proc.pid, None))
            final = "finished"
            break
        sessions.append((proc.pid, completed_tasks(db)))
        assert time.monotonic() - started < 150, "the crash test is taking far too long"

    assert kills >= KILLS, f"the run completed after only {kills} kills: make it longer"

    # the run completed; every task has exactly one final result, the right one
    states = asyncio.run(_states(db))
    assert set(states) == set(deps)
    for tid, s in states.items():
        assert s.status == "completed", (tid, s)
        assert s.result == {"task": tid, "deps": sorted(deps[tid])}, tid
    finals = asyncio.run(_final_rows(db))
    assert sorted(finals) == sorted(deps), "each task has exactly one completed transition"

    # executions, per task, from the side-effect file
    session_of = {pid: i for i, (pid, _) in enumerate(sessions)}
    runs: dict[str, list[tuple[int, int, str]]] = {}
    for line in log.read_text().splitlines():
        tid, attempt, key, pid = line.split()
        runs.setdefault(tid, []).append((session_of[int(pid)], int(attempt), key))
    assert set(runs) == set(deps), "every task ran at least once"
    reran = 0
    for tid, execs in runs.items():
        assert {key for _, _, key in execs} == {f"{RUN_ID}:{tid}"}, tid  # stable key
        attempts = [a for _, a, _ in execs]
        assert attempts == sorted(attempts), (tid, execs)
        sess = [s for s, _, _ in execs]
        assert len(sess) == len(set(sess)), f"{tid} ran twice in one session: {execs}"
        for s in sess[:-1]:  # every execution but the last was cut short by a kill...
            done_at_kill = sessions[s][1]
            assert done_at_kill is not None, f"{tid} ran again after a clean finish"
            assert tid not in done_at_kill, f"{tid} ran again after it was recorded completed"
        for k, (_, done_at_kill) in enumerate(sessions):  # ...and never after its completion
            if done_at_kill and tid in done_at_kill:
                assert all(s <= k for s in sess), f"{tid} completed by kill {k}, ran later"
        reran += len(sess) > 1
    assert reran, "no task was in flight at any kill: the kills missed the run"

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


async def _states(db: Path):
    store = open_store(str(db))
    try:
        return await store.task_states(RUN_ID)
    finally:
        await store.close()


async def _final_rows(db: Path) -> list[str]:
    store = open_store(str(db))
    try:
        rows = await store.transitions(RUN_ID)
    finally:
        await store.close()
    return [t.task_id for t in rows if t.status == "completed"]
