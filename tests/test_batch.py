"""Batched agents (podium.engine.batch): lists of contexts in, lists of results out, each
task with its own status, attempts and record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import podium
from podium.spec.workflow import Workflow


def fan_out(n: int, **kw: Any) -> Workflow:
    wf = Workflow("b", on_failure="continue")
    for i in range(n):
        wf.task(f"t{i}", capability="embed", input={"x": i}, **kw)
    return wf


def run(wf: Workflow, handler: Any, **batch: Any) -> podium.RunResult:
    orch = podium.Orchestrator()
    batch = batch or {"max_size": 10, "max_wait": 0.01}
    orch.register(podium.Agent("embed", ["embed"], handler=handler, batch=batch))
    return orch.run_sync(wf)


def test_batches_fill_under_load_and_each_task_keeps_its_result() -> None:
    sizes: list[int] = []

    async def embed(ctxs: list[Any]) -> list[Any]:
        sizes.append(len(ctxs))
        return [c.input["x"] * 2 for c in ctxs]

    result = run(fan_out(500), embed, max_size=20, max_wait=0.05)
    assert result.status == "completed" and sum(sizes) == 500
    assert sum(sizes) / len(sizes) >= 0.8 * 20
    assert result.tasks["t7"].result == 14 and result.tasks["t7"].attempts == 1


def test_a_lone_task_runs_in_a_batch_of_one() -> None:
    sizes: list[int] = []

    def embed(ctxs: list[Any]) -> list[Any]:  # sync: runs in a thread
        sizes.append(len(ctxs))
        return ["ok" for _ in ctxs]

    result = run(fan_out(1), embed, max_size=32, max_wait=0.001)
    assert result.status == "completed" and sizes == [1]


def test_an_error_object_fails_one_task_and_an_exception_the_batch() -> None:
    calls = {"n": 0}

    async def embed(ctxs: list[Any]) -> list[Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("model down")  # the whole first batch fails, then retries
        return [ValueError("bad item") if c.input["x"] == 3 else c.input["x"] for c in ctxs]

    result = run(fan_out(5, retry={"max_attempts": 2, "initial_delay": 0}), embed)
    t = result.tasks
    assert t["t3"].status == "failed" and "bad item" in (t["t3"].error or "")
    assert t["t3"].attempts == 2 and t["t0"].status == "completed" and t["t0"].attempts == 2
    assert result.status == "partial"


def test_a_result_list_of_the_wrong_length_fails_the_batch() -> None:
    async def embed(ctxs: list[Any]) -> list[Any]:
        return [1]

    result = run(fan_out(3), embed)
    err = result.tasks["t0"].error or ""
    assert result.tasks["t0"].status == "failed" and "one result per context" in err


def test_bad_batch_settings_name_the_agent_and_field() -> None:
    with pytest.raises(podium.ValidationError) as exc:
        podium.Agent("e", ["e"], handler=lambda ctxs: ctxs, batch={"max_size": 0})
    assert exc.value.field == "batch.max_size" and "agent 'e'" in str(exc.value)


def test_a_batched_agent_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "emb.py").write_text(
        "def embed(ctxs):\n    return [len(c.task_id) for c in ctxs]\n"
    )
    tasks = "\n".join(f"  - {{id: t{i}, capability: embed}}" for i in range(12))
    (tmp_path / "wf.yaml").write_text(
        "name: emb\nagents:\n  - name: e\n    handler: emb:embed\n    capabilities: [embed]\n"
        f"    batch: {{max_size: 8, max_wait: 0.01}}\ntasks:\n{tasks}\n"
    )
    p = subprocess.run(
        [sys.executable, "-m", "podium", "run", "wf.yaml", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert '"status": "completed"' in p.stdout


def test_batch_is_refused_where_it_cannot_run(tmp_path: Path) -> None:
    (tmp_path / "emb.py").write_text("def embed(ctxs):\n    return ctxs\n")
    (tmp_path / "wf.yaml").write_text(
        "name: emb\nagents:\n  - name: e\n    kind: ray\n    handler: emb:embed\n"
        "    capabilities: [embed]\n    batch: {max_size: 8}\n"
        "tasks:\n  - {id: a, capability: embed}\n"
    )
    p = subprocess.run(
        [sys.executable, "-m", "podium", "validate", "wf.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert p.returncode == 2 and "batch is for kind: python" in p.stderr
    assert "Traceback" not in p.stderr
