"""Real `podium serve` processes for the server tests: started on 127.0.0.1 with a free port,
API keys made in their store first, stopped (SIGTERM, then SIGKILL) at the end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

AGENTS = """\
agents:
  - {name: echo, capabilities: [echo], capacity: 64, handler: "served:echo"}
  - {name: slow, capabilities: [slow], capacity: 8, handler: "served:slow"}
  - {name: flaky, capabilities: [flaky], capacity: 4, handler: "served:flaky"}
  - name: pool
    capabilities: [pooled]
    capacity: 1
    replicas: {min: 1, max: 3}
    handler: "served:slow"
"""

SERVED = """\
import asyncio


async def echo(ctx):
    return {"echo": ctx.input, "deps": ctx.deps}


async def slow(ctx):
    await asyncio.sleep((ctx.input or {}).get("sleep", 0.2) if isinstance(ctx.input, dict) else 0.2)
    return {"slept": True, "agent": ctx.agent}


def flaky(ctx):
    if ctx.attempt < 2:
        raise RuntimeError("flaky the first time")
    return "ok"
"""

JWT_SECRET = "test-secret-0123456789-abcdefghij"
JWT_AUDIENCE = "podium-tests"


def env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": str(ROOT / "src") + (os.pathsep + path if path else "")}


def podium(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "podium", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env(),
        timeout=timeout,
    )


def make_key(db: str, role: str, rate_limit: float | None = None) -> str:
    """A new key in the store at ``db`` (in this process: `podium keys create` is tested on
    its own, and each subprocess costs a second here)."""
    import asyncio

    from podium.server.auth import new_key
    from podium.stores import open_store

    key, record = new_key(role, rate_limit=rate_limit)

    async def save() -> None:
        store = open_store(db)
        await store.open()
        try:
            await store.create_key(record)
        finally:
            await store.close()

    asyncio.run(save())
    return key


class Served:
    """One `podium serve` process."""

    def __init__(self, folder: Path, db: str, *args: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "agents.yaml").write_text(AGENTS)
        (folder / "served.py").write_text(SERVED)
        self.folder = folder
        self.db = db
        self.log = folder / f"serve-{time.monotonic_ns()}.log"
        self._out = open(self.log, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "podium", "serve", "--db", db, "--port", "0",
                "--agents", "agents.yaml", *args,
            ],
            cwd=folder,
            env=env(),
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.url = self._wait_url()
        self._wait_ready()

    def _wait_url(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"http://127\.0\.0\.1:\d+", self.log.read_text())
            if found:
                return found.group(0)
            if self.proc.poll() is not None:
                raise AssertionError(f"podium serve exited:\n{self.log.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"podium serve did not start:\n{self.log.read_text()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"podium serve is not ready:\n{self.log.read_text()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()

    def logs(self) -> str:
        return self.log.read_text()


def wait_for(check, timeout: float = 30, what: str = "a condition"):  # type: ignore[no-untyped-def]
    """Poll ``check()`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def wait_run(client: httpx.Client, run_id: str, timeout: float = 60) -> dict:
    def done():  # type: ignore[no-untyped-def]
        doc = client.get(f"/api/v1/runs/{run_id}", params={"wait": 5}).json()
        return doc if doc["status"] != "running" else None

    return wait_for(done, timeout, f"run {run_id} to end")
