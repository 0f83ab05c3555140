"""``kind: autogen``: AutoGen agents and teams (the real autogen-agentchat and autogen-ext)
against the scripted chat-completions server on 127.0.0.1 (tests/llm_fixture.py)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("autogen_agentchat", reason="pip install -e '.[autogen]'")
pytest.importorskip("autogen_ext.models.openai", reason="pip install -e '.[autogen]'")

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_ext.models.openai import OpenAIChatCompletionClient
from pydantic import BaseModel

import podium
from llm_fixture import ChatServer, Reply
from podium.agents.kinds.autogen import AutoGenAgent

INFO = {
    "vision": False,
    "function_calling": True,
    "json_output": True,
    "structured_output": True,
    "family": "unknown",
}


def answer(body: dict) -> Reply:
    """Echo the first line of the last message, so a test sees what the agent was asked."""
    if body.get("response_format"):
        return Reply(text='{"ok": true, "reason": "sound"}')
    asked = (body["messages"][-1].get("content") or "").splitlines()
    return Reply(
        text=f"re {asked[0] if asked else ''}", usage={"prompt_tokens": 9, "completion_tokens": 3}
    )


@pytest.fixture(scope="module")
def server() -> Iterator[ChatServer]:
    with ChatServer(answer) as srv:
        yield srv


def client(srv: ChatServer, **kw) -> OpenAIChatCompletionClient:
    return OpenAIChatCompletionClient(
        model="m", base_url=srv.url, api_key="test", model_info=INFO, **kw
    )


def assistant(srv: ChatServer, name: str = "writer", **kw) -> AssistantAgent:
    return AssistantAgent(name, model_client=client(srv), system_message="You write.", **kw)


def sent(srv: ChatServer, since: int) -> list[list[str]]:
    return [[m.get("content") or "" for m in r["body"]["messages"]] for r in srv.requests[since:]]


def run(orch: podium.Orchestrator, wf: podium.Workflow) -> podium.RunResult:
    return asyncio.run(asyncio.wait_for(orch.run(wf), 120))


def test_an_assistant_gets_the_input_and_dependencies_and_returns_its_answer(
    server: ChatServer,
) -> None:
    orch = podium.Orchestrator()
    orch.register(lambda ctx: {"facts": ["a"]}, name="notes", capabilities=["notes"])
    agent = orch.register(AutoGenAgent(assistant(server), capabilities=["write"]))
    assert (agent.name, agent.capacity, agent.executor) == ("writer", 1, "async")
    wf = podium.Workflow("w")
    wf.task("notes", capability="notes")
    wf.task("post", capability="write", input="Write about owls", depends_on=["notes"])
    since = len(server.requests)
    r = orch.prepare(wf)
    result = asyncio.run(asyncio.wait_for(orch.execute(r), 120))
    assert result.ok, result.tasks["post"].error
    assert result["post"] == "re Write about owls"
    ((system, user),) = sent(server, since)
    assert system == "You write."
    assert user == (
        "Write about owls\n\nResults of the tasks this one depends on (JSON):\n"
        '{"notes": {"facts": ["a"]}}'
    )
    usage = {"calls": 1, "input_tokens": 9, "output_tokens": 3, "total_tokens": 12}
    assert result.stats["agents"]["writer"]["usage"] == usage
    (event,) = [e for e in r.events if e["event"] == "usage"]
    assert event["task"] == "post" and event["model"] == "m"


def test_a_team_returns_its_last_message_and_counts_every_call(server: ChatServer) -> None:
    team = RoundRobinGroupChat(
        [assistant(server, "writer"), assistant(server, "critic")],
        termination_condition=MaxMessageTermination(3),
    )
    orch = podium.Orchestrator()
    agent = orch.register(AutoGenAgent(team, name="pair", capabilities=["write"]))
    wf = podium.Workflow("w")
    wf.task("t", capability="write", input={"topic": "bats"})
    result = run(orch, wf)
    assert result.ok, result.tasks["t"].error
    assert result["t"] == 're re {"topic": "bats"}'  # the critic answered the writer
    assert agent.usage.to_dict() == {
        "calls": 2,
        "input_tokens": 18,
        "output_tokens": 6,
        "total_tokens": 24,
    }


def test_a_streaming_model_shows_its_chunks_and_reports_usage_when_asked(
    server: ChatServer,
) -> None:
    streaming = AssistantAgent(
        "talker",
        model_client=client(server, stream_options={"include_usage": True}),
        model_client_stream=True,
    )
    orch = podium.Orchestrator()
    agent = orch.register(AutoGenAgent(streaming, capabilities=["talk"]))
    wf = podium.Workflow("w")
    wf.task("t", capability="talk", input="tell me")
    r = orch.prepare(wf)
    result = asyncio.run(asyncio.wait_for(orch.execute(r), 120))
    assert result["t"] == "re tell me"
    assert r.streams["t"] == "re tell me"  # in pieces, through ctx.stream
    assert agent.usage.total_tokens == 12


def test_an_object_is_reset_between_tasks_unless_told_to_remember(server: ChatServer) -> None:
    remembered = {
        True: ["You write.", "second"],
        False: ["You write.", "first", "re first", "second"],
    }
    for reset, expected in remembered.items():
        orch = podium.Orchestrator()
        orch.register(AutoGenAgent(assistant(server), capabilities=["w"], reset=reset))
        wf = podium.Workflow("w")
        wf.task("a", capability="w", input="first")
        wf.task("b", capability="w", input="second", depends_on=["a"])
        since = len(server.requests)
        assert run(orch, wf).ok
        first, second = sent(server, since)
        assert first == ["You write.", "first"]
        assert second[: len(expected) - 1] == expected[:-1]
        assert second[-1].startswith("second\n\nResults of the tasks")


class Verdict(BaseModel):
    ok: bool
    reason: str


def test_structured_output_is_json(server: ChatServer) -> None:
    judge = AssistantAgent("judge", model_client=client(server), output_content_type=Verdict)
    orch = podium.Orchestrator()
    orch.register(AutoGenAgent(judge, capabilities=["judge"]))
    wf = podium.Workflow("w")
    wf.task("v", capability="judge", input="Is the plan sound?")
    result = run(orch, wf)
    assert result.ok, result.tasks["v"].error
    assert result["v"] == {"ok": True, "reason": "sound"}


AGENTS = """
import os

from autogen_agentchat.agents import AssistantAgent
from autogen_ext.models.openai import OpenAIChatCompletionClient

INFO = {"vision": False, "function_calling": True, "json_output": False, "family": "unknown",
        "structured_output": False}


def writer():
    client = OpenAIChatCompletionClient(
        model="m", base_url=os.environ["FIXTURE_URL"], api_key="test", model_info=INFO
    )
    return AssistantAgent("writer", model_client=client)


shared = writer() if "FIXTURE_URL" in os.environ else None
not_an_agent = 42


def not_a_factory():
    return "an agent, honest"
"""

FLOW = """
name: written
agents:
  - {name: writers, kind: autogen, agent: "ag_agents:writer", capabilities: [write]}
tasks:
  - {id: a, capability: write, input: herons}
  - {id: b, capability: write, input: egrets}
"""


def test_a_function_from_a_workflow_file_makes_one_per_task(
    server: ChatServer, tmp_path: Path
) -> None:
    (tmp_path / "ag_agents.py").write_text(AGENTS)
    (tmp_path / "flow.yaml").write_text(FLOW)
    env = {**os.environ, "FIXTURE_URL": server.url}
    p = subprocess.run(
        [sys.executable, "-m", "podium", "run", "flow.yaml", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["tasks"]["a"]["result"] == "re herons"
    assert doc["tasks"]["b"]["result"] == "re egrets"
    assert doc["stats"]["agents"]["writers"]["capacity"] == 10
    assert doc["stats"]["agents"]["writers"]["usage"]["calls"] == 2


def test_what_is_not_an_autogen_agent_is_refused_with_the_file_and_agent(
    server: ChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIXTURE_URL", server.url)
    (tmp_path / "ag_agents.py").write_text(AGENTS)
    bad = tmp_path / "bad.yaml"
    bad.write_text(FLOW.replace("ag_agents:writer", "ag_agents:not_an_agent"))
    with pytest.raises(podium.HandlerError) as e:
        podium.load_workflow(bad)
    assert str(e.value).startswith(
        f"{bad}: agent 'writers': agent 'ag_agents:not_an_agent' is a int, not an AutoGen agent"
    )
    assert e.value.field == "agent"

    bad.write_text(FLOW.replace("ag_agents:writer", "ag_agents:AssistantAgent"))
    with pytest.raises(podium.HandlerError, match="'ag_agents:AssistantAgent' is the class Ass"):
        podium.load_workflow(bad)

    bad.write_text(FLOW.replace("ag_agents:writer", "ag_agents:missing"))
    with pytest.raises(podium.HandlerError, match="module 'ag_agents' has no 'missing'"):
        podium.load_workflow(bad)

    bad.write_text(FLOW.replace("agent:", "agnet:"))
    with pytest.raises(podium.ValidationError, match="agent 'writers': field 'agent' is required"):
        podium.load_workflow(bad)

    bad.write_text(
        FLOW.replace("ag_agents:writer", "ag_agents:shared").replace(
            "write]", "write], capacity: 4"
        )
    )
    with pytest.raises(podium.ValidationError) as e:
        podium.load_workflow(bad)
    assert "agent 'writers': capacity 4: the AutoGen object 'ag_agents:shared'" in str(e.value)
    assert "runs one task at a time" in str(e.value) and e.value.field == "capacity"

    bad.write_text(FLOW.replace("ag_agents:writer", "ag_agents:not_a_factory"))
    result = podium.Orchestrator().run_sync(bad)
    assert not result.ok
    assert (
        "agent 'writers': agent 'ag_agents:not_a_factory' returned a str, not an AutoGen agent"
        in result.tasks["a"].error
    )


def test_a_task_that_times_out_cancels_the_run_and_the_object_goes_on(
    server: ChatServer,
) -> None:
    orch = podium.Orchestrator()
    orch.register(AutoGenAgent(assistant(server), capabilities=["w"]))
    slow = podium.Workflow("slow")
    slow.task("slow", capability="w", input="wait", timeout=0.5)
    server.script = [Reply(hang=True)]
    server.default = answer
    try:
        result = run(orch, slow)
    finally:
        server.script, server.default = answer, None
    assert result.tasks["slow"].status.value == "failed"
    assert result.tasks["slow"].error == "timeout"
    then = podium.Workflow("then")
    then.task("next", capability="w", input="then this")
    since = len(server.requests)
    assert run(orch, then)["next"] == "re then this"
    assert sent(server, since) == [["You write.", "then this"]]  # reset: nothing of 'wait'
