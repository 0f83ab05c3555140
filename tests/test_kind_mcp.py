"""``kind: mcp``: an MCP server written with the SDK (tests/_mcp_server.py), started by the
tests, over stdio and streamable HTTP on 127.0.0.1; tools as capabilities; a server killed
mid-call is restarted and the call made again."""

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

pytest.importorskip("mcp", reason="pip install -e '.[mcp]'")

import podium
from podium.agents.kinds.mcp import MCPAgent

SERVER = str(Path(__file__).with_name("_mcp_server.py"))
STDIO = [sys.executable, SERVER]


async def wait_until(cond, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_the_tools_of_a_stdio_server_are_capabilities() -> None:
    agent = MCPAgent(command=STDIO, name="calc")  # asks the server for its tools
    assert {"mcp.add", "mcp.profile", "mcp.fail", "mcp.slow"} <= set(agent.capabilities)
    orch = podium.Orchestrator()
    orch.register(agent)
    wf = podium.Workflow("w", on_failure="continue")
    wf.task("sum", capability="mcp.add", input={"a": 2, "b": 3})
    wf.task("who", capability="mcp.profile", input={"name": "ada"})
    wf.task("bad", capability="mcp.fail", input={"message": "no luck"})
    wf.task("wrong", capability="mcp.add", input=[2, 3])
    wf.task("pinned", agent="calc", input={"tool": "add", "arguments": {"a": 1, "b": 1}})
    try:
        result = await asyncio.wait_for(orch.run(wf), 120)
        assert result["sum"] == {"result": 5}  # the structured content
        assert result["who"]["name"] == "ada"  # JSON in a text block, parsed
        assert result["pinned"] == {"result": 2}
        err = result.tasks["bad"].error
        assert err.startswith("ToolError: tool 'fail' of MCP server `") and "no luck" in err
        assert "the arguments of MCP tool 'add', a mapping" in result.tasks["wrong"].error
        server_pid = result["who"]["pid"]
    finally:
        await orch.close()
    await wait_until(lambda: gone(server_pid))  # stopped by teardown


FLOW = """
name: mcp-flow
agents:
  - name: texts
    kind: mcp
    command: [{python}, {server}]
    tools: {{sum: add, describe: describe, whoami: pid}}
    deps_key: deps
tasks:
  - {{id: total, capability: sum, input: {{a: 40, b: 2}}}}
  - {{id: about, capability: describe, input: {{text: "a b c"}}, depends_on: [total]}}
  - {{id: me, capability: whoami}}
"""


def test_a_workflow_file_starts_the_server_for_the_run_and_stops_it(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.format(python=sys.executable, server=SERVER))
    wf = podium.load_workflow(flow)  # tools listed: the server is not asked at load time
    assert wf.agents[0].capabilities == ("sum", "describe", "whoami")
    result = podium.Orchestrator().run_sync(wf)
    assert result.ok, {t: r.error for t, r in result.tasks.items()}
    assert result["total"] == {"result": 42}
    assert result["about"] == {"result": "3 words after ['total']"}
    pid = result["me"]["result"]
    deadline = time.monotonic() + 60
    while not gone(pid):  # the run's end tore the agent down: the server stopped
        assert time.monotonic() < deadline, "the server outlived its run"
        time.sleep(0.05)

    flow.write_text(flow.read_text().replace("sum: add", "sum: ad"))
    with pytest.raises(podium.HandlerError) as e:
        podium.Orchestrator().run_sync(flow)
    assert "agent 'texts' failed to set up" in str(e.value)
    assert "has no tool 'ad'" in str(e.value) and "Did you mean 'add'?" in str(e.value)


async def test_a_server_killed_mid_call_is_restarted_and_the_call_made_again(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "in-flight"
    orch = podium.Orchestrator()
    agent = orch.register(MCPAgent(command=STDIO, name="slowpoke", tools=["slow"]))
    wf = podium.Workflow("w")
    wf.task("wait", capability="mcp.slow", input={"marker": str(marker)})
    try:
        run = asyncio.create_task(orch.run(wf))
        await wait_until(lambda: marker.exists() and marker.read_text())
        killed = int(marker.read_text())
        os.kill(killed, signal.SIGKILL)  # mid-call
        result = await asyncio.wait_for(run, 120)
        assert result.ok, result.tasks["wait"].error
        assert result["wait"]["result"] != killed  # answered by the restarted server
        assert result.tasks["wait"].attempts == 1 and agent.restarts == 1
    finally:
        await orch.close()


def _http_server(port: int = 0) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen(
        [sys.executable, SERVER, "http", str(port)], stdout=subprocess.PIPE, text=True
    )
    url = p.stdout.readline().strip()  # type: ignore[union-attr]
    assert url.startswith("http://127.0.0.1:"), url
    return p, url


async def test_a_streamable_http_server_killed_mid_call(tmp_path: Path) -> None:
    server, url = _http_server()
    orch = podium.Orchestrator()
    try:
        agent = orch.register(MCPAgent(url=url, name="remote"))
        assert "mcp.add" in agent.capabilities
        wf = podium.Workflow("w")
        wf.task("sum", capability="mcp.add", input={"a": 1, "b": 2})
        assert (await asyncio.wait_for(orch.run(wf), 120))["sum"] == {"result": 3}

        marker = tmp_path / "in-flight"
        wf = podium.Workflow("w")
        wf.task("wait", capability="mcp.slow", input={"marker": str(marker)})
        run = asyncio.create_task(orch.run(wf))
        await wait_until(lambda: marker.exists())
        server.kill()  # podium did not start it, so it cannot restart it: the task fails
        server.wait()
        result = await asyncio.wait_for(run, 120)
        error = result.tasks["wait"].error
        assert f"could not reach the MCP server {url}" in error, error

        port = int(url.rsplit(":", 1)[1].split("/")[0])
        server, url2 = _http_server(port)  # back on the same address: the agent reconnects
        assert url2 == url
        wf = podium.Workflow("w")
        wf.task("sum", capability="mcp.add", input={"a": 2, "b": 2})
        assert (await asyncio.wait_for(orch.run(wf), 120))["sum"] == {"result": 4}
    finally:
        await orch.close()
        server.kill()
        server.wait()


def test_a_server_is_given_exactly_one_way(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        textwrap.dedent("""
        name: w
        agents:
          - {name: both, kind: mcp, command: "python s.py", url: "http://x/mcp", tools: [a]}
        tasks: [{id: t, capability: mcp.a}]
        """)
    )
    with pytest.raises(podium.ValidationError) as e:
        podium.load_workflow(flow)
    assert "agent 'both'" in str(e.value) and "exactly one of 'command'" in str(e.value)
    with pytest.raises(podium.ValidationError, match="give exactly one of command="):
        MCPAgent(tools=["a"])


def test_a_server_that_cannot_start_says_so_when_its_tools_are_asked(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "name: w\nagents:\n  - {name: ghost, kind: mcp, command: [no-such-program-xyz]}\n"
        "tasks: [{id: t, capability: mcp.a}]\n"
    )
    with pytest.raises(podium.HandlerError) as e:
        podium.load_workflow(flow)
    msg = str(e.value)
    assert msg.startswith(f"{flow}: agent 'ghost': asking the MCP server for its tools failed")
    assert "could not start the MCP server `no-such-program-xyz`" in msg
    assert "list the tools in 'tools:'" in msg


def test_the_adapter_libraries_load_only_when_used() -> None:
    libraries = ("mcp", "langchain_core", "langgraph", "crewai", "autogen_agentchat", "openai")
    code = (
        "import sys, podium, podium.cli, podium.agents.kinds.mcp, "
        "podium.agents.kinds.langchain, podium.agents.kinds.crewai, "
        "podium.agents.kinds.autogen\n"
        f"print(sorted(m for m in {libraries!r} if m in sys.modules))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"
