"""Agent kinds: ``kind:`` on an agent picks how it runs; each kind validates its own fields."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import podium
from podium.agents.kinds import AgentKind, AgentSpec, get_kind, kind_names, register_kind
from podium.agents.kinds.python import PythonKind
from podium.spec import parse_workflow


class Echo(AgentKind):
    name = "echo-test"

    class spec(AgentSpec):
        prefix: str = ""
        times: int = 1

    def build(self, spec, origin):
        def echo(ctx):
            return spec.prefix + str(ctx.input) * spec.times

        return podium.Agent(handler=echo, executor="inline", **spec.agent_options())


def _wf(agent: dict) -> dict:
    return {
        "name": "k",
        "agents": [agent],
        "tasks": [{"id": "t", "capability": "say", "input": "ab"}],
    }


def test_python_is_the_default_kind() -> None:
    assert isinstance(get_kind("python"), PythonKind)
    assert "python" in kind_names()


def test_a_registered_kind_builds_and_runs_its_agents() -> None:
    register_kind(Echo)
    wf = parse_workflow(
        _wf({"name": "e", "kind": "echo-test", "capabilities": ["say"], "prefix": ">", "times": 2})
    )
    assert wf.agents[0].capacity == 10  # the shared fields keep their defaults
    result = podium.Orchestrator().run_sync(wf)
    assert result.tasks["t"].result == ">abab"


def test_a_kind_checks_its_own_fields() -> None:
    register_kind(Echo)
    with pytest.raises(podium.ValidationError) as err:
        parse_workflow(_wf({"name": "e", "kind": "echo-test", "time": 2}), source="f.yaml")
    assert "f.yaml: agent 'e': unknown field 'time'. Did you mean 'times'?" in str(err.value)
    assert err.value.field == "time"
    with pytest.raises(podium.ValidationError) as err:
        parse_workflow(_wf({"name": "e", "kind": "echo-test", "times": "x"}), source="f.yaml")
    assert "agent 'e': field 'times'" in str(err.value)


def test_fields_of_another_kind_are_refused() -> None:
    # `handler` belongs to kind python, not to echo-test
    register_kind(Echo)
    with pytest.raises(podium.ValidationError) as err:
        parse_workflow(_wf({"name": "e", "kind": "echo-test", "handler": "m:f"}), source="f.yaml")
    assert "unknown field 'handler'" in str(err.value)


def test_an_unknown_kind_is_named_with_a_hint(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "name: k\n"
        "agents:\n"
        "  - {name: w, kind: pyton, handler: 'x:y', capabilities: [say]}\n"
        "tasks:\n"
        "  - {id: t, capability: say}\n"
    )
    p = subprocess.run(
        [sys.executable, "-m", "podium", "validate", str(flow)], capture_output=True, text=True
    )
    assert p.returncode == 2, p.stderr
    assert f"{flow}: agent 'w': kind 'pyton' is not an agent kind. Did you mean 'python'?" in (
        p.stderr
    )
    assert "Traceback" not in p.stderr


def test_a_kind_without_a_name_is_refused() -> None:
    class Nameless(AgentKind):
        pass

    with pytest.raises(podium.ValidationError, match="has no name"):
        register_kind(Nameless)
