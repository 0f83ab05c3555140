"""``kind: crewai``: CrewAI crews and agents (the real package) against the scripted
chat-completions server on 127.0.0.1 (tests/llm_fixture.py)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# CrewAI sends telemetry to its servers (offline here) and keeps a folder per project name
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_STORAGE_DIR", "podium-tests")

pytest.importorskip("crewai", reason="pip install -e '.[crewai]'")

from crewai import LLM, Crew, Task
from crewai import Agent as CrewAgent
from pydantic import BaseModel

import podium
from llm_fixture import ChatServer, Reply
from podium.agents.kinds.crewai import CrewAIAgent


def answer(body: dict) -> Reply:
    """What a ReAct-prompted model says: the last line of the request, as the final answer."""
    asked = body["messages"][-1]["content"]
    if "Current Task: Judge" in asked:
        text = 'Thought: I now know the final answer\nFinal Answer: {"ok": true, "reason": "sound"}'
        return Reply(text=text, usage={"prompt_tokens": 11, "completion_tokens": 7})
    line = next((ln for ln in asked.splitlines() if ln.startswith(("Current Task:", "Q:"))), asked)
    return Reply(
        text=f"Thought: I now know the final answer\nFinal Answer: re {line.strip()}",
        usage={"prompt_tokens": 11, "completion_tokens": 7},
    )


@pytest.fixture(scope="module")
def server() -> Iterator[ChatServer]:
    with ChatServer(answer) as srv:
        yield srv


def llm(srv: ChatServer) -> LLM:
    return LLM(model="m", provider="openai", base_url=srv.url, api_key="test")


def crew(srv: ChatServer, description: str = "Write about {topic}; notes: {deps}") -> Crew:
    writer = CrewAgent(role="Writer", goal="Write clearly", backstory="A writer.", llm=llm(srv))
    task = Task(description=description, expected_output="one line", agent=writer)
    return Crew(agents=[writer], tasks=[task], name="writers")


def prompts(srv: ChatServer, since: int) -> list[str]:
    return [r["body"]["messages"][-1]["content"] for r in srv.requests[since:]]


def test_a_crew_gets_the_input_and_dependencies_and_returns_its_answer(
    server: ChatServer,
) -> None:
    orch = podium.Orchestrator()
    orch.register(lambda ctx: {"facts": ["a", "b"]}, name="notes", capabilities=["notes"])
    agent = orch.register(CrewAIAgent(crew(server), capabilities=["write"]))
    assert agent.name == "writers" and agent.executor == "async"
    wf = podium.Workflow("w")
    wf.task("notes", capability="notes")
    wf.task("post", capability="write", input={"topic": "owls"}, depends_on=["notes"])
    since = len(server.requests)
    r = orch.prepare(wf)
    result = asyncio.run(asyncio.wait_for(orch.execute(r), 120))
    assert result.ok, result.tasks["post"].error
    (prompt,) = prompts(server, since)
    assert 'Current Task: Write about owls; notes: {"notes": {"facts": ["a", "b"]}}' in prompt
    assert result["post"].startswith("re Current Task: Write about owls")
    usage = {"calls": 1, "input_tokens": 11, "output_tokens": 7, "total_tokens": 18}
    assert result.stats["agents"]["writers"]["usage"] == usage
    assert result.tasks["post"].usage["total_tokens"] == 18
    (event,) = [e for e in r.events if e["event"] == "usage"]
    assert event["task"] == "post" and event["model"] == "m"


def test_tasks_at_once_each_run_their_own_copy_and_count_their_own_tokens(
    server: ChatServer,
) -> None:
    orch = podium.Orchestrator()
    agent = orch.register(CrewAIAgent(crew(server, "Write about {topic}"), capabilities=["w"]))
    wf = podium.Workflow("w")
    for i in range(3):
        wf.task(f"t{i}", capability="w", input={"topic": f"topic {i}"})
    result = orch.run_sync(wf)
    assert result.ok
    assert [result[f"t{i}"] for i in range(3)] == [
        f"re Current Task: Write about topic {i}" for i in range(3)
    ]
    assert [result.tasks[f"t{i}"].usage["total_tokens"] for i in range(3)] == [18, 18, 18]
    assert agent.usage.to_dict() == {
        "calls": 3,
        "input_tokens": 33,
        "output_tokens": 21,
        "total_tokens": 54,
    }


class Verdict(BaseModel):
    ok: bool
    reason: str


def test_a_crewai_agent_takes_one_message_and_structured_output_is_json(
    server: ChatServer,
) -> None:
    orch = podium.Orchestrator()
    orch.register(lambda ctx: 42, name="n", capabilities=["n"])
    solo = CrewAgent(role="Checker", goal="Check", backstory="A checker.", llm=llm(server))
    orch.register(CrewAIAgent(solo, capabilities=["check"]))
    verdict = Task(
        description="Judge {topic}",
        expected_output="a verdict",
        agent=solo,
        output_pydantic=Verdict,
    )
    judged = Crew(agents=[solo], tasks=[verdict])
    orch.register(CrewAIAgent(judged, name="judge", capabilities=["judge"]))
    wf = podium.Workflow("w")
    wf.task("n", capability="n")
    wf.task("q", capability="check", input="Q: is it fine?", depends_on=["n"])
    wf.task("v", capability="judge", input={"topic": "the plan"})
    since = len(server.requests)
    result = orch.run_sync(wf)
    assert result.ok, {t: result.tasks[t].error for t in "nqv"}
    assert result["q"] == "re Q: is it fine?"
    assert any(
        'Q: is it fine?\n\nResults of the tasks this one depends on (JSON):\n{"n": 42}' in p
        for p in prompts(server, since)
    )
    assert result["v"] == {"ok": True, "reason": "sound"}


def test_a_streaming_crew_shows_its_text_live(server: ChatServer) -> None:
    streaming = crew(server, "Write about {topic}")
    streaming.stream = True
    orch = podium.Orchestrator()
    orch.register(CrewAIAgent(streaming, capabilities=["w"]))
    wf = podium.Workflow("w")
    wf.task("t", capability="w", input={"topic": "wrens"})
    r = orch.prepare(wf)
    result = asyncio.run(asyncio.wait_for(orch.execute(r), 120))
    assert result.ok, result.tasks["t"].error
    assert result["t"] == "re Current Task: Write about wrens"
    assert r.streams["t"].endswith("Final Answer: re Current Task: Write about wrens")


def test_a_function_makes_a_fresh_crew_for_every_task(server: ChatServer) -> None:
    made = []

    def make() -> Crew:
        made.append(1)
        return crew(server, "Write about {input}")

    orch = podium.Orchestrator()
    agent = orch.register(CrewAIAgent(make, capabilities=["w"]))
    assert agent.name == "make"
    wf = podium.Workflow("w")
    wf.task("a", capability="w", input="bats")
    wf.task("b", capability="w", input="moths")
    result = orch.run_sync(wf)
    assert result["a"] == "re Current Task: Write about bats"
    assert result["b"] == "re Current Task: Write about moths"
    assert len(made) == 2


AGENTS = """
import os

from crewai import LLM, Agent, Crew, Task

llm = LLM(model="m", provider="openai", base_url=os.environ["FIXTURE_URL"], api_key="test")
writer = Agent(role="Writer", goal="Write", backstory="A writer.", llm=llm, verbose=True)
crew = Crew(
    agents=[writer],
    tasks=[Task(description="Write about {topic}", expected_output="a line", agent=writer)],
    verbose=True,
)
not_a_crew = 42


def not_a_factory():
    return "a crew, honest"
"""

FLOW = """
name: written
agents:
  - {name: writers, kind: crewai, crew: "crew_agents:crew", capabilities: [write]}
tasks:
  - {id: post, capability: write, input: {topic: herons}}
"""


def test_podium_run_keeps_stdout_for_its_json(server: ChatServer, tmp_path: Path) -> None:
    (tmp_path / "crew_agents.py").write_text(AGENTS)
    (tmp_path / "flow.yaml").write_text(FLOW)
    env = {**os.environ, "FIXTURE_URL": server.url}
    env.pop("CREWAI_STORAGE_DIR")  # a project CrewAI has never seen: it would ask about traces
    p = subprocess.run(
        [sys.executable, "-m", "podium", "run", "flow.yaml", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)  # a verbose crew's panels went to stderr
    assert doc["tasks"]["post"]["result"] == "re Current Task: Write about herons"
    assert doc["stats"]["agents"]["writers"]["usage"]["total_tokens"] == 18
    # what the verbose crew printed is kept: on stderr, or with its task when podium captured it
    kept = p.stderr + json.dumps(doc["tasks"]["post"].get("logs", []))
    assert "Writer" in kept


def test_what_is_not_a_crew_is_refused_with_the_file_and_agent(
    server: ChatServer, tmp_path: Path
) -> None:
    os.environ["FIXTURE_URL"] = server.url
    (tmp_path / "crew_agents.py").write_text(AGENTS)
    bad = tmp_path / "bad.yaml"
    bad.write_text(FLOW.replace("crew_agents:crew", "crew_agents:not_a_crew"))
    with pytest.raises(podium.HandlerError) as e:
        podium.load_workflow(bad)
    assert str(e.value).startswith(
        f"{bad}: agent 'writers': crew 'crew_agents:not_a_crew' is a int, not a CrewAI Crew"
    )
    assert e.value.field == "crew"

    bad.write_text(FLOW.replace("crew_agents:crew", "crew_agents:missing"))
    with pytest.raises(podium.HandlerError, match="module 'crew_agents' has no 'missing'"):
        podium.load_workflow(bad)

    bad.write_text(FLOW.replace("crew:", "crow:"))
    with pytest.raises(podium.ValidationError, match="agent 'writers': field 'crew' is required"):
        podium.load_workflow(bad)

    bad.write_text(FLOW.replace("crew_agents:crew", "crew_agents:not_a_factory"))
    result = podium.Orchestrator().run_sync(bad)
    assert not result.ok
    assert (
        "agent 'writers': crew 'crew_agents:not_a_factory' returned a str, not a CrewAI Crew"
        in result.tasks["post"].error
    )


def test_a_failing_model_fails_the_task_with_its_reason_and_it_is_retried(
    server: ChatServer,
) -> None:
    orch = podium.Orchestrator()
    orch.register(CrewAIAgent(crew(server, "Write about {topic}"), capabilities=["w"]))
    wf = podium.Workflow("w")
    wf.task("t", capability="w", input={"topic": "rain"}, retry={"max_attempts": 2})
    server.script = lambda body: Reply(status=400, body={"error": {"message": "no such model"}})
    try:
        result = asyncio.run(asyncio.wait_for(orch.run(wf), 120))
    finally:
        server.script = answer
    assert not result.ok
    assert result.tasks["t"].attempts == 2
    assert "no such model" in result.tasks["t"].error
    printed = [text for _, _, stream, text in result.tasks["t"].logs if stream == "stdout"]
    assert any("An unknown error occurred" in line for line in printed)  # CrewAI's, kept
