"""The Ray backend on a real local Ray instance, started once per session (``ray_address``).

Handlers defined here reach the actors pickled by value (this module is not installed), as a
user's script or workflow folder would.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import podium
from podium.agents.kinds.ray import RayAgent

pytestmark = pytest.mark.usefixtures("ray_address")

FLOW = """
name: on-ray
agents:
  - name: doubler
    kind: ray
    handler: ray_handlers:double
    capabilities: [double]
    capacity: 2
    resources: {num_cpus: 0.5, memory: 64MiB}
  - name: summer
    handler: ray_handlers:total
    capabilities: [sum]
tasks:
  - {id: a, capability: double, input: {n: 2}}
  - {id: b, capability: double, input: {n: 5}}
  - {id: c, capability: sum, depends_on: [a, b]}
"""

HANDLERS = """
import os

def double(ctx):
    return {"n": ctx.input["n"] * 2, "pid": os.getpid()}

def total(ctx):
    return {"total": sum(d["n"] for d in ctx.deps.values()), "pid": os.getpid()}
"""


def _flow(tmp_path: Path) -> Path:
    (tmp_path / "ray_handlers.py").write_text(HANDLERS)
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW)
    return path


async def test_kind_ray_runs_its_agent_in_an_actor(tmp_path: Path) -> None:
    wf = podium.load_workflow(_flow(tmp_path))
    doubler = wf.agents[0]
    assert isinstance(doubler, RayAgent)
    assert doubler.resources == {"num_cpus": 0.5, "memory": 64 * 1024**2}
    orch = podium.Orchestrator()
    result = await orch.run(wf)
    await orch.close()
    assert result.status == "completed"
    a, b, c = (result.tasks[t].result for t in "abc")
    assert (a["n"], b["n"], c["total"]) == (4, 10, 14)
    assert a["pid"] != os.getpid()  # kind: ray ran in an actor
    assert c["pid"] == os.getpid()  # kind: python stayed in this process


async def test_the_ray_backend_moves_python_agents_into_actors() -> None:
    orch = podium.Orchestrator(backend="ray")

    @orch.agent(name="where", capabilities=["where"], capacity=3)
    async def where(ctx):
        await asyncio.sleep(0)
        return {"pid": os.getpid(), "deps": sorted(ctx.deps)}

    assert isinstance(orch.agents["where"], RayAgent)
    wf = podium.Workflow("w")
    wf.task("x", capability="where")
    wf.task("y", capability="where", depends_on=["x"])
    result = await orch.run(wf)
    await orch.close()
    assert result.tasks["y"].result["deps"] == ["x"]
    assert result.tasks["x"].result["pid"] != os.getpid()


def test_podium_run_backend_ray(tmp_path: Path) -> None:
    path = _flow(tmp_path)
    p = subprocess.Popen(
        [sys.executable, "-m", "podium", "run", str(path), "--json", "--backend", "ray"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    tasks = json.loads(out)["tasks"]
    assert tasks["c"]["result"]["total"] == 14
    # --backend ray moved the python agent into an actor too: not the CLI's process
    assert tasks["c"]["result"]["pid"] != p.pid
    assert tasks["a"]["result"]["pid"] != p.pid


def test_a_bad_backend_is_refused(tmp_path: Path) -> None:
    path = _flow(tmp_path)
    p = subprocess.run(
        [sys.executable, "-m", "podium", "run", str(path), "--backend", "spark"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and "'spark' is not one of" in p.stderr
    assert "Traceback" not in p.stderr
    with pytest.raises(podium.ValidationError, match="backend 'spark' is not one of local, ray"):
        podium.Orchestrator(backend="spark")


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _outcome(result: podium.RunResult) -> dict[str, tuple]:
    return {tid: (str(t.status), t.result, t.error, t.attempts) for tid, t in result.tasks.items()}


@pytest.mark.parametrize(
    "flow", ["patterns/team.yaml", "fan-in/fan_in.yaml", "failures/prices.yaml"]
)
async def test_the_examples_give_the_same_results_on_both_backends(
    flow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir((EXAMPLES / flow).parent)
    outcomes = {}
    for backend in ("local", "ray"):
        orch = podium.Orchestrator(backend=backend)
        try:
            result = await orch.run(podium.load_workflow(EXAMPLES / flow))
        finally:
            await orch.close()
        outcomes[backend] = (str(result.status), _outcome(result))
    assert outcomes["ray"] == outcomes["local"]


async def test_a_pool_of_actors_grows_while_tasks_wait() -> None:
    orch = podium.Orchestrator(backend="ray")

    @orch.agent(name="pool", capabilities=["nap"], capacity=1, replicas={"min": 1, "max": 3})
    async def nap(ctx):
        await asyncio.sleep(0.4)
        return os.getpid()

    wf = podium.Workflow("pool")
    for i in range(8):
        wf.task(f"t{i}", capability="nap")
    run = orch.prepare(wf)
    try:
        result = await orch.execute(run)
    finally:
        await orch.close()
    assert result.status == "completed"
    assert any(e["event"] == "scale_up" for e in run.events)
    replicas = {t.agent for t in result.tasks.values()}
    pids = {t.result for t in result.tasks.values()}
    assert len(replicas) >= 2 and len(pids) == len(replicas)  # one actor process each


async def test_a_handler_in_an_actor_publishes_on_a_redis_bus() -> None:
    from _redis import REDIS_URL, redis_namespace
    from podium.bus import open_bus

    async with redis_namespace() as ns:
        bus = open_bus(REDIS_URL, namespace=ns)
        orch = podium.Orchestrator(backend="ray", bus=bus)

        @orch.agent(name="herald", capabilities=["tell"])
        async def tell(ctx):
            await ctx.publish("news", {"from": ctx.task_id, "pid": os.getpid()})
            return "told"

        wf = podium.Workflow("bus")
        wf.task("t", capability="tell")
        sub = await bus.subscribe("news")
        try:
            result = await orch.run(wf)
            msg = await sub.get(timeout=30)
        finally:
            await sub.close()
            await orch.close()
            await bus.close()
        assert result.tasks["t"].result == "told"
        assert msg.payload["from"] == "t" and msg.payload["pid"] != os.getpid()
        assert msg.sender == "herald"


async def test_the_in_memory_bus_is_refused_in_an_actor_with_the_fix() -> None:
    orch = podium.Orchestrator(backend="ray")

    @orch.agent(name="mute", capabilities=["tell"])
    async def tell(ctx):
        await ctx.publish("news", 1)

    wf = podium.Workflow("no-bus")
    wf.task("t", capability="tell")
    result = await orch.run(wf)
    await orch.close()
    error = result.tasks["t"].error
    assert "ctx.bus in a Ray actor needs a bus every node reaches" in error
    assert "Orchestrator(bus='redis://HOST:6379/0')" in error


def test_podium_serve_backend_ray(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    import httpx

    from _server import Served

    served = Served(tmp_path, str(tmp_path / "s.db"), "--insecure-no-auth", "--backend", "ray")
    try:
        with podium.Client(served.url) as client:
            wf = {"name": "on-a-ray-server", "tasks": [{"id": "e", "capability": "echo"}]}
            doc = client.run({**wf, "tasks": [{**wf["tasks"][0], "input": 7}]}, timeout=60)
        assert doc["status"] == "completed", doc
        assert doc["tasks"]["e"]["result"] == {"echo": 7, "deps": {}}
        agent = httpx.get(f"{served.url}/api/v1/agents/echo", timeout=10).json()
        assert agent["kind"] == "ray" and agent["completed"] == 1
    finally:
        served.kill(signal.SIGTERM)


def test_bad_resources_name_the_file_agent_and_field(tmp_path: Path) -> None:
    (tmp_path / "ray_handlers.py").write_text(HANDLERS)
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW.replace("memory: 64MiB", "memory: lots"))
    with pytest.raises(podium.ValidationError) as err:
        podium.load_workflow(path)
    message = str(err.value)
    assert "agent 'doubler'" in message and "resources.memory" in message
    assert "'lots' is not an amount of memory (2GB, 512MiB, or bytes)" in message
