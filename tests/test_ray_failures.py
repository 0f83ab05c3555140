"""The Ray backend when things go wrong, and where big results live: a killed actor, timeouts
and cancellation reaching the actor, a 100 MB result that never enters the driver, and resume
after the driver is killed. One local Ray instance for the session (``ray_address``)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

import podium
from podium.agents.kinds.ray import is_reference

pytestmark = pytest.mark.usefixtures("ray_address")


async def _until(check, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


async def test_an_actor_killed_mid_task_is_replaced_and_the_task_retried() -> None:
    import ray

    orch = podium.Orchestrator(backend="ray", store="memory")

    @orch.agent(name="victim", capabilities=["work"], capacity=1)
    async def work(ctx):
        if ctx.attempt == 1:
            await asyncio.sleep(60)
        return {"attempt": ctx.attempt, "pid": os.getpid()}

    wf = podium.Workflow("kill")
    wf.task("t", capability="work", retry={"max_attempts": 2, "initial_delay": 0.01})
    agent = orch.agents["victim"]
    run = orch.prepare(wf)
    job = asyncio.ensure_future(orch.execute(run))
    try:
        await _until(lambda: run.records["t"].status == "running")
        first = agent._actor
        await asyncio.sleep(0.3)  # the call reaches the actor
        ray.kill(first)
        result = await asyncio.wait_for(job, 60)
        history = await orch.store.transitions(run.run_id)  # type: ignore[union-attr]
    finally:
        await orch.close()
    t = result.tasks["t"]
    assert result.status == "completed" and t.attempts == 2
    assert t.result["attempt"] == 2 and agent._actor is not first  # a fresh actor ran it
    errors = [h.error for h in history if h.error]
    assert any("its Ray actor died while running task 't'" in e for e in errors), errors


async def test_a_timeout_and_the_run_s_cancellation_cancel_the_ray_task(tmp_path: Path) -> None:
    orch = podium.Orchestrator(backend="ray")

    @orch.agent(name="sleeper", capabilities=["sleep"], capacity=4)
    async def sleep(ctx):
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            Path(ctx.input["mark"]).write_text("cancelled")
            raise

    wf = podium.Workflow("timeout")
    wf.task("late", capability="sleep", input={"mark": str(tmp_path / "late")}, timeout=0.5)
    try:
        result = await orch.run(wf)
        assert result.tasks["late"].status == "failed"
        assert result.tasks["late"].error == "timeout"
        await _until((tmp_path / "late").exists, 30)  # the actor's coroutine was cancelled

        wf = podium.Workflow("cancel")
        wf.task("a", capability="sleep", input={"mark": str(tmp_path / "a")})
        wf.task("b", capability="sleep", input={"mark": str(tmp_path / "b")})
        run = orch.prepare(wf)
        job = asyncio.ensure_future(orch.execute(run))
        await _until(lambda: run.n_running == 2)
        await asyncio.sleep(0.5)  # the calls reach the actor
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        assert run.status == "cancelled"
        await _until(lambda: (tmp_path / "a").exists() and (tmp_path / "b").exists(), 30)
    finally:
        await orch.close()


BIG = 100_000_000


async def test_a_100_mb_intermediate_result_never_enters_the_driver() -> None:
    orch = podium.Orchestrator(backend="ray")

    @orch.agent(name="producer", capabilities=["make"], capacity=1)
    def make(ctx):
        return "x" * BIG

    @orch.agent(name="consumer", capabilities=["measure"], capacity=1)
    def measure(ctx):
        return len(ctx.deps["make"])

    wf = podium.Workflow("big")
    wf.task("make", capability="make")
    wf.task("measure", capability="measure", depends_on=["make"])
    await orch._setup_agents(orch.agents.values())  # actors up before memory is traced
    tracemalloc.start()
    try:
        run = orch.prepare(wf)
        result = await orch.execute(run)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        await orch.close()
    assert result.tasks["measure"].result == BIG
    kept = result.tasks["make"].result
    assert is_reference(kept) and kept["bytes"] >= BIG  # the store gets the reference
    assert peak < BIG // 10, f"the driver allocated {peak} bytes"
    assert run.ray_refs == {}  # let go once 'measure' had it: Ray may free the 100 MB


HANDLERS = """
import os, time

def make(ctx):
    return "y" * 200_000

def use(ctx):
    if not os.path.exists(ctx.input["flag"]):
        open(ctx.input["flag"], "w").close()
        time.sleep(60)  # the first session's driver is killed meanwhile
    return len(ctx.deps["make"])
"""


def test_resume_after_the_driver_is_killed(tmp_path: Path) -> None:
    (tmp_path / "ray_resume.py").write_text(HANDLERS)
    flag = tmp_path / "flag"
    (tmp_path / "flow.yaml").write_text(
        "name: resume\n"
        "agents:\n"
        "  - {name: maker, kind: ray, handler: 'ray_resume:make', capabilities: [make]}\n"
        "  - {name: user, kind: ray, handler: 'ray_resume:use', capabilities: [use]}\n"
        "tasks:\n"
        "  - {id: make, capability: make}\n"
        f"  - {{id: use, capability: use, depends_on: [make], input: {{flag: '{flag}'}}}}\n"
    )
    podium_cmd = [sys.executable, "-m", "podium"]
    first = subprocess.Popen(
        [*podium_cmd, "run", "flow.yaml", "--db", "runs.db", "--run-id", "r1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while not flag.exists():
            assert first.poll() is None, first.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.5)  # the store has recorded 'make' (group commit)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    p = subprocess.run(
        [*podium_cmd, "resume", "r1", "--db", "runs.db", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    tasks = json.loads(p.stdout)["tasks"]
    assert tasks["use"]["result"] == 200_000
    # 'make' was completed, but its result lived in the killed driver's object store: again
    assert tasks["make"]["attempts"] == 2
