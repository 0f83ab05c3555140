"""Remote agents of `podium serve`: a push agent served by a real local HTTP server, and
`podium worker` processes that are killed or frozen mid-task."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from _server import env, wait_for, wait_run

HANDLERS = """\
import asyncio
import os
import time


async def first_hangs(ctx):
    if ctx.attempt == 1:
        await asyncio.sleep(120)
    return {"pid": os.getpid(), "attempt": ctx.attempt}


def first_freezes(ctx):
    if ctx.attempt == 1:
        time.sleep(3)
    return {"pid": os.getpid(), "attempt": ctx.attempt}


async def vote(ctx):
    await ctx.send(ctx.agent, {"voted": ctx.task_id})
    got = await ctx.receive(wait=5)
    return {"verdict": "yes", "heard": [m["payload"] for m in got]}


class Unreadable(Exception):
    def __str__(self):
        raise RuntimeError("no text for you")


def unreadable(ctx):
    if ctx.attempt == 1:
        raise Unreadable()
    return {"attempt": ctx.attempt}
"""


@pytest.fixture
def api(server) -> httpx.Client:  # type: ignore[no-untyped-def]
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.keys['admin']}"}, timeout=60
    ) as c:
        yield c


# -- push agents ----------------------------------------------------------------------------------


class _Agent(BaseHTTPRequestHandler):
    seen: list[dict] = []
    mode = "ok"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        type(self).seen.append(body)
        mode = type(self).mode
        if mode == "slow":
            time.sleep(3)
        if mode == "fail":
            self._send(500, {"error": "the model is down"})
            return
        if mode == "redirect":
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/steal")
            self.end_headers()
            return
        self._send(200, {"result": {"upper": str(body["input"]).upper(), "by": body["agent"]}})

    def _send(self, code: int, doc: dict) -> None:
        data = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:  # the server gave up waiting (a timeout test)
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def push_server():  # type: ignore[no-untyped-def]
    handler = type("Handler", (_Agent,), {"seen": [], "mode": "ok"})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/task", handler
    httpd.shutdown()
    httpd.server_close()


def test_a_push_agent_gets_each_task_as_a_post(api: httpx.Client, push_server) -> None:  # type: ignore[no-untyped-def]
    url, handler = push_server
    cap = f"shout-{uuid.uuid4().hex[:6]}"
    names = [f"push-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    for name in names:
        r = api.post("/api/v1/agents", json={"name": name, "url": url, "capabilities": [cap]})
        assert r.status_code == 201, r.text
        assert r.json()["kind"] == "http"
    wf = {
        "name": "pushed",
        "tasks": [
            {"id": "a", "capability": cap, "input": "hello"},
            {
                "id": "vote",
                "capability": cap,
                "pattern": "consensus",
                "consensus": {"agents": 2, "key": "upper"},
                "input": "same",
            },
        ],
    }
    run_id = api.post("/api/v1/runs", json=wf).json()["run_id"]
    doc = wait_run(api, run_id)
    assert doc["status"] == "completed", doc
    assert doc["tasks"]["a"]["result"]["upper"] == "HELLO"
    assert doc["tasks"]["vote"]["result"]["consensus"] is True
    assert set(doc["tasks"]["vote"]["result"]["votes"]) == set(names)
    first = next(b for b in handler.seen if b["task_id"] == "a")
    assert set(first) == {
        "task_id",
        "run_id",
        "attempt",
        "agent",
        "capability",
        "input",
        "deps",
        "options",
        "idempotency_key",
        "timeout",
    }
    assert first["idempotency_key"] == f"{run_id}:a" and first["attempt"] == 1


def test_push_failures_and_timeouts_count_for_the_breaker(api: httpx.Client, push_server) -> None:  # type: ignore[no-untyped-def]
    url, handler = push_server
    handler.mode = "fail"
    cap, name = f"down-{uuid.uuid4().hex[:6]}", f"down-{uuid.uuid4().hex[:6]}"
    spec = {
        "name": name,
        "url": url,
        "capabilities": [cap],
        "circuit_breaker": {"failures": 2, "cooldown": 60},
    }
    assert api.post("/api/v1/agents", json=spec).status_code == 201
    wf = {
        "name": "down",
        "tasks": [{"id": "a", "capability": cap, "retry": {"max_attempts": 2, "initial_delay": 0}}],
    }
    doc = wait_run(api, api.post("/api/v1/runs", json=wf).json()["run_id"])
    assert doc["status"] == "failed"
    assert "answered HTTP 500: the model is down" in doc["tasks"]["a"]["error"]
    agent = api.get(f"/api/v1/agents/{name}").json()
    assert agent["failed"] == 2 and agent["breaker_open"] is True
    handler.mode = "slow"
    api.delete(f"/api/v1/agents/{name}")
    assert api.post("/api/v1/agents", json={**spec, "name": name + "t"}).status_code == 201
    wf = {"name": "slow", "tasks": [{"id": "a", "capability": cap, "timeout": 0.5}]}
    doc = wait_run(api, api.post("/api/v1/runs", json=wf).json()["run_id"])
    assert doc["tasks"]["a"]["error"] == "timeout"


def test_a_redirect_inside_the_network_is_refused(api: httpx.Client, push_server) -> None:  # type: ignore[no-untyped-def]
    url, handler = push_server
    handler.mode = "redirect"
    cap, name = f"redir-{uuid.uuid4().hex[:6]}", f"redir-{uuid.uuid4().hex[:6]}"
    assert (
        api.post(
            "/api/v1/agents", json={"name": name, "url": url, "capabilities": [cap]}
        ).status_code
        == 201
    )
    doc = wait_run(
        api,
        api.post(
            "/api/v1/runs", json={"name": "r", "tasks": [{"id": "a", "capability": cap}]}
        ).json()["run_id"],
    )
    assert doc["status"] == "failed" and "link-local" in doc["tasks"]["a"]["error"]


# -- pull workers ---------------------------------------------------------------------------


class Worker:
    def __init__(self, server, folder: Path, name: str, cap: str, handler: str) -> None:  # type: ignore[no-untyped-def]
        (folder / "remote_handlers.py").write_text(HANDLERS)
        self.name = name
        self.err = folder / f"{name}.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "podium",
                "worker",
                "--server",
                server.url,
                "--key",
                server.keys["worker"],
                "--capabilities",
                cap,
                "--handler",
                f"remote_handlers:{handler}",
                "--name",
                name,
                "--capacity",
                "1",
                "--lease-ttl",
                "1.5",
            ],
            cwd=folder,
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=open(self.err, "w"),  # noqa: SIM115
        )

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.err.read_text()


def _registered(api: httpx.Client, name: str) -> bool:
    return api.get(f"/api/v1/agents/{name}").status_code == 200


def _running_on(api: httpx.Client, run_id: str, name: str) -> bool:
    t = api.get(f"/api/v1/runs/{run_id}").json()["tasks"]["t"]
    return t["status"] == "running" and t["agent"] == name


def _completions(api: httpx.Client, run_id: str) -> list[dict]:
    return [
        e for e in api.get(f"/api/v1/runs/{run_id}/logs").json() if e.get("status") == "completed"
    ]


def test_a_killed_worker_s_task_completes_on_another(server, api: httpx.Client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cap = f"hang-{uuid.uuid4().hex[:6]}"
    a = Worker(server, tmp_path, f"a-{cap}", cap, "first_hangs")
    b = None
    try:
        wait_for(lambda: _registered(api, a.name), 60, "worker a")
        run_id = api.post(
            "/api/v1/runs", json={"name": "k", "tasks": [{"id": "t", "capability": cap}]}
        ).json()["run_id"]
        wait_for(lambda: _running_on(api, run_id, a.name), 30, "the task to run on a")
        a.proc.send_signal(signal.SIGKILL)
        b = Worker(server, tmp_path, f"b-{cap}", cap, "first_hangs")
        doc = wait_run(api, run_id, 90)
        t = doc["tasks"]["t"]
        assert doc["status"] == "completed"
        assert (t["agent"], t["attempts"]) == (b.name, 2)
        assert t["result"] == {"pid": b.proc.pid, "attempt": 2}
        assert len(_completions(api, run_id)) == 1
    finally:
        a.stop()
        if b is not None:
            b.stop()


def test_a_frozen_worker_s_late_result_is_rejected(server, api: httpx.Client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cap = f"freeze-{uuid.uuid4().hex[:6]}"
    a = Worker(server, tmp_path, f"a-{cap}", cap, "first_freezes")
    b = None
    try:
        wait_for(lambda: _registered(api, a.name), 60, "worker a")
        run_id = api.post(
            "/api/v1/runs", json={"name": "f", "tasks": [{"id": "t", "capability": cap}]}
        ).json()["run_id"]
        wait_for(lambda: _running_on(api, run_id, a.name), 30, "the task to run on a")
        a.proc.send_signal(signal.SIGSTOP)  # frozen past its 1.5 s lease
        b = Worker(server, tmp_path, f"b-{cap}", cap, "first_freezes")
        doc = wait_run(api, run_id, 90)
        assert doc["tasks"]["t"]["agent"] == b.name and doc["tasks"]["t"]["attempts"] == 2
        a.proc.send_signal(signal.SIGCONT)  # wakes up with its first attempt's result
        time.sleep(4)  # its handler's sleep is over: it reports (rejected) or hears it lost
        log = a.stop()
        line = [ln for ln in log.splitlines() if "stopped:" in ln][-1]
        rejected = int(line.split(" rejected")[0].rsplit(" ", 1)[1])
        abandoned = int(line.split(" abandoned")[0].rsplit(" ", 1)[1])
        assert rejected + abandoned == 1, log
        completions = _completions(api, run_id)
        assert [(e["agent"], e["attempt"]) for e in completions] == [(b.name, 2)]
        assert api.get(f"/api/v1/runs/{run_id}").json()["tasks"]["t"]["result"]["pid"] == b.proc.pid
    finally:
        a.stop()
        if b is not None:
            b.stop()


def test_workers_vote_and_read_their_inbox(server, api: httpx.Client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cap = f"vote-{uuid.uuid4().hex[:6]}"
    ws = [Worker(server, tmp_path, f"{n}-{cap}", cap, "vote") for n in "xy"]
    try:
        for w in ws:
            wait_for(lambda w=w: _registered(api, w.name), 60, w.name)
        wf = {
            "name": "votes",
            "tasks": [
                {
                    "id": "v",
                    "capability": cap,
                    "pattern": "consensus",
                    "consensus": {"agents": 2, "key": "verdict"},
                }
            ],
        }
        doc = wait_run(api, api.post("/api/v1/runs", json=wf).json()["run_id"], 60)
        result = doc["tasks"]["v"]["result"]
        assert result["consensus"] is True and set(result["votes"]) == {w.name for w in ws}
        for vote in result["votes"].values():
            assert vote["heard"] and vote["heard"][0]["voted"].startswith("v/")
        listed = {a["name"]: a for a in api.get("/api/v1/agents").json()}
        assert listed[ws[0].name]["kind"] == "worker"
    finally:
        for w in ws:
            w.stop()
    wait_for(lambda: not _registered(api, ws[0].name), 30, "the worker to deregister")


def test_a_worker_survives_an_exception_it_cannot_describe(  # type: ignore[no-untyped-def]
    server, api: httpx.Client, tmp_path
) -> None:
    """A handler raising an exception whose ``__str__`` raises fails that attempt only: the
    worker reports it, stays alive, and runs the retry."""
    cap = f"unreadable-{uuid.uuid4().hex[:6]}"
    w = Worker(server, tmp_path, f"u-{cap}", cap, "unreadable")
    try:
        wait_for(lambda: _registered(api, w.name), 60, w.name)
        wf = {
            "name": "unreadable",
            "tasks": [{"id": "t", "capability": cap, "retry": {"max_attempts": 2}}],
        }
        doc = wait_run(api, api.post("/api/v1/runs", json=wf).json()["run_id"], 60)
        assert doc["tasks"]["t"]["status"] == "completed", doc["tasks"]["t"]
        assert doc["tasks"]["t"]["result"] == {"attempt": 2}
        retried = [
            e
            for e in api.get(f"/api/v1/runs/{doc['run_id']}/logs").json()
            if e.get("status") == "retrying"
        ]
        assert "Unreadable: <its message could not be read" in retried[0]["error"]
        assert w.proc.poll() is None  # still running
    finally:
        log = w.stop()
    assert "Traceback" not in log
