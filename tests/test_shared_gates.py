"""Concurrency keys shared through Redis (podium.engine.shared_gates), with the real Redis:
two orchestrators on one key never exceed its max together, and the slot of a process that
was killed comes back after its TTL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from _redis import REDIS_URL, redis_namespace
from podium import Agent, Orchestrator, Workflow
from podium.engine.gates import Gates
from podium.engine.shared_gates import SharedGates
from podium.errors import ValidationError

SRC = str(Path(__file__).resolve().parents[1] / "src")


def overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one time (an end at the same instant as a start comes first)."""
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    most = n = 0
    for _, d in events:
        n += d
        most = max(most, n)
    return most


async def test_two_orchestrators_never_exceed_a_shared_key_together() -> None:
    async with redis_namespace() as ns:
        spans: list[tuple[float, float]] = []
        orchs = [
            Orchestrator(gates=SharedGates(REDIS_URL, prefix=f"{ns}:gates", poll=0.01))
            for _ in range(2)
        ]
        for i, orch in enumerate(orchs):

            @orch.agent(name=f"worker{i}", capabilities=["work"], capacity=10)
            async def work(ctx: object) -> None:
                start = time.monotonic()
                await asyncio.sleep(0.02)
                spans.append((start, time.monotonic()))

        def workflow() -> Workflow:
            wf = Workflow("tenants")
            for j in range(15):
                wf.task(f"t{j}", capability="work", concurrency={"key": "tenant-a", "max": 3})
            return wf

        try:
            results = await asyncio.gather(*(o.run(workflow()) for o in orchs))
        finally:
            for o in orchs:
                await o.close()
        assert [r.status.value for r in results] == ["completed", "completed"]
        assert len(spans) == 30
        assert overlap(spans) <= 3
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(REDIS_URL)
        try:  # every slot went back to Redis when its last task ended
            assert await client.zcard(f"{ns}:gates:key:tenant-a") == 0
        finally:
            await client.aclose()


HOLDER = """
import asyncio, sys
from podium import Agent, Orchestrator, Workflow
from podium.engine.shared_gates import SharedGates

async def main():
    orch = Orchestrator(gates=SharedGates(sys.argv[1], prefix=sys.argv[2], ttl=1.0))

    @orch.agent(name="holder", capabilities=["work"])
    async def hold(ctx):
        print("holding", flush=True)
        await asyncio.sleep(3600)

    wf = Workflow("holder")
    wf.task("hold", capability="work", concurrency={"key": "gpu-box", "max": 1})
    await orch.run(wf)

asyncio.run(main())
"""


async def test_a_killed_holders_slot_comes_back_after_its_ttl(tmp_path: Path) -> None:
    async with redis_namespace() as ns:
        import redis.asyncio as aioredis

        script = tmp_path / "holder.py"
        script.write_text(textwrap.dedent(HOLDER))
        env = {**os.environ, "PYTHONPATH": SRC}
        proc = subprocess.Popen(
            [sys.executable, str(script), REDIS_URL, f"{ns}:gates"],
            stdout=subprocess.PIPE,
            env=env,
        )
        client = aioredis.Redis.from_url(REDIS_URL)
        name = f"{ns}:gates:key:gpu-box"
        try:
            line = await asyncio.to_thread(proc.stdout.readline)  # type: ignore[union-attr]
            assert line.strip() == b"holding"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            held = await client.zrange(name, 0, -1, withscores=True)
            assert len(held) == 1  # the dead process's slot is still counted
            dead, expires_ms = held[0]

            seen: dict[str, object] = {}
            orch = Orchestrator(gates=SharedGates(REDIS_URL, prefix=f"{ns}:gates", ttl=1.0))

            @orch.agent(name="next", capabilities=["work"])
            async def after(ctx: object) -> None:
                secs, micros = await client.time()
                seen["now_ms"] = secs * 1000 + micros // 1000
                seen["dead"] = await client.zscore(name, dead)

            wf = Workflow("after")
            wf.task("go", capability="work", concurrency={"key": "gpu-box", "max": 1})
            try:
                result = await asyncio.wait_for(orch.run(wf), 30)
            finally:
                await orch.close()
            assert result.status.value == "completed"
            assert seen["dead"] is None  # it started only once the dead slot had gone
            assert seen["now_ms"] >= expires_ms  # and that was not before its TTL ran out
        finally:
            if proc.poll() is None:
                proc.kill()
            await client.aclose()


def test_gates_default_plain_and_bad_url_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODIUM_GATES", raising=False)
    assert type(Orchestrator().gates) is Gates
    monkeypatch.setenv("PODIUM_GATES", "redis://127.0.0.1:6379/0")
    gates = Orchestrator().gates
    assert isinstance(gates, SharedGates) and gates.url == "redis://127.0.0.1:6379/0"
    with pytest.raises(ValidationError, match="not a Redis URL"):
        Orchestrator(gates="localhost:6379")


async def test_podium_run_with_gates(tmp_path: Path) -> None:
    async with redis_namespace() as ns:
        (tmp_path / "keyed.yaml").write_text(
            textwrap.dedent(
                f"""
                name: keyed
                agents:
                  - {{name: worker, handler: keyed_agents:work, capabilities: [work]}}
                capabilities:
                  work:
                    concurrency: {{key: "{ns}-{{input.n}}", max: 1}}
                tasks:
                  - {{id: a, capability: work, input: {{n: 1}}}}
                  - {{id: b, capability: work, input: {{n: 1}}}}
                """
            )
        )
        (tmp_path / "keyed_agents.py").write_text("def work(ctx):\n    return 1\n")

        def podium(*args: str) -> subprocess.CompletedProcess[str]:
            env = {**os.environ, "PYTHONPATH": SRC}
            env.pop("PODIUM_GATES", None)
            return subprocess.run(
                [sys.executable, "-m", "podium", *args],
                capture_output=True,
                text=True,
                cwd=tmp_path,
                env=env,
            )

        ok = await asyncio.to_thread(podium, "run", "keyed.yaml", "--gates", REDIS_URL)
        assert ok.returncode == 0, ok.stderr
        assert "2 completed" in ok.stdout
        bad = await asyncio.to_thread(podium, "run", "keyed.yaml", "--gates", "localhost:6379")
        assert bad.returncode == 2
        assert "'localhost:6379' (--gates, PODIUM_GATES) is not a Redis URL" in bad.stderr
        assert "Traceback" not in bad.stderr


class Metered(Agent):
    def estimate_usage(self, task: object) -> tuple[float, int]:
        return 0.0, 100


@pytest.mark.parametrize(
    ("limit", "most"),
    [({"requests": 4, "per": 0.3}, 4), ({"tokens": 300, "per": 0.3}, 3)],
    ids=["requests", "tokens"],
)
async def test_two_orchestrators_share_a_rate_limit(limit: dict[str, float], most: int) -> None:
    async with redis_namespace() as ns:
        starts: list[float] = []

        async def call(ctx: object) -> None:
            starts.append(time.monotonic())

        orchs = [
            Orchestrator(gates=SharedGates(REDIS_URL, prefix=f"{ns}:gates", poll=0.01))
            for _ in range(2)
        ]
        for orch in orchs:  # the same API, called from two processes
            orch.register(Metered("api", ["api"], 10, handler=call, rate_limit=limit))

        def workflow() -> Workflow:
            wf = Workflow("calls")
            for i in range(8):
                wf.task(f"c{i}", capability="api")
            return wf

        try:
            results = await asyncio.gather(*(o.run(workflow()) for o in orchs))
        finally:
            for o in orchs:
                await o.close()
        assert [r.status.value for r in results] == ["completed", "completed"]
        assert len(starts) == 16
        for t in starts:  # no window of `per` seconds holds more starts than the limit
            assert sum(1 for u in starts if t <= u < t + 0.3) <= most


def test_run_sync_again_and_again(caplog: pytest.LogCaptureFixture) -> None:
    """Each run_sync has its own event loop: the gates open Redis again on the new one and
    wake no run of a loop that is gone."""
    with caplog.at_level("WARNING", logger="podium.gates"):
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except Exception as exc:
            from _redis import skip_or_fail

            skip_or_fail(f"Redis at {REDIS_URL} is not reachable: {exc}")
        prefix = f"podium-test-sync-{os.getpid()}:gates"
        orch = Orchestrator(gates=SharedGates(REDIS_URL, prefix=prefix, poll=0.01))
        orch.register(
            Agent("sync-api", ["w"], 4, handler=lambda ctx: 1, rate_limit={"requests": 50})
        )
        for _ in range(3):
            wf = Workflow("again")
            for i in range(6):
                wf.task(f"t{i}", capability="w", concurrency={"key": "again", "max": 2})
            assert orch.run_sync(wf).status.value == "completed"
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_a_server_shares_its_gates(tmp_path: Path) -> None:
    from podium.server.config import ServerConfig
    from podium.server.service import Service

    config = ServerConfig(db=str(tmp_path / "runs.db"), gates=REDIS_URL, insecure_no_auth=True)
    gates = Service(config).orch.gates
    assert isinstance(gates, SharedGates) and gates.url == REDIS_URL
    env = {**os.environ, "PYTHONPATH": SRC}
    serve = ["serve", "--insecure-no-auth", "--port", "0", "--db", str(tmp_path / "runs.db")]
    bad = subprocess.run(
        [sys.executable, "-m", "podium", *serve, "--gates", "nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "'nope' (--gates, PODIUM_GATES) is not a Redis URL" in bad.stderr
