"""The REST API of `podium serve`, through real HTTP on 127.0.0.1 (the session's server)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from _server import wait_for, wait_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def api(server) -> httpx.Client:  # type: ignore[no-untyped-def]
    with httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server.keys['admin']}"},
        timeout=60,
    ) as c:
        yield c


def start(api: httpx.Client, wf: dict, **kw) -> str:  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/runs", json=wf, **kw)
    assert r.status_code == 201, r.text
    return r.json()["run_id"]


def test_health_and_readiness_need_no_credentials(server) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server.url + "/readyz").json()["status"] == "ready"


def test_a_run_from_json_goes_to_the_servers_agents(api: httpx.Client) -> None:
    wf = {
        "name": "api-json",
        "tasks": [
            {"id": "a", "capability": "echo", "input": {"n": 1}},
            {"id": "b", "capability": "echo", "depends_on": ["a"]},
            {"id": "c", "capability": "flaky", "retry": {"max_attempts": 2, "initial_delay": 0}},
        ],
    }
    run_id = start(api, wf)
    doc = wait_run(api, run_id)
    assert doc["status"] == "completed"
    assert doc["tasks"]["a"]["result"] == {"echo": {"n": 1}, "deps": {}}
    assert doc["tasks"]["b"]["result"]["deps"] == {"a": {"echo": {"n": 1}, "deps": {}}}
    assert doc["tasks"]["c"]["attempts"] == 2
    light = api.get(f"/api/v1/runs/{run_id}", params={"tasks": False}).json()
    assert "tasks" not in light and light["counts"]["completed"] == 3
    full = api.get(f"/api/v1/runs/{run_id}").json()
    full.pop("tasks")
    assert light == full  # the finished run's header comes from its row, the same as in full
    graph = api.get(f"/api/v1/runs/{run_id}/graph").text
    assert graph.startswith("%% workflow: api-json") and "classDef completed" in graph
    logs = api.get(f"/api/v1/runs/{run_id}/logs", params={"task": "c"}).json()
    assert [e["status"] for e in logs] == ["running", "retrying", "running", "completed"]
    html = api.get(f"/api/v1/runs/{run_id}/report")
    assert html.headers["content-type"].startswith("text/html") and "api-json" in html.text


def test_a_run_from_an_uploaded_yaml_file(api: httpx.Client) -> None:
    text = "name: uploaded\ntasks:\n  - {id: x, capability: echo, input: 7}\n"
    r = api.post("/api/v1/runs/upload", files={"file": ("flow.yaml", text)})
    assert r.status_code == 201, r.text
    doc = wait_run(api, r.json()["run_id"])
    assert doc["workflow"] == "uploaded" and doc["tasks"]["x"]["result"]["echo"] == 7
    bad = api.post("/api/v1/runs/upload", files={"file": ("flow.yaml", "name: x\ntasks: [\n")})
    assert bad.status_code == 422 and "flow.yaml:" in bad.json()["message"]


def test_invalid_workflows_are_422_naming_the_field(api: httpx.Client) -> None:
    r = api.post("/api/v1/runs", json={"name": "x", "tasks": [{"id": "a", "capabilty": "echo"}]})
    assert r.status_code == 422
    assert r.json()["message"] == "task 'a': unknown field 'capabilty'. Did you mean 'capability'?"
    r = api.post("/api/v1/runs", json={"name": "x", "tasks": [{"id": "a", "capability": "nope"}]})
    assert r.status_code == 422 and r.json()["field"] == "capability"
    r = api.post("/api/v1/runs", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == "body"


def test_a_submitted_workflow_may_not_name_code(api: httpx.Client) -> None:
    wf = {
        "name": "evil",
        "agents": [{"name": "sh", "capabilities": ["sh"], "handler": "os:system"}],
        "tasks": [{"id": "a", "capability": "sh", "input": "id"}],
    }
    r = api.post("/api/v1/runs", json=wf)
    assert r.status_code == 422
    doc = r.json()
    assert doc["field"] == "agents.handler" and "may not name code to import" in doc["message"]
    wf = {
        "name": "evil2",
        "tasks": [
            {
                "id": "v",
                "capability": "echo",
                "pattern": "consensus",
                "consensus": {"normalize": "os:getcwd"},
            }
        ],
    }
    r = api.post("/api/v1/runs", json=wf)
    assert r.status_code == 422 and "may not name code to import" in r.json()["message"]


async def test_one_idempotency_key_starts_one_run(server) -> None:  # type: ignore[no-untyped-def]
    key = f"idem-{uuid.uuid4().hex}"
    wf = {"name": "idempotent", "tasks": [{"id": "a", "capability": "echo"}]}
    headers = {"Authorization": f"Bearer {server.keys['operator']}", "Idempotency-Key": key}
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as c:
        answers = await asyncio.gather(
            *(c.post("/api/v1/runs", json=wf, headers=headers) for _ in range(100))
        )
        assert {r.status_code for r in answers} <= {200, 201}
        assert sum(r.status_code == 201 for r in answers) == 1
        assert len({r.json()["run_id"] for r in answers}) == 1
        found = await c.get("/api/v1/runs", params={"workflow": "idempotent"}, headers=headers)
        assert len(found.json()["runs"]) == 1


def test_runs_are_listed_filtered_and_paged(api: httpx.Client) -> None:
    name = f"paged-{uuid.uuid4().hex[:6]}"
    ids = [
        start(api, {"name": name, "tasks": [{"id": "a", "capability": "echo"}]}) for _ in range(3)
    ]
    for run_id in ids:
        wait_run(api, run_id)
    page = api.get("/api/v1/runs", params={"workflow": name, "limit": 2}).json()
    assert len(page["runs"]) == 2 and page["next_offset"] == 2
    rest = api.get("/api/v1/runs", params={"workflow": name, "limit": 2, "offset": 2}).json()
    assert len(rest["runs"]) == 1 and rest["next_offset"] is None
    shown = {r["run_id"] for r in page["runs"] + rest["runs"]}
    assert shown == set(ids)
    done = api.get("/api/v1/runs", params={"workflow": name, "status": "completed"}).json()
    assert len(done["runs"]) == 3
    assert api.get("/api/v1/runs", params={"since": "not a date"}).status_code == 422


def test_cancel_then_resume_a_run(api: httpx.Client) -> None:
    wf = {"name": "cancel-me", "tasks": [{"id": "s", "capability": "slow", "input": {"sleep": 30}}]}
    run_id = start(api, wf)
    wait_for(
        lambda: api.get(f"/api/v1/runs/{run_id}").json()["counts"]["running"] == 1,
        what="the task to run",
    )
    assert api.post(f"/api/v1/runs/{run_id}/cancel").json()["status"] == "cancelled"
    doc = wait_run(api, run_id)
    assert doc["status"] == "cancelled" and doc["tasks"]["s"]["status"] == "cancelled"
    again = api.post(f"/api/v1/runs/{run_id}/cancel")
    assert again.status_code == 409 and "cancelled already" in again.json()["message"]
    assert api.post(f"/api/v1/runs/{run_id}/resume").json()["status"] == "running"
    assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 200
    assert api.get("/api/v1/runs/nope-nope").status_code == 404


def test_a_task_for_a_capability(api: httpx.Client) -> None:
    r = api.post("/api/v1/tasks", json={"capability": "echo", "input": [1, 2], "wait": 30})
    assert r.status_code == 201
    doc = r.json()
    assert doc["status"] == "completed" and doc["result"]["echo"] == [1, 2]
    assert api.get(f"/api/v1/tasks/{doc['task_id']}").json()["result"]["echo"] == [1, 2]
    r = api.post("/api/v1/tasks", json={"capability": "echo", "agent": "echo"})
    assert r.status_code == 422 and r.json()["field"] == "capability"


def test_agents_are_listed_paused_resumed_and_scaled(api: httpx.Client) -> None:
    names = {a["name"] for a in api.get("/api/v1/agents").json()}
    assert {"echo", "slow", "flaky", "pool-1"} <= names
    echo = api.get("/api/v1/agents/echo").json()
    assert echo["capabilities"] == ["echo"] and echo["capacity"] == 64
    assert api.post("/api/v1/agents/slow/pause").json()["state"] == "paused"
    run_id = start(api, {"name": "paused", "tasks": [{"id": "a", "capability": "slow"}]})
    assert api.get(f"/api/v1/runs/{run_id}").json()["counts"]["ready"] == 1
    assert api.post("/api/v1/agents/slow/resume").json()["state"] in ("idle", "running")
    assert wait_run(api, run_id)["status"] == "completed"
    scaled = api.post("/api/v1/agents/pool/scale", json={"min": 2, "max": 4}).json()
    assert scaled["pool"] == "pool"
    names = {a["name"] for a in api.get("/api/v1/agents").json()}
    assert {"pool-1", "pool-2"} <= names
    assert api.post("/api/v1/agents/echo/scale", json={"capacity": 32}).json()["capacity"] == 32
    r = api.post("/api/v1/agents/echo/scale", json={"min": 2})
    assert r.status_code == 422 and "not a pool" in r.json()["message"]
    assert api.get("/api/v1/agents/ghost").status_code == 404


def test_messages_reach_an_agents_inbox(api: httpx.Client) -> None:
    r = api.post("/api/v1/agents/echo/messages", json={"payload": {"hi": 1}, "sender": "me"})
    assert r.status_code == 202
    got = api.get("/api/v1/agents/echo/messages", params={"wait": 5}).json()
    assert [(m["sender"], m["payload"]) for m in got] == [("me", {"hi": 1})]
    assert api.get("/api/v1/agents/echo/messages").json() == []


def test_stats_and_metrics(api: httpx.Client) -> None:
    run_id = start(api, {"name": "metered", "tasks": [{"id": "a", "capability": "echo"}]})
    wait_run(api, run_id)
    stats = api.get("/api/v1/stats").json()
    assert stats["agents"] >= 4 and stats["completed_tasks"] >= 1 and "success_rate" in stats

    def metric() -> str | None:
        text = api.get("/metrics").text
        return text if 'podium_task_transitions_total{status="completed"}' in text else None

    text = wait_for(metric, what="the metrics to count a completed task")
    for name in (
        "podium_runs_total",
        "podium_queue_depth",
        "podium_agent_load",
        "podium_task_duration_seconds_bucket",
        "podium_tasks",
    ):
        assert name in text, name


def _sse(server, params: dict, headers: dict, want: int) -> list[dict]:  # type: ignore[no-untyped-def]
    events = []
    hdrs = {"Authorization": f"Bearer {server.keys['viewer']}", **headers}
    with httpx.stream(
        "GET", server.url + "/api/v1/events", params=params, headers=hdrs, timeout=30
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        event_id = None
        for line in resp.iter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                events.append({"_id": event_id, **json.loads(line[6:])})
                if len(events) >= want:
                    break
    return events


def test_the_event_stream_resumes_from_last_event_id(server, api: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    wf = {"name": "streamed", "tasks": [{"id": f"t{i}", "capability": "echo"} for i in range(3)]}
    # an id from before the run: the stream replays what followed it, then goes on live
    first = _sse(server, {}, {"Last-Event-ID": "0"}, 1)[0]["_id"]
    run_id = start(api, wf)
    wait_run(api, run_id)
    events = _sse(server, {"run": run_id}, {"Last-Event-ID": str(first)}, 7)
    tasks = [e for e in events if e.get("task")]
    assert {(e["task"], e["status"]) for e in tasks} >= {(f"t{i}", "completed") for i in range(3)}
    assert all(e["run_id"] == run_id for e in events)
    assert [e["_id"] for e in events] == sorted(e["_id"] for e in events)
    assert events[-1]["status"] == "completed"  # the run's own end
    later = _sse(server, {"run": run_id}, {"Last-Event-ID": str(events[2]["_id"])}, 4)
    assert [e["_id"] for e in later] == [e["_id"] for e in events[3:]]
