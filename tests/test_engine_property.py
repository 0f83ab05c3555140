"""Whatever handlers do, a run ends (issue 10): hypothesis generates workflows whose handlers
misbehave in every way we know of, in process and through ``podium run --json``. Every task
reaches a final state, the run ends, the command exits with a documented code and no
traceback. A fixed seed and a bounded number of examples keep CI fast and repeatable."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import podium

# What a handler can do. Each is a word the handler module below interprets; the thread
# agent runs the sync ones.
ASYNC_DOINGS = [
    "return",
    "raise",
    "raise-bad-str",
    "raise-non-str",
    "raise-keyboard-interrupt",
    "raise-system-exit",
    "raise-cancelled",
    "cancel-itself-and-return",
    "cancel-itself-and-await",
    "return-bad-items",
    "return-a-set",
    "sleep",
    "block-the-loop",
    "swallow-cancellation",
]
THREAD_DOINGS = ["return", "raise", "raise-stop-iteration", "raise-keyboard-interrupt", "block"]
FINAL = {"completed", "failed", "skipped", "cancelled"}

HANDLERS = textwrap.dedent(
    '''
    """Handlers that do what their task's input says (written by tests/test_engine_property.py)."""

    import asyncio
    import time


    class BadStr(Exception):
        def __str__(self):
            raise ValueError("no")


    class NonStr(Exception):
        def __str__(self):
            return 42


    class BadItems(dict):
        def items(self):
            raise RuntimeError("items() is broken")


    async def behave(ctx):
        do = ctx.input["do"]
        if do == "return":
            return {"ok": ctx.task_id}
        if do == "raise":
            raise ValueError("plain failure")
        if do == "raise-bad-str":
            raise BadStr()
        if do == "raise-non-str":
            raise NonStr()
        if do == "raise-keyboard-interrupt":
            raise KeyboardInterrupt("from the handler")
        if do == "raise-system-exit":
            raise SystemExit(4)
        if do == "raise-cancelled":
            await asyncio.sleep(0)
            raise asyncio.CancelledError()
        if do == "cancel-itself-and-return":
            asyncio.current_task().cancel()
            return "returned"
        if do == "cancel-itself-and-await":
            asyncio.current_task().cancel()
            await asyncio.sleep(0)
            return "not cancelled"
        if do == "return-bad-items":
            return BadItems(a=1)
        if do == "return-a-set":
            return {1, 2}
        if do == "sleep":
            await asyncio.sleep(0.01)
            return "slept"
        if do == "block-the-loop":
            time.sleep(0.06)
            return "blocked"
        if do == "swallow-cancellation":
            stop = time.monotonic() + 0.4
            while time.monotonic() < stop:
                try:
                    await asyncio.sleep(0.02)
                except asyncio.CancelledError:
                    pass
            return "swallowed"
        raise AssertionError(do)


    def behave_in_thread(ctx):
        do = ctx.input["do"]
        if do == "return":
            return {"ok": ctx.task_id}
        if do == "raise":
            raise ValueError("plain failure")
        if do == "raise-stop-iteration":
            raise StopIteration("early")
        if do == "raise-keyboard-interrupt":
            raise KeyboardInterrupt("from the handler")
        if do == "block":
            time.sleep(0.06)
            return "blocked"
        raise AssertionError(do)
    '''
)


@st.composite
def workflows(draw: st.DrawFn) -> dict[str, Any]:
    """A workflow document: up to 8 tasks, each with a behaviour, maybe a timeout, retries
    and dependencies on earlier tasks."""
    n = draw(st.integers(1, 8))
    tasks = []
    for i in range(n):
        thread = draw(st.booleans())
        do = draw(st.sampled_from(THREAD_DOINGS if thread else ASYNC_DOINGS))
        task: dict[str, Any] = {
            "id": f"t{i}",
            "capability": "sync" if thread else "async",
            "input": {"do": do},
        }
        if draw(st.booleans()):
            task["timeout"] = draw(st.sampled_from([0.03, 0.2]))
        if draw(st.booleans()):
            task["retry"] = {"max_attempts": draw(st.integers(1, 2)), "initial_delay": 0.0}
        if i:
            deps = draw(st.lists(st.integers(0, i - 1), max_size=2, unique=True))
            if deps:
                task["depends_on"] = [f"t{d}" for d in deps]
        tasks.append(task)
    return {
        "name": "misbehaving",
        "on_failure": draw(st.sampled_from(["continue", "fail_fast"])),
        "agents": [
            {
                "name": "a",
                "capabilities": ["async"],
                "capacity": draw(st.integers(1, 3)),
                "handler": "behave:behave",
            },
            {
                "name": "s",
                "capabilities": ["sync"],
                "capacity": 2,
                "handler": "behave:behave_in_thread",
            },
        ],
        "tasks": tasks,
    }


def write(folder: Path, doc: dict[str, Any]) -> Path:
    (folder / "behave.py").write_text(HANDLERS)
    path = folder / "workflow.json"
    path.write_text(json.dumps(doc))
    return path


@seed(20261130)
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(doc=workflows())
def test_every_run_ends_with_every_task_final(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = write(tmp_path, doc)

    async def go() -> podium.RunResult:
        orch = podium.Orchestrator()
        return await asyncio.wait_for(orch.run(str(path)), 20)

    result = asyncio.run(go())
    assert str(result.status) in {"completed", "failed", "partial"}
    assert {str(t.status) for t in result.tasks.values()} <= FINAL
    for tid, t in result.tasks.items():
        if t.status == "completed":
            json.dumps(t.result)  # what completed is JSON
        else:
            assert isinstance(t.error, str) and t.error, tid


@seed(20261130)
@settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(doc=workflows())
def test_podium_run_json_exits_with_a_documented_code(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = write(tmp_path, doc)
    proc = subprocess.run(
        [sys.executable, "-m", "podium", "run", str(path), "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    # podium's own traceback would be on stderr; the JSON document on stdout is whole (it may
    # quote a failed handler's traceback in its task, which is the point of that field)
    assert "Traceback" not in proc.stderr, proc.stderr
    out = json.loads(proc.stdout)
    assert {t["status"] for t in out["tasks"].values()} <= FINAL
    expected = 0 if out["status"] == "completed" else 1
    assert proc.returncode == expected, proc.stderr
