"""Workflow files: loading, every validation error (message names file, task and field)."""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import podium
from podium.spec import load_workflow, parse_workflow

Write = Callable[[str, str], Path]

GOOD = """\
name: research-report
on_failure: continue
max_concurrency: 50
strategy: least_loaded
agents:
  - name: researcher
    capabilities: [research]
    capacity: 4
    handler: {mod}:research
    estimated_time: 2
    circuit_breaker: {{failures: 3, cooldown: 5}}
  - name: analyst
    capabilities: [analysis]
    handler: {mod}:Analyst
  - name: plain
    capabilities: [plain]
    handler: {mod}:Plain
    executor: inline
tasks:
  - id: fetch
    capability: research
    input: {{query: "async python"}}
  - id: analyze
    capability: analysis
    depends_on: [fetch]
    priority: high
    timeout: 30
    retry: {{max_attempts: 3, backoff: exponential, initial_delay: 0.5, max_delay: 10}}
  - id: pinned
    agent: plain
    depends_on: [analyze]
    priority: 3
"""

HANDLERS = """\
import podium

async def research(ctx):
    return {"found": ctx.input["query"]}

class Analyst(podium.Agent):
    def handle(self, ctx):
        return {"n": len(ctx.deps["fetch"]["found"])}

class Plain:
    def handle(self, ctx):
        return ["plain", ctx.deps["analyze"]["n"]]

NOT_CALLABLE = 42

class NoHandle:
    pass

class AgentWithoutHandle(podium.Agent):
    pass
"""


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # loading a file puts its folder on sys.path; keep that to this test
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def mod(write_file: Write) -> str:
    """A handler module next to the workflow files, under a name unique to this test."""
    name = f"handlers_{uuid.uuid4().hex[:8]}"
    write_file(f"{name}.py", HANDLERS)
    return name


def load_error(write_file: Write, text: str, name: str = "flow.yaml") -> podium.PodiumError:
    path = write_file(name, textwrap.dedent(text))
    with pytest.raises(podium.PodiumError) as e:
        load_workflow(path)
    assert str(path) in str(e.value)
    assert e.value.file == str(path)
    return e.value


@pytest.fixture(autouse=True)
def _json_is_a_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """These files use the standard library's json:dumps as a ready-made handler: allow it
    (a workflow file may otherwise name code from its own folder only)."""
    monkeypatch.setenv("PODIUM_ALLOW_MODULES", "json")


def prepare_error(write_file: Write, text: str) -> podium.PodiumError:
    path = write_file("flow.yaml", textwrap.dedent(text))
    with pytest.raises(podium.PodiumError) as e:
        podium.Orchestrator().prepare(path)
    assert str(path) in str(e.value)
    assert e.value.file == str(path)
    return e.value


def tasks_yaml(*lines: str) -> str:
    return "name: w\nagents:\n  - {name: a, capabilities: [x], handler: 'json:dumps'}\n" + (
        "tasks:\n" + "\n".join(lines) + "\n"
    )


# -- loading ---------------------------------------------------------------------------------


def test_full_yaml_file_becomes_a_workflow(write_file: Write, mod: str) -> None:
    path = write_file("flow.yaml", GOOD.format(mod=mod))
    wf = load_workflow(path)
    assert wf.name == "research-report" and wf.source == str(path)
    assert (wf.on_failure, wf.max_concurrency, wf.strategy) == ("continue", 50, "least_loaded")
    assert list(wf.tasks) == ["fetch", "analyze", "pinned"]
    a = wf.tasks["analyze"]
    assert a.capability == "analysis" and a.depends_on == ("fetch",)
    assert a.priority == 8 and a.timeout == 30
    assert (a.retry.max_attempts, a.retry.backoff, a.retry.initial_delay, a.retry.max_delay) == (
        3,
        "exponential",
        0.5,
        10,
    )
    assert wf.tasks["fetch"].input == {"query": "async python"}
    assert wf.tasks["fetch"].priority == 5  # medium by default
    assert wf.tasks["pinned"].agent == "plain" and wf.tasks["pinned"].priority == 3
    agents = {a.name: a for a in wf.agents}
    r = agents["researcher"]
    assert r.capabilities == ("research",) and r.capacity == 4 and r.estimated_time == 2
    assert (r.breaker_failures, r.breaker_cooldown) == (3, 5)
    assert type(agents["analyst"]).__name__ == "Analyst"
    assert agents["plain"].executor == "inline"


async def test_a_workflow_file_runs(write_file: Write, mod: str, orch: podium.Orchestrator) -> None:
    path = write_file("flow.yaml", GOOD.format(mod=mod))
    result = await orch.run(path)
    assert result.status == "completed"
    assert result.tasks["fetch"].result == {"found": "async python"}
    assert result.tasks["fetch"].agent == "researcher"
    assert result.tasks["analyze"].result == {"n": 12}
    assert result.tasks["pinned"].result == ["plain", 12]


def test_json_file_loads_like_yaml(write_file: Write, mod: str) -> None:
    doc = {
        "name": "j",
        "agents": [{"name": "r", "capabilities": ["research"], "handler": f"{mod}:research"}],
        "tasks": [
            {"id": "a", "capability": "research", "input": {"query": "q"}},
            {"id": "b", "capability": "research", "depends_on": ["a"], "priority": "low"},
        ],
    }
    wf = load_workflow(write_file("flow.json", json.dumps(doc)))
    assert list(wf.tasks) == ["a", "b"] and wf.tasks["b"].priority == 2
    assert wf.agents[0].name == "r"


def test_parse_workflow_without_a_file() -> None:
    wf = parse_workflow({"name": "w", "tasks": [{"id": "a", "capability": "x"}]})
    assert wf.source is None and list(wf.tasks) == ["a"]
    with pytest.raises(podium.ValidationError) as e:
        parse_workflow({"name": "w", "tasks": [{"id": "a", "capabilty": "x"}]})
    assert str(e.value).startswith("task 'a': unknown field 'capabilty'")


# -- reading the file ------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(podium.ValidationError) as e:
        load_workflow(path)
    assert str(path) in str(e.value) and "no such file" in str(e.value)
    assert e.value.file == str(path)


def test_file_that_is_not_utf8(write_file: Write) -> None:
    path = write_file("flow.yaml", "")
    path.write_bytes(b"name: w\xff\n")
    with pytest.raises(podium.ValidationError) as e:
        load_workflow(path)
    assert str(e.value) == f"{path}: is not UTF-8 text."


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(podium.ValidationError, match="is a directory"):
        load_workflow(tmp_path)


def test_invalid_yaml_names_the_line(write_file: Write) -> None:
    err = load_error(write_file, "name: w\ntasks:\n  - id: a\n    capability: [x\n")
    path = err.file
    assert "invalid YAML" in str(err)
    assert str(err).startswith(f"{path}:5:") or str(err).startswith(f"{path}:4:")


def test_invalid_yaml_indentation(write_file: Write) -> None:
    err = load_error(write_file, "name: w\ntasks:\n  - id: a\n   capability: x\n")
    assert "invalid YAML" in str(err) and str(err).startswith(f"{err.file}:4:")


def test_invalid_json_names_the_line(write_file: Write) -> None:
    err = load_error(write_file, '{\n  "name": "w",\n  "tasks": [,]\n}\n', name="flow.json")
    assert "invalid JSON" in str(err) and str(err).startswith(f"{err.file}:3:")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(write_file: Write, text: str) -> None:
    err = load_error(write_file, text)
    assert "mapping with 'name' and 'tasks'" in str(err)


def test_top_level_json_array(write_file: Write) -> None:
    err = load_error(write_file, "[1, 2]", name="flow.json")
    assert "mapping" in str(err) and "list" in str(err)


def test_empty_file(write_file: Write) -> None:
    err = load_error(write_file, "")
    assert "mapping with 'name' and 'tasks'" in str(err)


def test_empty_tasks_list(write_file: Write) -> None:
    err = load_error(write_file, "name: w\ntasks: []\n")
    assert "'tasks'" in str(err) and err.field == "tasks"


def test_missing_tasks(write_file: Write) -> None:
    err = load_error(write_file, "name: w\n")
    assert "field 'tasks' is required" in str(err)


def test_missing_task_id(write_file: Write) -> None:
    err = load_error(write_file, "name: w\ntasks:\n  - capability: x\n")
    assert "task #1" in str(err) and "field 'id' is required" in str(err)
    assert err.field == "id"


# -- unknown fields --------------------------------------------------------------------------


def test_task_field_typo_suggests_the_right_name(write_file: Write) -> None:
    err = load_error(
        write_file,
        tasks_yaml("  - {id: a, capability: x}", "  - {id: b, capability: x, depend_on: [a]}"),
    )
    msg = str(err)
    assert "task 'b'" in msg and "unknown field 'depend_on'" in msg
    assert "Did you mean 'depends_on'?" in msg
    assert (err.task, err.field) == ("b", "depend_on")


def test_top_level_typo(write_file: Write) -> None:
    err = load_error(write_file, "name: w\non_failur: continue\ntasks: [{id: a, capability: x}]\n")
    assert "unknown field 'on_failur'" in str(err) and "Did you mean 'on_failure'?" in str(err)


def test_retry_field_typo(write_file: Write) -> None:
    err = load_error(write_file, tasks_yaml("  - {id: a, capability: x, retry: {max_tries: 3}}"))
    assert "task 'a'" in str(err) and "unknown field 'max_tries'" in str(err)
    assert err.task == "a"


def test_agent_field_typo(write_file: Write) -> None:
    err = load_error(
        write_file,
        "name: w\nagents:\n  - {name: bot, capabilites: [x], handler: 'json:dumps'}\n"
        "tasks: [{id: a, capability: x}]\n",
    )
    msg = str(err)
    assert "agent 'bot'" in msg and "unknown field 'capabilites'" in msg
    assert "Did you mean 'capabilities'?" in msg


def test_unknown_field_without_a_close_match_lists_the_allowed_ones(write_file: Write) -> None:
    err = load_error(write_file, tasks_yaml("  - {id: a, capability: x, zzzzzz: 1}"))
    assert "unknown field 'zzzzzz'" in str(err) and "Allowed:" in str(err)
    assert "depends_on" in str(err)


# -- wrong types and values ------------------------------------------------------------------


def test_depends_on_must_be_a_list(write_file: Write) -> None:
    err = load_error(
        write_file,
        tasks_yaml("  - {id: a, capability: x}", "  - {id: b, capability: x, depends_on: a}"),
    )
    assert "task 'b'" in str(err) and "'depends_on'" in str(err)
    assert (err.task, err.field) == ("b", "depends_on")


def test_timeout_must_be_a_number(write_file: Write) -> None:
    err = load_error(write_file, tasks_yaml("  - {id: a, capability: x, timeout: soon}"))
    assert "task 'a'" in str(err) and "'timeout'" in str(err) and "'soon'" in str(err)
    assert err.field == "timeout"


@pytest.mark.parametrize("value", ["-1", "0"])
def test_timeout_must_be_positive(write_file: Write, value: str) -> None:
    err = load_error(write_file, tasks_yaml(f"  - {{id: a, capability: x, timeout: {value}}}"))
    assert "task 'a'" in str(err) and "'timeout'" in str(err) and "greater than 0" in str(err)
    assert (err.task, err.field) == ("a", "timeout")


@pytest.mark.parametrize("value", ["urgent", "11", "0", "'5'"])
def test_bad_priority(write_file: Write, value: str) -> None:
    err = load_error(write_file, tasks_yaml(f"  - {{id: a, capability: x, priority: {value}}}"))
    msg = str(err)
    assert "task 'a'" in msg and "priority" in msg
    assert err.field == "priority" and err.task == "a"


@pytest.mark.parametrize(
    "line",
    [
        "  - {id: a, capability: x, priority: true}",
        "  - {id: a, capability: x, timeout: true}",
        "  - {id: a, capability: x, retry: {max_attempts: true}}",
    ],
    ids=["priority", "timeout", "max_attempts"],
)
def test_booleans_are_not_numbers(write_file: Write, line: str) -> None:
    err = load_error(write_file, tasks_yaml(line))
    assert "task 'a'" in str(err) and "True" in str(err)


def test_priority_message_names_the_choices(write_file: Write) -> None:
    err = load_error(write_file, tasks_yaml("  - {id: a, capability: x, priority: urgent}"))
    assert "critical, high, medium, low" in str(err) and "1-10" in str(err)


def test_capacity_must_be_a_number(write_file: Write) -> None:
    err = load_error(
        write_file,
        "name: w\nagents:\n"
        "  - {name: bot, capabilities: [x], capacity: four, handler: 'json:dumps'}\n"
        "tasks: [{id: a, capability: x}]\n",
    )
    assert "agent 'bot'" in str(err) and "'capacity'" in str(err) and "'four'" in str(err)


def test_capacity_must_be_positive(write_file: Write) -> None:
    err = load_error(
        write_file,
        "name: w\nagents:\n  - {name: bot, capabilities: [x], capacity: 0, handler: 'json:dumps'}"
        "\ntasks: [{id: a, capability: x}]\n",
    )
    assert "agent 'bot'" in str(err) and "'capacity'" in str(err)


def test_bad_on_failure(write_file: Write) -> None:
    err = load_error(write_file, "name: w\non_failure: stop\ntasks: [{id: a, capability: x}]\n")
    assert "'on_failure'" in str(err) and "'stop'" in str(err)


def test_bad_max_concurrency(write_file: Write) -> None:
    err = load_error(write_file, "name: w\nmax_concurrency: 0\ntasks: [{id: a, capability: x}]\n")
    assert "'max_concurrency'" in str(err)


def test_bad_backoff(write_file: Write) -> None:
    err = load_error(write_file, tasks_yaml("  - {id: a, capability: x, retry: {backoff: linear}}"))
    assert "task 'a'" in str(err) and "retry.backoff" in str(err) and "'linear'" in str(err)
    assert err.field == "retry.backoff"


def test_capability_and_agent_together(write_file: Write) -> None:
    err = load_error(write_file, tasks_yaml("  - {id: a, capability: x, agent: a}"))
    assert "task 'a'" in str(err) and "exactly one of 'capability' or 'agent'" in str(err)


def test_neither_capability_nor_agent(write_file: Write) -> None:
    err = load_error(write_file, tasks_yaml("  - {id: a}"))
    assert "task 'a'" in str(err) and "exactly one of 'capability' or 'agent'" in str(err)


def test_duplicate_agent_name(write_file: Write) -> None:
    err = load_error(
        write_file,
        "name: w\nagents:\n  - {name: bot, capabilities: [x], handler: 'json:dumps'}\n"
        "  - {name: bot, capabilities: [y], handler: 'json:dumps'}\n"
        "tasks: [{id: a, capability: x}]\n",
    )
    assert "'bot'" in str(err) and "more than once" in str(err)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("{when: 2024-01-02}", "date"),
        ("{1: one}", "key 1"),
        ("!!set {a, b}", "set"),
    ],
)
def test_input_must_be_json(write_file: Write, value: str, shown: str) -> None:
    err = load_error(write_file, tasks_yaml(f"  - id: a\n    capability: x\n    input: {value}"))
    msg = str(err)
    assert "task 'a'" in msg and "input" in msg and "not JSON" in msg and shown in msg
    assert (err.task, err.field) == ("a", "input")


# -- graph errors through a file -------------------------------------------------------------


def test_duplicate_ids_in_a_file(write_file: Write) -> None:
    err = prepare_error(
        write_file, tasks_yaml("  - {id: a, capability: x}", "  - {id: a, capability: x}")
    )
    assert "'a'" in str(err) and "more than once" in str(err) and err.field == "id"


def test_missing_dependency_in_a_file(write_file: Write) -> None:
    err = prepare_error(write_file, tasks_yaml("  - {id: a, capability: x, depends_on: [ghost]}"))
    assert "task 'a'" in str(err) and "'ghost'" in str(err) and err.field == "depends_on"


def test_cycle_in_a_file(write_file: Write) -> None:
    err = prepare_error(
        write_file,
        tasks_yaml(
            "  - {id: a, capability: x, depends_on: [b]}",
            "  - {id: b, capability: x, depends_on: [a]}",
        ),
    )
    assert isinstance(err, podium.CycleError)
    assert "'a' -> 'b' -> 'a'" in str(err) and err.field == "depends_on"


def test_self_cycle_in_a_file(write_file: Write) -> None:
    err = prepare_error(write_file, tasks_yaml("  - {id: a, capability: x, depends_on: [a]}"))
    assert "'a' -> 'a'" in str(err)


def test_capability_no_agent_has(write_file: Write) -> None:
    err = prepare_error(
        write_file, tasks_yaml("  - {id: a, capability: x}", "  - {id: b, capability: nope}")
    )
    assert isinstance(err, podium.CapabilityError)
    msg = str(err)
    assert "task 'b'" in msg and "'nope'" in msg and "capabilities: x" in msg
    assert (err.task, err.field) == ("b", "capability")


def test_pinned_agent_that_does_not_exist(write_file: Write) -> None:
    err = prepare_error(write_file, tasks_yaml("  - {id: a, agent: ghost}"))
    assert isinstance(err, podium.CapabilityError)
    msg = str(err)
    assert "task 'a'" in msg and "'ghost'" in msg and "agents: a" in msg
    assert (err.task, err.field) == ("a", "agent")


# -- handlers --------------------------------------------------------------------------------


def agent_yaml(handler: str) -> str:
    return (
        f"name: w\nagents:\n  - {{name: bot, capabilities: [x], handler: '{handler}'}}\n"
        "tasks: [{id: a, capability: x}]\n"
    )


def test_handler_module_not_found(write_file: Write) -> None:
    err = load_error(write_file, agent_yaml("no_such_module_xyz:run"))
    assert isinstance(err, podium.HandlerError)
    msg = str(err)
    assert "agent 'bot'" in msg and "'no_such_module_xyz'" in msg and "cannot import" in msg
    assert err.field == "handler"


def test_handler_attribute_missing(write_file: Write, mod: str) -> None:
    err = load_error(write_file, agent_yaml(f"{mod}:nothing_here"))
    assert isinstance(err, podium.HandlerError)
    assert "agent 'bot'" in str(err) and "has no 'nothing_here'" in str(err)


def test_handler_not_callable(write_file: Write, mod: str) -> None:
    err = load_error(write_file, agent_yaml(f"{mod}:NOT_CALLABLE"))
    assert isinstance(err, podium.HandlerError)
    assert "agent 'bot'" in str(err) and "is a int, not a function or class" in str(err)


def test_handler_class_without_handle(write_file: Write, mod: str) -> None:
    err = load_error(write_file, agent_yaml(f"{mod}:NoHandle"))
    assert isinstance(err, podium.HandlerError)
    assert "agent 'bot'" in str(err) and "handle(self, ctx)" in str(err)


@pytest.mark.parametrize("ref", ["just_a_name", ":run", "module:", "a.b"])
def test_malformed_handler_ref(write_file: Write, ref: str) -> None:
    err = load_error(write_file, agent_yaml(ref))
    assert isinstance(err, podium.HandlerError)
    assert f"{ref!r}" in str(err) and "'module:function'" in str(err)


def test_handler_module_that_fails_to_import(write_file: Write) -> None:
    name = f"broken_{uuid.uuid4().hex[:8]}"
    write_file(f"{name}.py", "raise RuntimeError('no config')\n")
    err = load_error(write_file, agent_yaml(f"{name}:run"))
    assert isinstance(err, podium.HandlerError)
    assert "RuntimeError: no config" in str(err) and "agent 'bot'" in str(err)


def test_handler_found_next_to_the_file_from_another_cwd(
    write_file: Write, mod: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_file("sub/../flow.yaml", agent_yaml(f"{mod}:research"))
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    wf = load_workflow(path)
    assert wf.agents[0].name == "bot"


def test_handler_agent_subclass_without_handle(write_file: Write, mod: str) -> None:
    err = load_error(write_file, agent_yaml(f"{mod}:AgentWithoutHandle"))
    assert "agent 'bot'" in str(err) and "handle(self, ctx)" in str(err)
    assert err.field == "agents.handler"


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (
            "class H:\n    def __init__(self, x):\n        pass\n"
            "    def handle(self, ctx):\n        return 1\n",
            "H() raised TypeError",
        ),
        (
            "class H:\n    def __init__(self):\n        raise RuntimeError('no key')\n"
            "    def handle(self, ctx):\n        return 1\n",
            "H() raised RuntimeError: no key",
        ),
        (
            "import podium\nclass H(podium.Agent):\n    def __init__(self, **kw):\n"
            "        raise RuntimeError('no key')\n    def handle(self, ctx):\n        return 1\n",
            "H(name=..., capabilities=..., ...) raised RuntimeError: no key",
        ),
    ],
)
def test_handler_class_that_cannot_be_created(write_file: Write, body: str, shown: str) -> None:
    name = f"cls_{uuid.uuid4().hex[:8]}"
    write_file(f"{name}.py", body)
    err = load_error(write_file, agent_yaml(f"{name}:H"))
    assert isinstance(err, podium.HandlerError)
    assert "agent 'bot'" in str(err) and shown in str(err)
    assert err.field == "handler"


def test_handler_that_takes_no_ctx(write_file: Write) -> None:
    name = f"noctx_{uuid.uuid4().hex[:8]}"
    write_file(f"{name}.py", "def run():\n    return 1\n")
    err = load_error(write_file, agent_yaml(f"{name}:run"))
    assert "agent 'bot': handler run() cannot be called as handler(ctx)" in str(err)
    assert err.field == "agents.handler"


def test_a_key_given_twice_in_yaml_is_an_error(write_file: Write) -> None:
    err = load_error(write_file, tasks_yaml("  - {id: a, capability: x, input: 1, input: 2}"))
    assert "invalid YAML" in str(err) and "key 'input' appears twice" in str(err)


def test_a_key_given_twice_in_json_is_an_error(write_file: Write) -> None:
    text = '{"name": "w", "tasks": [{"id": "a", "capability": "x", "input": 1, "input": 2}]}'
    err = load_error(write_file, text, name="flow.json")
    assert "key 'input' appears twice" in str(err)


def test_an_empty_file_says_so(write_file: Write) -> None:
    err = load_error(write_file, "# only a comment\n")
    assert "the file is empty" in str(err)
