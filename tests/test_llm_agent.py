"""LLM agents (``kind: llm``, `podium.LLMAgent`) against a real chat-completions server on
127.0.0.1 that answers from a script (tests/llm_fixture.py)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import podium
from llm_fixture import ChatServer, Reply, tool_call
from podium.llm.actions import from_tool_call, parse_actions

pytest.importorskip("openai")


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as srv:
        yield srv


def agent(srv: ChatServer, name: str = "llm", caps: list[str] | None = None, **kw):
    kw.setdefault("stream", False)
    if caps is None and "agent_type" not in kw:
        caps = ["write"]
    return podium.LLMAgent(name, caps, model="m", base_url=srv.url, **kw)


def run(orch: podium.Orchestrator, wf: podium.Workflow) -> podium.RunResult:
    return orch.run_sync(wf)


def one_task(cap: str = "write", **fields) -> podium.Workflow:
    wf = podium.Workflow("t", budget=fields.pop("budget", None))
    wf.task("t", capability=cap, **fields)
    return wf


def contents(srv: ChatServer, i: int = -1) -> list[str]:
    return [m.get("content") or "" for m in srv.requests[i]["body"]["messages"]]


# -- action blocks ---------------------------------------------------------------------------


def test_action_blocks_parse_with_multiline_fields_and_errors() -> None:
    text = (
        "Thinking first.\n"
        "ACTION: DELEGATE\nAGENT_TYPE: knowledge\nTASK: Research async libraries\n"
        "for web scraping\n---END---\n"
        'ACTION: TOOL\nNAME: search\nARGS: {"q": "x"}\n---END---\n'
        "ACTION: TOOL\nNAME: search\nARGS: {oops\n---END---\n"
        "ACTION: DELEGATE\nTASK: no type\n---END---\n"
        "ACTION: LAUNCH\n---END---\n"
        "ACTION: FINAL\nANSWER: two\nlines\n---END---"
    )
    got = parse_actions(text)
    assert [a.kind for a in got] == ["DELEGATE", "TOOL", "TOOL", "DELEGATE", "LAUNCH", "FINAL"]
    assert got[0].fields["TASK"] == "Research async libraries\nfor web scraping"
    assert got[0].error is None
    assert got[1].fields["ARGS"] == {"q": "x"}
    assert "ARGS is not valid JSON" in got[2].error
    assert "needs AGENT_TYPE" in got[3].error
    assert "unknown action 'LAUNCH'" in got[4].error
    assert got[5].fields["ANSWER"] == "two\nlines"
    assert parse_actions("just an answer") == []


def test_native_tool_calls_map_to_the_same_actions() -> None:
    d = from_tool_call("c1", "delegate", json.dumps({"agent_type": "code", "task": "x"}))
    assert (d.kind, d.fields["AGENT_TYPE"], d.call_id, d.error) == ("DELEGATE", "code", "c1", None)
    f = from_tool_call("c2", "final_answer", '{"answer": "done"}')
    assert (f.kind, f.fields["ANSWER"]) == ("FINAL", "done")
    t = from_tool_call("c3", "search", '{"q": 1}')
    assert (t.kind, t.fields["NAME"], t.fields["ARGS"]) == ("TOOL", "search", {"q": 1})
    assert "not valid JSON" in from_tool_call("c4", "search", "{").error


# -- plain answers ---------------------------------------------------------------------------


def test_a_plain_answer_from_a_workflow_file(server: ChatServer, tmp_path: Path) -> None:
    server.script = [
        Reply(text="A fine report.", usage={"prompt_tokens": 30, "completion_tokens": 4})
    ]
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        f"""
name: llm-plain
agents:
  - name: writer
    kind: llm
    model: tiny
    base_url: {server.url}
    agent_type: knowledge
    capabilities: [write]
    system_prompt: You write reports.
    temperature: 0.3
    max_tokens: 50
    prompt: "Write about {{{{input.topic}}}} for {{{{agent}}}}."
    price: {{input: 1.0, output: 2.0}}
tasks:
  - {{id: report, capability: write, input: {{topic: owls}}}}
""",
        encoding="utf-8",
    )
    result = podium.Orchestrator().run_sync(str(flow))
    assert result.status == "completed", result.tasks["report"].error
    assert result["report"] == "A fine report."
    body = server.requests[0]["body"]
    assert body["model"] == "tiny"
    assert body["temperature"] == 0.3 and body["max_tokens"] == 50
    assert body["messages"][0] == {"role": "system", "content": "You write reports."}
    assert body["messages"][1]["content"] == "Write about owls for writer."
    usage = result.tasks["report"].usage
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["calls"]) == (30, 4, 1)
    assert usage["cost"] == pytest.approx((30 * 1.0 + 4 * 2.0) / 1e6)
    assert result.stats["usage"]["total_tokens"] == 34
    assert result.stats["agents"]["writer"]["usage"]["calls"] == 1


def test_presets_give_system_prompt_and_capabilities(server: ChatServer) -> None:
    server.script = ["42"]
    orch = podium.Orchestrator()
    a = orch.register(podium.LLMAgent(model="m", base_url=server.url, agent_type="knowledge"))
    assert a.name == "knowledge" and a.capabilities == ("knowledge", "research")
    result = run(orch, one_task("research", input={"question": "six times seven?"}))
    assert result["t"] == "42"
    system, user = contents(server, 0)
    assert system.startswith("You are a knowledge agent")
    assert user == "six times seven?"


def test_unknown_agent_type_and_missing_key_variable_are_clear(tmp_path: Path) -> None:
    flow = tmp_path / "f.yaml"
    flow.write_text(
        "name: x\nagents:\n  - {name: a, kind: llm, model: m, agent_type: knowlege}\n"
        "tasks:\n  - {id: t, capability: knowledge}\n"
    )
    with pytest.raises(podium.ValidationError, match="did you mean 'knowledge'"):
        podium.load_workflow(flow)
    orch = podium.Orchestrator()
    orch.register(podium.LLMAgent("a", ["x"], model="m", api_key_env="PODIUM_TEST_NO_SUCH_KEY"))
    with pytest.raises(podium.HandlerError, match="PODIUM_TEST_NO_SUCH_KEY, which is not set"):
        orch.run_sync(one_task("x"))


def test_streamed_answers_are_shown_live_while_they_arrive(server: ChatServer) -> None:
    server.script = [Reply(text="one two three four five six", chunks=6, chunk_delay=0.15)]
    orch = podium.Orchestrator()
    orch.register(agent(server, stream=True))
    seen: list[str] = []

    async def main() -> podium.RunResult:
        run_ = orch.prepare(one_task())
        task = asyncio.ensure_future(orch.execute(run_))
        while not task.done():
            streams = getattr(run_, "streams", None)
            if streams and "t" in streams:
                seen.append(streams["t"].strip())
            await asyncio.sleep(0.02)
        return await task

    result = asyncio.run(main())
    assert result["t"] == "one two three four five six"
    assert any(0 < len(s) < len(result["t"]) for s in seen), seen  # partial text was visible
    assert result.tasks["t"].usage["calls"] == 1
    assert server.requests[0]["body"]["stream"] is True


# -- JSON schema -----------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"vote": {"enum": ["approve", "reject"]}, "reasons": {"type": "array"}},
    "required": ["vote"],
}


def test_an_answer_that_breaks_the_schema_is_retried_with_the_error(server: ChatServer) -> None:
    server.script = [
        "I approve!",
        '{"vote": "maybe"}',
        'Here: ```json\n{"vote": "approve", "reasons": ["clear"]}\n```',
    ]
    orch = podium.Orchestrator()
    orch.register(agent(server, schema=SCHEMA, schema_retries=2))
    result = run(orch, one_task())
    assert result["t"] == {"vote": "approve", "reasons": ["clear"]}
    assert "not JSON" in contents(server, 1)[-1]
    assert (
        "at vote" in contents(server, 2)[-1] and "'maybe' is not one of" in contents(server, 2)[-1]
    )


def test_schema_retries_are_bounded(server: ChatServer) -> None:
    server.default = "no json here"
    orch = podium.Orchestrator()
    orch.register(agent(server, schema=SCHEMA, schema_retries=1))
    result = run(orch, one_task())
    assert result.status == "failed"
    assert "does not satisfy the schema after 2 tries" in result.tasks["t"].error
    assert len(server.requests) == 2


# -- failures --------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(server: ChatServer) -> None:
    server.script = [Reply(status=429, headers={"Retry-After": "0.3"}), "fine"]
    orch = podium.Orchestrator()
    orch.register(agent(server))
    result = run(orch, one_task())
    assert result["t"] == "fine"
    assert len(server.requests) == 2
    assert result.tasks["t"].usage["latency"] >= 0.3  # the wait is part of the call


def test_500s_are_retried_and_then_fail_the_task_clearly(server: ChatServer) -> None:
    server.script = [Reply(status=500), Reply(status=503), "ok"]
    orch = podium.Orchestrator()
    orch.register(agent(server, max_retries=2))
    assert run(orch, one_task())["t"] == "ok"

    server.script = [Reply(status=500)] * 3
    result = run(orch, one_task())
    err = result.tasks["t"].error
    assert result.status == "failed"
    assert "LLMError" in err and "failed 3 times; the last: HTTP 500" in err


def test_a_bad_request_is_not_retried(server: ChatServer) -> None:
    server.script = [Reply(status=404, body={"error": {"message": "model 'm' not found"}})]
    orch = podium.Orchestrator()
    orch.register(agent(server))
    result = run(orch, one_task())
    assert len(server.requests) == 1
    assert "HTTP 404: model 'm' not found" in result.tasks["t"].error
    assert "base_url" in result.tasks["t"].error


def test_a_hung_endpoint_ends_at_the_task_timeout(server: ChatServer) -> None:
    server.script = [Reply(hang=True)]
    orch = podium.Orchestrator()
    orch.register(agent(server, request_timeout=60))
    start = time.monotonic()
    result = run(orch, one_task(timeout=0.5))
    assert result.status == "failed" and result.tasks["t"].error == "timeout"
    assert time.monotonic() - start < 30  # not the 60 s request timeout


def test_a_request_timeout_is_retried(server: ChatServer) -> None:
    server.script = [Reply(hang=True), "after the hang"]
    orch = podium.Orchestrator()
    orch.register(agent(server, request_timeout=0.3, max_retries=1))
    assert run(orch, one_task())["t"] == "after the hang"


def test_a_dead_endpoint_fails_over_to_another_capable_agent(server: ChatServer) -> None:
    server.script = ["from the live one"]
    orch = podium.Orchestrator()
    dead = podium.LLMAgent(
        "dead", ["write"], model="m", base_url="http://127.0.0.1:9/v1", max_retries=0, stream=False
    )
    dead.breaker_failures = 1
    orch.register(dead)
    orch.register(agent(server, "live"))
    server.default = "from the live one"
    wf = podium.Workflow("failover", strategy="round_robin")
    for i in range(4):
        wf.task(f"t{i}", capability="write", retry={"max_attempts": 2, "initial_delay": 0})
    result = run(orch, wf)
    assert result.status == "completed"
    assert {r.agent for r in result.tasks.values()} == {"live"}
    assert dead.failed >= 1 and dead.breaker_until > 0  # its breaker opened: no more tasks


# -- delegation ------------------------------------------------------------------------------


def by_system(routes: dict[str, list]) -> object:
    """A script answering each agent (told apart by its system prompt) from its own list."""

    def answer(body: dict) -> object:
        system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
        for key, replies in routes.items():
            if key in system:
                return replies.pop(0) if replies else None
        return None

    return answer


def test_delegation_runs_real_tasks_and_feeds_results_back(server: ChatServer) -> None:
    server.script = by_system(
        {
            "BOSS": [
                "ACTION: DELEGATE\nAGENT_TYPE: knowledge\nTASK: facts about owls\n---END---\n"
                "ACTION: DELEGATE\nAGENT_TYPE: knowledge\nTASK: facts about bats\n---END---",
                "Owls and bats both hunt at night.",
            ],
            "knowledge agent": ["Owls hunt at night.", "Bats hunt at night."],
        }
    )
    orch = podium.Orchestrator()
    orch.register(agent(server, "boss", system_prompt="BOSS", delegate_to=["knowledge"]))
    orch.register(agent(server, "kn", None, agent_type="knowledge", capacity=2))
    result = run(orch, one_task())
    assert result["t"] == "Owls and bats both hunt at night."
    assert {k: (r.agent, r.result) for k, r in result.tasks.items() if k != "t"} == {
        "t/1": ("kn", "Owls hunt at night."),
        "t/2": ("kn", "Bats hunt at night."),
    }
    assert result.tasks["t/1"].task.input == {"task": "facts about owls"}
    last = contents(server)[-1]
    assert "DELEGATE to knowledge (task 't/1'):\nOwls hunt at night." in last
    assert "DELEGATE to knowledge (task 't/2'):\nBats hunt at night." in last
    assert result.stats["usage"]["calls"] == 4


def test_delegation_bounds_depth_count_and_fanout(server: ChatServer) -> None:
    ask = "ACTION: DELEGATE\nAGENT_TYPE: write\nTASK: again\n---END---\n"
    server.script = by_system(
        {"LOOPER": [ask, ask, "level 2 does it", "level 1 done", "level 0 done"]}
    )
    orch = podium.Orchestrator()
    orch.register(
        agent(server, "looper", system_prompt="LOOPER", delegate_to=["*", "write"], max_depth=1)
    )
    result = run(orch, one_task())
    assert result["t"] == "level 0 done" or result.status == "completed"
    assert set(result.tasks) == {"t", "t/1"}  # depth 1: the subtask may not delegate again
    assert "delegation depth limit reached (1)" in "\n".join(
        m["body"]["messages"][-1]["content"] for m in server.requests
    )

    server.requests.clear()
    server.script = by_system({"LOOPER": [ask * 3, "gave up"]})
    orch = podium.Orchestrator()
    orch.register(
        agent(
            server,
            "boss",
            system_prompt="LOOPER",
            delegate_to=["knowledge"],
            max_fanout=2,
            max_delegations=1,
        )
    )
    orch.register(agent(server, "kn", None, agent_type="knowledge"))
    server.script = by_system(
        {
            "LOOPER": [ask.replace("write", "knowledge") * 3, "gave up"],
            "knowledge agent": ["a fact"],
        }
    )
    result = run(orch, one_task())
    assert result["t"] == "gave up"
    assert [k for k in result.tasks if k != "t"] == ["t/1"]
    feedback = contents(server)[-1]
    assert "delegation limit reached (1 per task)" in feedback


def test_delegation_to_a_capability_nobody_has_is_an_error_turn(server: ChatServer) -> None:
    server.script = [
        "ACTION: DELEGATE\nAGENT_TYPE: astrology\nTASK: x\n---END---",
        "fine, myself",
    ]
    orch = podium.Orchestrator()
    orch.register(agent(server, delegate_to=["*"]))
    result = run(orch, one_task())
    assert result["t"] == "fine, myself"
    assert "no agent has capability 'astrology'" in contents(server)[-1]


def test_malformed_actions_get_an_error_turn_not_a_crash(server: ChatServer) -> None:
    server.script = [
        "ACTION: DELEGATE\nTASK: who?\n---END---\nACTION: EXPLODE\n---END---",
        "ACTION: FINAL\nANSWER: recovered\n---END---",
    ]
    orch = podium.Orchestrator()
    orch.register(agent(server, delegate_to=["*"]))
    result = run(orch, one_task())
    assert result["t"] == "recovered"
    last = contents(server)[-1]
    assert "error: ACTION DELEGATE is malformed: DELEGATE needs AGENT_TYPE" in last
    assert "unknown action 'EXPLODE'" in last


def test_turns_are_bounded(server: ChatServer) -> None:
    server.default = lambda body: "ACTION: TOOL\nNAME: nothing\n---END---"
    orch = podium.Orchestrator()
    orch.register(agent(server, max_turns=3))
    result = run(orch, one_task())
    assert result.status == "failed"
    assert "no final answer in 3 turns" in result.tasks["t"].error
    assert len(server.requests) == 3


def test_phases_mask_actions(server: ChatServer) -> None:
    delegate = "ACTION: DELEGATE\nAGENT_TYPE: knowledge\nTASK: look it up\n---END---"
    server.script = by_system(
        {
            "BOSS": [delegate, "1. look it up 2. answer", delegate, "it is 7", "it is 7"],
            "knowledge agent": ["7"],
        }
    )
    orch = podium.Orchestrator()
    orch.register(
        agent(
            server,
            "boss",
            system_prompt="BOSS",
            delegate_to=["knowledge"],
            phases=["planning", "executing", "verifying"],
        )
    )
    orch.register(agent(server, "kn", None, agent_type="knowledge"))
    result = run(orch, one_task())
    assert result["t"] == "it is 7"
    boss = [r for r in server.requests if r["body"]["messages"][0]["content"] == "BOSS"]
    assert "Phase: planning" in boss[0]["body"]["messages"][1]["content"]
    assert (
        "ACTION DELEGATE is not allowed while planning (only while executing)"
        in (boss[1]["body"]["messages"][-1]["content"])
    )
    assert "Phase: executing" in boss[2]["body"]["messages"][-1]["content"]
    assert "AGENT_TYPE: <one of: knowledge>" in boss[2]["body"]["messages"][-1]["content"]
    assert "Phase: verifying" in boss[4]["body"]["messages"][-1]["content"]
    assert list(result.tasks) == ["t", "t/1"]


def test_the_learning_phase_keeps_lessons_for_later_tasks(server: ChatServer) -> None:
    server.script = ["answer 1", "Check units first.", "answer 2", "Be brief."]
    orch = podium.Orchestrator()
    a = orch.register(agent(server, phases=["executing", "learning"], system_prompt="S"))
    wf = podium.Workflow("two")
    wf.task("a", capability="write")
    wf.task("b", capability="write", depends_on=["a"])
    result = run(orch, wf)
    assert (result["a"], result["b"]) == ("answer 1", "answer 2")
    assert list(a.lessons) == ["Check units first.", "Be brief."]
    assert "Lessons from your earlier tasks:\n- Check units first." in contents(server, 2)[0]


# -- tools and messages ------------------------------------------------------------------------


def test_tools_are_called_with_their_arguments(server: ChatServer) -> None:
    calls = []

    def lookup(city: str, ctx=None) -> dict:
        """Find the weather in a city."""
        calls.append((city, ctx.task_id))
        return {"city": city, "sky": "clear"}

    async def explode() -> None:
        """Always fails."""
        raise RuntimeError("boom")

    server.script = [
        'ACTION: TOOL\nNAME: lookup\nARGS: {"city": "Oslo"}\n---END---\n'
        "ACTION: TOOL\nNAME: explode\n---END---",
        "Clear in Oslo.",
    ]
    orch = podium.Orchestrator()
    orch.register(agent(server, tools=[lookup, explode]))
    result = run(orch, one_task())
    assert result["t"] == "Clear in Oslo." and calls == [("Oslo", "t")]
    first = contents(server, 0)[-1]
    assert "lookup(city): Find the weather in a city." in first
    last = contents(server)[-1]
    assert '"sky": "clear"' in last and "TOOL explode raised RuntimeError: boom" in last


def test_native_tool_calls(server: ChatServer) -> None:
    server.script = by_system(
        {
            "BOSS": [
                Reply(
                    tool_calls=[
                        tool_call("delegate", {"agent_type": "knowledge", "task": "x"}, id="c1")
                    ]
                ),
                Reply(tool_calls=[tool_call("final_answer", {"answer": "done: x"}, id="c2")]),
            ],
            "knowledge agent": ["x!"],
        }
    )
    orch = podium.Orchestrator()
    orch.register(
        agent(
            server,
            "boss",
            system_prompt="BOSS",
            delegate_to=["knowledge"],
            native_tools=True,
            stream=True,
        )
    )
    orch.register(agent(server, "kn", None, agent_type="knowledge"))
    result = run(orch, one_task())
    assert result["t"] == "done: x"
    boss = [r["body"] for r in server.requests if r["body"]["messages"][0]["content"] == "BOSS"]
    assert [t["function"]["name"] for t in boss[0]["tools"]] == ["delegate"]
    tool_msg = boss[1]["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "c1"
    assert "x!" in tool_msg["content"]


def test_messages_go_over_the_bus_to_other_agents(server: ChatServer) -> None:
    server.script = by_system(
        {
            "A": ["ACTION: MESSAGE\nTO: b\nCONTENT: use metric units\n---END---", "sent"],
            "B": ["ok, metric"],
        }
    )
    orch = podium.Orchestrator()
    orch.register(agent(server, "a", ["first"], system_prompt="A", message_to=["b"]))
    orch.register(agent(server, "b", ["second"], system_prompt="B", inbox=True))
    wf = podium.Workflow("m")
    wf.task("one", capability="first")
    wf.task("two", capability="second", depends_on=["one"])
    result = run(orch, wf)
    assert result["two"] == "ok, metric"
    b = next(r["body"] for r in server.requests if r["body"]["messages"][0]["content"] == "B")
    assert any(
        "Messages for you:\n- from a:" in m["content"] and "metric" in m["content"]
        for m in b["messages"]
    )


def test_consensus_and_auction_work_with_llm_agents(server: ChatServer) -> None:
    votes = iter(['{"vote": "approve"}', '{"vote": "approve"}', '{"vote": "reject"}'])
    server.script = lambda body: next(votes, "won the auction")
    orch = podium.Orchestrator()
    for n in ("r1", "r2", "r3"):
        orch.register(agent(server, n, ["review"], schema=SCHEMA))
    wf = podium.Workflow("vote")
    wf.task("v", capability="review", pattern="consensus", options={"agents": 3, "key": "vote"})
    result = run(orch, wf)
    assert result["v"]["consensus"] is True
    assert result["v"]["winning_result"] == {"vote": "approve"}

    orch2 = podium.Orchestrator()
    orch2.register(agent(server, "cheap", ["write"], price={"input": 0.1, "output": 0.1}))
    orch2.register(agent(server, "dear", ["write"], price={"input": 50, "output": 50}))
    wf = podium.Workflow("auction")
    wf.task("a", capability="write", pattern="auction")
    result = run(orch2, wf)
    assert result["a"]["winner"] == "cheap"
    assert result["a"]["bids"]["cheap"] < result["a"]["bids"]["dear"]


def test_podium_runs_display_shows_streaming_answers(server: ChatServer) -> None:
    import io

    from rich.console import Console

    from podium.cli.progress import follow

    server.script = [Reply(text="alpha beta gamma delta epsilon", chunks=5, chunk_delay=0.2)]
    orch = podium.Orchestrator()
    orch.register(agent(server, "streamer", stream=True))
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, force_interactive=True, width=100)

    async def main() -> None:
        run_ = orch.prepare(one_task())
        watcher = asyncio.ensure_future(follow(run_, console, interval=0.05))
        await orch.execute(run_)
        watcher.cancel()
        await asyncio.wait([watcher])

    asyncio.run(main())
    import re

    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "t: alpha beta" in text  # part of the answer, shown while it came in
