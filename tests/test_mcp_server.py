"""``podium mcp``: an MCP client from the SDK drives podium through a whole run, over stdio
(podium mcp as the client's subprocess) and over streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="pip install -e '.[mcp]'")

from mcp import Client, StdioServerParameters

AGENTS = """
import asyncio


async def fetch(ctx):
    await asyncio.sleep(0.2)
    return {"pages": ctx.input["pages"]}


def count(ctx):
    return sum(r["pages"] for r in ctx.deps.values())
"""

FLOW = """
name: reading
agents:
  - {name: fetcher, capabilities: [fetch], handler: "reading_agents:fetch"}
  - {name: counter, capabilities: [count], handler: "reading_agents:count"}
tasks:
  - {id: a, capability: fetch, input: {pages: 3}}
  - {id: b, capability: fetch, input: {pages: 4}}
  - {id: total, capability: count, depends_on: [a, b]}
"""


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "reading_agents.py").write_text(AGENTS)
    (tmp_path / "flow.yaml").write_text(FLOW)
    (tmp_path / "bad.yaml").write_text(FLOW.replace("depends_on: [a, b]", "depends_on: [a, c]"))
    return tmp_path


def data(result: Any) -> Any:
    """A tool's answer: its structured content, else its text as JSON."""
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def drive(client: Client, tmp_path: Path) -> str:
    """A whole run through the tools, as an assistant would; returns the run id."""
    tools = {t.name for t in (await client.list_tools()).tools}
    assert tools >= {
        "validate_workflow", "run_workflow", "follow_run", "run_status", "run_report",
        "list_agents", "list_runs", "cancel_run",
    }  # fmt: skip

    checked = data(await client.call_tool("validate_workflow", {"path": "flow.yaml"}))
    assert checked["valid"] and set(checked["tasks"]) == {"a", "b", "total"}
    bad = data(await client.call_tool("validate_workflow", {"path": "bad.yaml"}))
    assert not bad["valid"] and "'c'" in bad["error"] and "bad.yaml" in bad["error"]
    inline = data(await client.call_tool("validate_workflow", {"workflow": FLOW}))
    assert inline["valid"]

    agents = data(await client.call_tool("list_agents", {"path": "flow.yaml"}))
    assert {a["name"] for a in agents["agents"]} == {"fetcher", "counter"}
    assert {"python", "langchain", "mcp", "crewai", "autogen"} <= set(agents["kinds"])

    started = data(await client.call_tool("run_workflow", {"path": "flow.yaml"}))
    run_id = started["run_id"]
    assert started["status"] == "running" and started["tasks"] == 3

    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    followed: dict[str, Any] = {"finished": False}
    while not followed["finished"]:
        result = await client.call_tool(
            "follow_run", {"run_id": run_id, "timeout": 30}, progress_callback=progress
        )
        followed = data(result)
    assert followed["status"] == "completed"
    assert followed["tasks"]["total"]["result"] == 7
    assert seen and all(total == 3 for _, total, _ in seen)

    status = data(await client.call_tool("run_status", {"run_id": run_id}))
    assert status["status"] == "completed" and status["tasks"]["a"]["result"] == {"pages": 3}

    report = data(await client.call_tool("run_report", {"run_id": run_id, "out": "report.html"}))
    assert report["failures"] == [] and {s["task"] for s in report["slowest"]} >= {"a", "b"}
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")

    runs = data(await client.call_tool("list_runs", {}))
    assert run_id in [r["run_id"] for r in runs["runs"]]

    missing = await client.call_tool("run_workflow", {"path": "nowhere.yaml"})
    assert missing.is_error and "nowhere.yaml: no such file" in missing.content[0].text
    unknown = await client.call_tool("run_status", {"run_id": "nope"})
    assert unknown.is_error and "no run with id 'nope'" in unknown.content[0].text
    return run_id


def _status(tmp_path: Path, run_id: str) -> dict[str, Any]:
    p = subprocess.run(
        [sys.executable, "-m", "podium", "status", run_id, "--db", "runs.db", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


async def test_an_assistant_drives_a_run_over_stdio(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "podium", "mcp", "--db", "runs.db"],
        cwd=folder,
        env=dict(os.environ),
    )
    async with Client(server, cache=None) as client:
        run_id = await asyncio.wait_for(drive(client, folder), 300)
    assert _status(folder, run_id)["status"] == "completed"  # recorded in the store


async def test_an_assistant_drives_a_run_over_http(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "podium", "mcp", "--transport", "http", "--port", "0",
         "--db", "runs.db"],
        cwd=folder,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        line = await asyncio.to_thread(proc.stderr.readline)  # type: ignore[union-attr]
        assert line.startswith("podium mcp: serving at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].strip()
        async with Client(url, cache=None) as client:
            run_id = await asyncio.wait_for(drive(client, folder), 300)
            waited = data(
                await client.call_tool("run_workflow", {"path": "flow.yaml", "wait": True})
            )
            assert waited["status"] == "completed" and waited["tasks"]["total"]["result"] == 7
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 60)
    assert code == 143  # stopped by SIGTERM, after closing the store
    assert _status(folder, run_id)["status"] == "completed"


SLOW = """
name: slow
agents:
  - {name: sleeper, capabilities: [sleep], handler: "reading_agents:sleep"}
tasks:
  - {id: nap, capability: sleep}
  - {id: after, capability: sleep, depends_on: [nap]}
"""


async def test_an_assistant_cancels_a_run_it_started(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    with (folder / "reading_agents.py").open("a") as f:
        f.write("\n\nasync def sleep(ctx):\n    await asyncio.sleep(600)\n")
    (folder / "slow.yaml").write_text(SLOW)
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "podium", "mcp", "--db", "runs.db"],
        cwd=folder,
        env=dict(os.environ),
    )

    async def go(client: Client) -> str:
        run_id = data(await client.call_tool("run_workflow", {"path": "slow.yaml"}))["run_id"]
        while (
            data(await client.call_tool("run_status", {"run_id": run_id}))["tasks"]["nap"]["status"]
            != "running"
        ):
            await asyncio.sleep(0.05)
        cancelling = data(await client.call_tool("cancel_run", {"run_id": run_id}))
        assert cancelling == {"run_id": run_id, "cancelling": True}
        followed = data(await client.call_tool("follow_run", {"run_id": run_id, "timeout": 60}))
        assert followed["finished"] and followed["status"] == "cancelled"
        assert followed["tasks"]["after"]["status"] == "skipped"
        again = await client.call_tool("cancel_run", {"run_id": run_id})
        assert again.is_error and "is not running in this server" in again.content[0].text
        return run_id

    async with Client(server, cache=None) as client:
        run_id = await asyncio.wait_for(go(client), 300)
    assert _status(folder, run_id)["status"] == "cancelled"  # recorded in the store


def test_podium_mcp_refuses_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = subprocess.run(
            [sys.executable, "-m", "podium", "mcp", "--transport", "http", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert p.returncode == 2, p.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in p.stderr and "Traceback" not in p.stderr
