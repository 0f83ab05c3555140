"""The command line against a server: `podium run --server`, runs/status/logs/report/cancel
with --server, and `podium agents ...` (subprocesses, as a user runs them)."""

from __future__ import annotations

import json

from _server import podium


def _env_args(server, role: str = "admin") -> list[str]:  # type: ignore[no-untyped-def]
    return ["--server", server.url, "--key", server.keys[role]]


def test_run_a_file_on_a_server(server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "name: cli-remote\ntasks:\n  - {id: a, capability: echo, input: 1}\n"
        "  - {id: b, capability: echo, depends_on: [a]}\n"
    )
    p = podium("run", str(flow), "--json", *_env_args(server, "operator"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["status"] == "completed" and doc["tasks"]["a"]["result"]["echo"] == 1
    assert f"started on {server.url}" in p.stderr
    run_id = doc["run_id"]
    p = podium("status", run_id, *_env_args(server, "viewer"))
    assert p.returncode == 0 and "completed" in p.stdout and "echo" in p.stdout
    p = podium("runs", "--json", "-n", "5", *_env_args(server, "viewer"))
    assert run_id in {r["run_id"] for r in json.loads(p.stdout)}
    p = podium("logs", run_id, "-t", "b", *_env_args(server, "viewer"))
    assert p.returncode == 0 and " b " in p.stdout and "completed" in p.stdout
    p = podium("report", run_id, "-o", str(tmp_path / "r.html"), *_env_args(server, "viewer"))
    assert p.returncode == 0 and "cli-remote" in (tmp_path / "r.html").read_text()
    p = podium("cancel", run_id, *_env_args(server, "operator"))
    assert p.returncode == 2 and "completed already" in p.stderr


def test_a_failing_remote_run_exits_1_and_bad_input_2(server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    flow = tmp_path / "flow.yaml"
    flow.write_text("name: f\ntasks:\n  - {id: a, capability: flaky}\n")
    p = podium("run", str(flow), *_env_args(server), cwd=tmp_path)
    assert p.returncode == 1 and "flaky the first time" in p.stdout
    flow.write_text("name: f\ntasks:\n  - {id: a, capability: nothing-has-it}\n")
    p = podium("run", str(flow), *_env_args(server), cwd=tmp_path)
    assert p.returncode == 2 and "no agent has capability 'nothing-has-it'" in p.stderr
    assert "Traceback" not in p.stderr
    p = podium("runs", "--server", server.url)
    assert p.returncode == 2 and "HTTP 401" in p.stderr and "--key" in p.stderr
    p = podium("runs", "--server", "http://127.0.0.1:9")
    assert p.returncode == 3 and "cannot reach the podium server" in p.stderr
    p = podium("runs")
    assert p.returncode == 2 and "--db" in p.stderr and "--server" in p.stderr


def test_agents_from_the_command_line(server) -> None:  # type: ignore[no-untyped-def]
    p = podium("agents", "list", *_env_args(server, "viewer"))
    assert p.returncode == 0 and "echo" in p.stdout and "pool-1" in p.stdout
    p = podium("agents", "pause", "flaky", "--json", *_env_args(server, "operator"))
    assert json.loads(p.stdout)["state"] == "paused"
    p = podium("agents", "resume", "flaky", "--json", *_env_args(server, "operator"))
    assert json.loads(p.stdout)["state"] == "idle"
    p = podium("agents", "scale", "pool", "--max", "5", "--json", *_env_args(server, "operator"))
    assert p.returncode == 0, p.stderr
    p = podium("agents", "pause", "flaky", *_env_args(server, "viewer"))
    assert p.returncode == 2 and "HTTP 403" in p.stderr
    p = podium("agents", "terminate", "ghost", *_env_args(server, "operator"))
    assert p.returncode == 2 and "no agent named 'ghost'" in p.stderr
