"""``kind: langchain``: LangChain Runnables and LangGraph graphs run as agents, with the real
packages (no LLM: `_lc_fakes.ScriptedChat` answers from a script)."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("langchain_core", reason="pip install -e '.[langchain]'")

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel

import podium
from _lc_fakes import ScriptedChat
from podium.agents.kinds.langchain import LangChainAgent


def run(orch: podium.Orchestrator, wf: podium.Workflow) -> podium.RunResult:
    return asyncio.run(asyncio.wait_for(orch.run(wf), 60))


def test_a_runnable_lambda_gets_the_input_and_the_dependencies_results() -> None:
    orch = podium.Orchestrator()
    orch.register(lambda ctx: {"n": 3}, name="count", capabilities=["count"])
    seen = []

    def describe(payload: dict) -> str:
        seen.append(payload)
        return f"{payload['word']} x{payload['deps']['count']['n']}"

    agent = orch.register(LangChainAgent(RunnableLambda(describe), capabilities=["describe"]))
    assert agent.name == "describe"  # the Runnable's name
    wf = podium.Workflow("w")
    wf.task("count", capability="count")
    wf.task("say", capability="describe", input={"word": "hip"}, depends_on=["count"])
    result = run(orch, wf)
    assert result.ok, result.tasks["say"].error
    assert result["say"] == "hip x3"
    assert seen == [{"word": "hip", "deps": {"count": {"n": 3}}}]


def test_inputs_without_dependencies_pass_as_they_are_and_others_are_wrapped() -> None:
    orch = podium.Orchestrator()
    orch.register(lambda ctx: 1, name="one", capabilities=["one"])
    echo = orch.register(LangChainAgent(lambda x: x, name="echo", capabilities=["echo"]))
    plain = orch.register(
        LangChainAgent(lambda x: x, name="plain", capabilities=["plain"], deps_key=None)
    )
    wf = podium.Workflow("w")
    wf.task("one", capability="one")
    wf.task("text", capability="echo", input="just text")
    wf.task("wrapped", capability="echo", input="text", depends_on=["one"])
    wf.task("none", capability="echo", depends_on=["one"])
    wf.task("alone", capability="plain", input=[1, 2], depends_on=["one"])
    result = run(orch, wf)
    assert result["text"] == "just text"
    assert result["wrapped"] == {"input": "text", "deps": {"one": 1}}
    assert result["none"] == {"deps": {"one": 1}}
    assert result["alone"] == [1, 2]
    assert echo.executor == plain.executor == "async"


class Verdict(BaseModel):
    ok: bool
    reasons: list[str]


def test_outputs_are_made_json() -> None:
    def make(_: object) -> dict:
        return {
            "message": AIMessage("hi", name="bot"),
            "history": (HumanMessage("q"),),
            "docs": [Document("text", metadata={"page": 2})],
            "verdict": Verdict(ok=True, reasons=["fine"]),
        }

    orch = podium.Orchestrator()
    orch.register(LangChainAgent(make, name="maker", capabilities=["make"]))
    wf = podium.Workflow("w")
    wf.task("m", capability="make")
    result = run(orch, wf)
    assert result.ok, result.tasks["m"].error
    assert result["m"] == {
        "message": {"type": "ai", "content": "hi", "name": "bot"},
        "history": [{"type": "human", "content": "q"}],
        "docs": [{"page_content": "text", "metadata": {"page": 2}}],
        "verdict": {"ok": True, "reasons": ["fine"]},
    }


def test_a_chat_chain_streams_its_tokens_and_records_its_usage() -> None:
    chain = ChatPromptTemplate.from_messages([("human", "{question}")]) | ScriptedChat()
    orch = podium.Orchestrator()
    agent = orch.register(LangChainAgent(chain, name="asker", capabilities=["ask"]))
    wf = podium.Workflow("w")
    wf.task("ask", capability="ask", input={"question": "what jumps over the dog"})
    r = orch.prepare(wf)

    async def go() -> podium.RunResult:
        return await asyncio.wait_for(orch.execute(r), 60)

    result = asyncio.run(go())
    assert result.ok, result.tasks["ask"].error
    assert result["ask"]["type"] == "ai" and result["ask"]["content"] == "the quick brown fox"
    assert result["ask"]["usage_metadata"]["output_tokens"] == 4
    assert r.streams["ask"] == "the quick brown fox"  # token by token, through ctx.stream
    usage = {"calls": 1, "input_tokens": 5, "output_tokens": 4, "total_tokens": 9}
    assert agent.stats()["usage"] == usage
    assert result.stats["agents"]["asker"]["usage"] == usage
    (event,) = [e for e in r.events if e["event"] == "usage"]
    assert event["task"] == "ask" and event["model"] == "scripted" and event["total_tokens"] == 9


def test_a_sync_step_calling_a_model_streams_from_its_thread() -> None:
    chain = ChatPromptTemplate.from_messages([("human", "{question}")]) | ScriptedChat()
    step = RunnableLambda(lambda x: chain.invoke(x).content)  # sync: runs in a thread
    orch = podium.Orchestrator()
    agent = orch.register(LangChainAgent(step, name="sync", capabilities=["ask"]))
    wf = podium.Workflow("w")
    wf.task("ask", capability="ask", input={"question": "q"})
    r = orch.prepare(wf)
    result = asyncio.run(asyncio.wait_for(orch.execute(r), 60))
    assert result["ask"] == "the quick brown fox"
    assert r.streams["ask"] == "the quick brown fox"
    assert agent.usage.total_tokens == 5


def test_stream_false_shows_nothing_but_still_counts() -> None:
    chain = ChatPromptTemplate.from_messages([("human", "{question}")]) | ScriptedChat()
    orch = podium.Orchestrator()
    agent = orch.register(LangChainAgent(chain, name="quiet", capabilities=["ask"], stream=False))
    wf = podium.Workflow("w")
    wf.task("ask", capability="ask", input={"question": "q"})
    r = orch.prepare(wf)
    result = asyncio.run(asyncio.wait_for(orch.execute(r), 60))
    assert result.ok
    assert not getattr(r, "streams", None)
    assert agent.usage.calls == 1


GRAPH = """
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    text: str
    deps: dict
    words: int
    verdict: str


def count(state: State) -> State:
    return {"words": len(state["text"].split())}


async def judge(state: State) -> State:
    prefix = state.get("deps", {}).get("fetch", {}).get("source", "?")
    return {"verdict": f"{prefix}: {'long' if state['words'] > 3 else 'short'}"}


builder = StateGraph(State)
builder.add_node("count", count)
builder.add_node("judge", judge)
builder.add_edge(START, "count")
builder.add_edge("count", "judge")
builder.add_edge("judge", END)
graph = builder.compile()

not_a_runnable = 42
"""

FLOW = """
name: graded
agents:
  - {name: fetcher, capabilities: [fetch], handler: "graph_agents:fetch"}
  - {name: grader, kind: langchain, runnable: "graph_agents:graph", capabilities: [grade]}
tasks:
  - {id: fetch, capability: fetch}
  - {id: grade, capability: grade, input: {text: "one two three four five"}, depends_on: [fetch]}
"""


def _graph_folder(tmp_path: Path) -> Path:
    (tmp_path / "graph_agents.py").write_text(
        GRAPH + "\n\ndef fetch(ctx):\n    return {'source': 'web'}\n"
    )
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    return flow


def test_a_langgraph_graph_from_a_workflow_file(tmp_path: Path) -> None:
    flow = _graph_folder(tmp_path)
    result = podium.Orchestrator().run_sync(flow)
    assert result.ok, result.tasks["grade"].error
    assert result["grade"] == {
        "text": "one two three four five",
        "deps": {"fetch": {"source": "web"}},
        "words": 5,
        "verdict": "web: long",
    }


def test_podium_run_of_a_langgraph_workflow(tmp_path: Path) -> None:
    flow = _graph_folder(tmp_path)
    p = subprocess.run(
        [sys.executable, "-m", "podium", "run", str(flow), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["tasks"]["grade"]["result"]["verdict"] == "web: long"


def test_a_runnable_that_is_not_one_is_refused_with_the_file_and_agent(tmp_path: Path) -> None:
    _graph_folder(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        textwrap.dedent("""
        name: bad
        agents:
          - {name: g, kind: langchain, runnable: "graph_agents:not_a_runnable", capabilities: [x]}
        tasks: [{id: a, capability: x}]
        """)
    )
    with pytest.raises(podium.HandlerError) as e:
        podium.load_workflow(bad)
    msg = str(e.value)
    assert f"{bad}: agent 'g': runnable 'graph_agents:not_a_runnable' is a int" in msg
    assert "not a LangChain Runnable" in msg and e.value.field == "runnable"

    bad.write_text(bad.read_text().replace("not_a_runnable", "missing"))
    with pytest.raises(podium.HandlerError, match="module 'graph_agents' has no 'missing'"):
        podium.load_workflow(bad)

    bad.write_text(bad.read_text().replace("runnable:", "runable:"))
    with pytest.raises(podium.ValidationError, match="agent 'g': field 'runnable' is required"):
        podium.load_workflow(bad)


def test_the_live_display_shows_what_running_tasks_stream() -> None:
    from rich.console import Console

    from podium.cli.progress import follow, stream_lines

    release = asyncio.Event()

    async def talk(ctx: podium.Context) -> str:
        ctx.stream("thinking about it\nthe answer is")
        ctx.stream(" 42")
        await release.wait()
        return "42"

    async def go() -> str:
        orch = podium.Orchestrator()
        orch.register(talk, name="talker", capabilities=["talk"])
        wf = podium.Workflow("w")
        wf.task("q", capability="talk")
        r = orch.prepare(wf)
        out = io.StringIO()
        console = Console(
            file=out, force_terminal=True, force_interactive=True, width=80, color_system=None
        )
        task = asyncio.create_task(orch.execute(r))
        while not getattr(r, "streams", None):
            await asyncio.sleep(0.01)
        assert stream_lines(r) == [("q", "the answer is 42")]
        shown = asyncio.create_task(follow(r, console, interval=0.01))
        while "the answer is 42" not in out.getvalue():
            await asyncio.sleep(0.01)
        release.set()
        await asyncio.wait_for(task, 30)
        assert stream_lines(r) == [] and not r.streams  # forgotten once the task ended
        shown.cancel()
        await asyncio.wait([shown])
        return out.getvalue()

    text = asyncio.run(asyncio.wait_for(go(), 60))
    assert "q: the answer is 42" in text
