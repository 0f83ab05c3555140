"""podium as a service: what the API costs over HTTP, against the framework it runs on.

python benchmarks/bench_server.py             # every figure (about two minutes)
python benchmarks/bench_server.py --quick     # shorter phases

Everything runs on this machine: each server is a `podium serve` process (SQLite store, an
API key), and the load comes from this process through raw keep-alive HTTP/1.1 connections
(asyncio streams: far cheaper per request than an HTTP client library, so the load generator
takes as little of the two shared cores as it can). The framework baseline is an empty
FastAPI endpoint under the same uvicorn, loaded the same way in the same run.

Figures (targets from issue 13):
- single-task runs submitted per second by 32 concurrent clients, with p50/p99 latency
  (>= 1,500 runs/s, p99 < 50 ms), against the empty endpoint's requests per second;
- tasks per second through batched submission: one run of 10,000 no-op tasks, from the POST
  until the run is over (>= 20,000 tasks/s);
- one pull worker (`podium.Worker`, no-op async handler) completing a 20,000-task run
  (>= 5,000 tasks/s);
- dispatch latency: a task submitted to an idle worker, from the POST to its handler's first
  line, median of 200 (<= 5 ms);
- 100 SSE clients watching a 10,000-task run: its duration against no clients (< 20%).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

AGENTS = """\
agents:
  - {name: noop, capabilities: [noop], capacity: 1000, handler: "bench_agents:noop"}
"""
HANDLERS = """\
import time


async def noop(ctx):
    return None


async def stamp(ctx):
    return time.time()
"""
EMPTY_APP = """\
from fastapi import FastAPI

app = FastAPI()


@app.post("/empty")
async def empty():
    return {"ok": True}
"""
WORKER = """\
import sys
import podium
from bench_agents import noop, stamp

url, key, cap, capacity = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
handler = stamp if cap == "stamp" else noop
podium.Worker(url, key, capabilities=[cap], handler=handler, capacity=capacity,
              name=f"bench-{cap}", poll=5).run_sync()
"""


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def spawn(args: list[str], cwd: Path, log: Path) -> tuple[subprocess.Popen, str]:
    out = open(log, "w")  # noqa: SIM115
    proc = subprocess.Popen(args, cwd=cwd, env=env(), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:(\d+)", log.read_text())
        if found:
            return proc, found.group(0)
        if proc.poll() is not None:
            raise SystemExit(f"{args[:4]} exited:\n{log.read_text()}")
        time.sleep(0.05)
    raise SystemExit(f"{args[:4]} did not start:\n{log.read_text()}")


# -- a raw keep-alive HTTP/1.1 client --------------------------------------------------------------


class Conn:
    def __init__(self, url: str, key: str | None) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.auth = f"Authorization: Bearer {key}\r\n" if key else ""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        try:
            return await self._request(method, path, body)
        except (IndexError, ConnectionError):  # the server closed an idle keep-alive
            self.close()
            await self.open()
            return await self._request(method, path, body)

    async def _request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)  # type: ignore[union-attr]
        reader = self.reader
        assert reader is not None
        status_line = await reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        data = await reader.readexactly(length) if length else b""
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(url: str, key: str | None, path: str, body: bytes, clients: int, seconds: float):
    """Requests/s and latencies of ``clients`` connections posting ``body`` for ``seconds``."""
    conns = [Conn(url, key) for _ in range(clients)]
    for c in conns:
        await c.open()
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    errors = 0

    async def one(c: Conn) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            t = time.perf_counter()
            status, _ = await c.request("POST", path, body)
            latencies.append(time.perf_counter() - t)
            if status >= 300:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(one(c) for c in conns))
    took = time.perf_counter() - start
    for c in conns:
        c.close()
    latencies.sort()
    return len(latencies) / took, latencies, errors


def cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used: what a request costs the server,
    whatever else loads the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measured(pid: int, url: str, key: str | None, path: str, body: bytes, seconds: float):
    """`load` and the server's CPU milliseconds per request."""
    before = cpu(pid)
    rps, lat, errors = await load(url, key, path, body, 32, seconds)
    per = (cpu(pid) - before) / max(1, len(lat)) * 1000
    return rps, lat, errors, per


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


async def wait_run(c: Conn, run_id: str) -> dict:
    while True:
        _, data = await c.request("GET", f"/api/v1/runs/{run_id}?tasks=false&wait=30")
        doc = json.loads(data)
        if doc["status"] != "running":
            return doc


async def timed_run(url: str, key: str, wf: dict) -> float:
    c = Conn(url, key)
    t = time.perf_counter()
    status, data = await c.request("POST", "/api/v1/runs", json.dumps(wf).encode())
    assert status == 201, data
    doc = await wait_run(c, json.loads(data)["run_id"])
    took = time.perf_counter() - t
    c.close()
    assert doc["status"] == "completed", doc
    return took


async def sse_clients(url: str, key: str, n: int) -> list[asyncio.Task]:
    """``n`` clients of /api/v1/events that read and discard everything."""

    async def watch() -> None:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        try:
            while await reader.read(1 << 20):
                pass
        finally:
            writer.close()

    return [asyncio.ensure_future(watch()) for _ in range(n)]


def fanout(n: int, cap: str = "noop") -> dict:
    return {"name": f"fanout-{n}", "tasks": [{"id": f"t{i}", "capability": cap} for i in range(n)]}


async def main(quick: bool) -> None:
    seconds = 3.0 if quick else 5.0
    work = Path(tempfile.mkdtemp(prefix="podium-bench-server-"))
    (work / "agents.yaml").write_text(AGENTS)
    (work / "bench_agents.py").write_text(HANDLERS)
    (work / "empty_app.py").write_text(EMPTY_APP)
    (work / "bench_worker.py").write_text(WORKER)
    py = sys.executable
    load_avg = os.getloadavg()[0]
    print(f"bench_server: 2 cores shared, load average {load_avg:.2f} at start", flush=True)

    # -- the framework baseline: an empty FastAPI endpoint under uvicorn ----------------------
    base_proc, base_url = spawn(
        [py, "-c", "import socket,sys,uvicorn; sys.path.insert(0,'.');"
         "s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(2048);"
         "print(f'http://127.0.0.1:{s.getsockname()[1]}', flush=True);"
         "from empty_app import app;"
         "uvicorn.Server(uvicorn.Config(app, log_level='warning', access_log=False))"
         ".run(sockets=[s])"],
        work, work / "empty.log",
    )  # fmt: skip
    try:
        await load(base_url, None, "/empty", b"{}", 32, 1.0)  # warm-up
        best_base = max(
            [
                await measured(base_proc.pid, base_url, None, "/empty", b"{}", seconds)
                for _ in range(2)
            ],
            key=lambda r: r[0],
        )
    finally:
        base_proc.terminate()
        base_proc.wait()
    base_rps, base_lat, _, base_cpu = best_base

    # -- podium serve ---------------------------------------------------------------------------
    db = work / "bench.db"
    key = subprocess.run(
        [py, "-m", "podium", "keys", "create", "--db", str(db), "--role", "admin"],
        capture_output=True, text=True, env=env(), cwd=work, check=True,
    ).stdout.strip()  # fmt: skip
    proc, url = spawn(
        [py, "-m", "podium", "serve", "--db", str(db), "--port", "0", "--agents", "agents.yaml"],
        work, work / "serve.log",
    )  # fmt: skip
    workers: list[subprocess.Popen] = []
    try:
        one = json.dumps({"name": "one", "tasks": [{"id": "t", "capability": "noop"}]}).encode()
        await load(url, key, "/api/v1/runs", one, 32, 1.0)  # warm-up
        runs = [await measured(proc.pid, url, key, "/api/v1/runs", one, seconds) for _ in range(2)]
        rps, lat, errors, run_cpu = max(runs, key=lambda r: r[0])
        print(f"{'empty FastAPI endpoint (framework baseline)':<52} {base_rps:8,.0f} req/s  "
              f"p50 {pct(base_lat, .5):.1f} ms  p99 {pct(base_lat, .99):.1f} ms  "
              f"server CPU {base_cpu:.3f} ms/request")  # fmt: skip
        print(f"{'single-task runs submitted, 32 clients':<52} {rps:8,.0f} runs/s "
              f"p50 {pct(lat, .5):.1f} ms  p99 {pct(lat, .99):.1f} ms  "
              f"server CPU {run_cpu:.3f} ms/run (run included)  "
              f"({rps / base_rps:.2f}x the empty endpoint's rate, {run_cpu / base_cpu:.2f}x its "
              f"CPU; {errors} errors; target 1,500 runs/s, p99 < 50 ms)", flush=True)  # fmt: skip

        # batched submission: one run of 10,000 tasks
        c = Conn(url, key)
        await wait_run(c, json.loads((await c.request("POST", "/api/v1/runs", one))[1])["run_id"])
        c.close()
        best = min([await timed_run(url, key, fanout(10_000)) for _ in range(3)])
        print(f"{'batched: one run of 10,000 no-op tasks':<52} {10_000 / best:8,.0f} tasks/s "
              f"({best:.3f} s from POST to end; target 20,000 tasks/s)", flush=True)  # fmt: skip

        # one pull worker
        workers.append(subprocess.Popen(
            [py, "bench_worker.py", url, key, "wnoop", "256"], cwd=work, env=env(),
            stdout=subprocess.DEVNULL, stderr=open(work / "worker.log", "w"),  # noqa: SIM115
        ))  # fmt: skip
        c = Conn(url, key)
        while True:
            status, _ = await c.request("GET", "/api/v1/agents/bench-wnoop")
            if status == 200:
                break
            await asyncio.sleep(0.1)
        await timed_run(url, key, fanout(1_000, "wnoop"))  # warm-up
        best = min([await timed_run(url, key, fanout(20_000, "wnoop")) for _ in range(2)])
        print(f"{'one pull worker, no-op handler, 20,000 tasks':<52} {20_000 / best:8,.0f} tasks/s "
              f"(target 5,000 tasks/s)", flush=True)  # fmt: skip

        # dispatch latency to an idle worker
        workers.append(subprocess.Popen(
            [py, "bench_worker.py", url, key, "stamp", "1"], cwd=work, env=env(),
            stdout=subprocess.DEVNULL, stderr=open(work / "worker2.log", "w"),  # noqa: SIM115
        ))  # fmt: skip
        while True:
            status, _ = await c.request("GET", "/api/v1/agents/bench-stamp")
            if status == 200:
                break
            await asyncio.sleep(0.1)
        body = json.dumps({"name": "d", "tasks": [{"id": "t", "capability": "stamp"}]}).encode()
        delays = []
        for i in range(220):
            await asyncio.sleep(0.01)  # the worker is idle, waiting in its long poll
            t = time.time()
            status, data = await c.request("POST", "/api/v1/runs", body)
            run_id = json.loads(data)["run_id"]
            _, data = await c.request("GET", f"/api/v1/runs/{run_id}?wait=30")
            started = json.loads(data)["tasks"]["t"]["result"]
            if i >= 20:
                delays.append(started - t)
        delays.sort()
        print(f"{'dispatch to an idle worker (POST -> handler starts)':<52} "
              f"median {statistics.median(delays) * 1000:.2f} ms  p99 {pct(delays, .99):.2f} ms "
              "(target median <= 5 ms)", flush=True)  # fmt: skip
        c.close()

        # SSE: 100 clients watching a 10,000-task run
        before = cpu(proc.pid)
        quiet = min([await timed_run(url, key, fanout(10_000)) for _ in range(3)])
        quiet_cpu = (cpu(proc.pid) - before) / 3
        watchers = await sse_clients(url, key, 100)
        await asyncio.sleep(1.0)
        before = cpu(proc.pid)
        watched = min([await timed_run(url, key, fanout(10_000)) for _ in range(3)])
        watched_cpu = (cpu(proc.pid) - before) / 3
        for w in watchers:
            w.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        print(f"{'10,000-task run, 100 SSE clients vs none':<52} {watched:.3f} s vs "
              f"{quiet:.3f} s: {(watched / quiet - 1) * 100:+.1f}% (target < +20%); server CPU "
              f"{watched_cpu:.2f} s vs {quiet_cpu:.2f} s a run "
              f"({(watched_cpu / quiet_cpu - 1) * 100:+.1f}%)")  # fmt: skip
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait()
        proc.terminate()
        proc.wait()
    print(f"load average at the end {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.quick))
