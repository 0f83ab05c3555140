"""Malformed and hostile workflow files and results: a clear error (exit 2 from the CLI) that
names the file and line, never a traceback, in bounded time and memory (docs/safety.md).

The listed cases come from an attack on ``podium validate``; the hypothesis tests generate
many more (fixed seed, bounded examples, so CI stays fast and repeatable).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import podium
from podium._utils.json_values import json_problem
from podium._utils.limits import MAX_ALIAS_NODES, MAX_DEPTH, excerpt
from podium.spec import load_workflow
from podium.spec.files import parse_json, parse_yaml

HEAD = "name: w\nagents:\n  - {name: a, capabilities: [x], handler: 'h:work'}\ntasks:\n"
HANDLERS = "def work(ctx):\n    return ctx.input\n\ndef huge(ctx):\n    return 10 ** 5000\n"

LAUGHS = "\n".join(
    [
        "name: w",
        "l0: &l0 [x, x, x, x, x, x, x, x, x, x]",
        *(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)),
        "tasks: [{id: a, capability: x, input: *l8}]",
    ]
)

# (text, file name, what the message says)
CASES = {
    "huge decimal": (HEAD + "  - {id: a, capability: x, input: " + "9" * 5000 + "}\n", "4,300"),
    "huge hex capacity": (
        "name: w\nagents:\n  - {name: a, capabilities: [x], handler: 'h:work', capacity: 0x"
        + "f" * 5000
        + "}\ntasks: [{id: a, capability: x}]\n",
        "4,300",
    ),
    "huge JSON int": (
        '{"name": "w", "tasks": [{"id": "a", "input": ' + "7" * 5000 + "}]}",
        "4,300",
    ),
    "block nesting": (
        HEAD
        + "  - id: a\n    capability: x\n    input:\n"
        + "".join(" " * (6 + 2 * i) + f"k{i}:\n" for i in range(300)),
        "nested deeper than 100",
    ),
    "flow nesting": (
        HEAD + "  - {id: a, capability: x, input: " + "[" * 500 + "]" * 500 + "}\n",
        "nested deeper",
    ),
    "JSON nesting": (
        '{"name": "w", "tasks": [{"id": "a", "input": ' + "[" * 990 + "]" * 990 + "}]}",
        "nested deeper",
    ),
    "very deep": ("[" * 50_000 + "]" * 50_000, "nested deeper"),
    "billion laughs": (LAUGHS, "aliases"),
    "replicas": (
        "name: w\nagents:\n  - {name: a, capabilities: [x], handler: 'h:work', "
        "replicas: {min: 10000000, max: 10000000}}\ntasks: [{id: a, capability: x}]\n",
        "less than or equal to 1000",
    ),
    "capacity": (
        "name: w\nagents:\n  - {name: a, capabilities: [x], handler: 'h:work', capacity: 100000000}"
        "\ntasks: [{id: a, capability: x}]\n",
        "less than or equal to 1000000",
    ),
    "retries": (
        HEAD + "  - {id: a, capability: x, retry: {max_attempts: 100000}}\n",
        "max_attempts",
    ),
    "python tag": (
        HEAD + "  - {id: a, capability: x, input: !!python/object/apply:os.system [ls]}\n",
        "tag",
    ),
    "two documents": (HEAD + "  - {id: a, capability: x}\n---\nname: z\n", "single document"),
    "recursive alias": (HEAD + "  - &t {id: a, capability: x, input: [*t]}\n", "undefined alias"),
}


def _file(tmp_path: Path, text: str) -> Path:
    (tmp_path / "h.py").write_text(HANDLERS)
    path = tmp_path / ("flow.json" if text.lstrip().startswith("{") else "flow.yaml")
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_file_is_a_clear_error(tmp_path: Path, case: str) -> None:
    text, says = CASES[case]
    path = _file(tmp_path, text)
    with pytest.raises(podium.ValidationError) as info:
        load_workflow(path)
    msg = str(info.value)
    assert msg.startswith(str(path)) and says in msg, msg
    assert len(msg) < 600, msg  # what it quotes is cut


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    """``podium validate`` in a process that may not use more than 500 MB."""
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (500 << 20, 500 << 20)); "
    code = limit + "import sys; from podium.cli import main; sys.argv[0] = 'podium'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a hang, not a timing assertion
        env={**os.environ, "NO_COLOR": "1"},
        cwd=path.parent,
    )


@pytest.mark.parametrize("case", ["huge hex capacity", "very deep", "billion laughs", "replicas"])
def test_the_cli_exits_2_with_one_line(tmp_path: Path, case: str) -> None:
    text, says = CASES[case]
    p = _validate(_file(tmp_path, text))
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and p.stderr.startswith("error: ") and says in p.stderr


def test_a_huge_id_is_cut_in_the_message(tmp_path: Path) -> None:
    big = "x" * 1_000_000
    path = _file(tmp_path, HEAD + f"  - {{id: a, capability: x, depends_on: [{big}]}}\n")
    with pytest.raises(podium.ValidationError) as info:
        load_workflow(path)
    assert "at most 1000 characters" in str(info.value) and len(str(info.value)) < 600


def test_a_huge_code_reference_is_cut_in_the_message(tmp_path: Path) -> None:
    ref = "m" * 1_000_000 + ":f"
    path = _file(tmp_path, HEAD.replace("h:work", ref) + "  - {id: a, capability: x}\n")
    with pytest.raises(podium.HandlerError) as info:
        load_workflow(path)
    assert "too long" in str(info.value) and len(str(info.value)) < 600


def test_aliases_within_the_budget_still_work(tmp_path: Path) -> None:
    text = HEAD + (
        "  - {id: a, capability: x, retry: &r {max_attempts: 3}}\n"
        "  - {id: b, capability: x, retry: *r}\n"
        "  - {id: c, capability: x, input: {<<: &base {k: 1, j: 2}, j: 3}}\n"
        "  - {id: d, capability: x, input: *base}\n"
    )
    wf = load_workflow(_file(tmp_path, text))
    assert wf.tasks["b"].retry.max_attempts == 3
    assert wf.tasks["c"].input == {"k": 1, "j": 3} and wf.tasks["d"].input == {"k": 1, "j": 2}


def test_the_limits_are_the_documented_ones() -> None:
    page = (Path(__file__).parent.parent / "docs" / "safety.md").read_text()
    assert f"{MAX_DEPTH} levels" in page and f"{MAX_ALIAS_NODES:,}" in page


def test_yaml_reads_as_pyyaml_does() -> None:
    text = (
        "a: [1, -2, 0x1f, 0o17, 017, 1_000, 1:30, +3]\nb: [1.5, .inf, -.inf, 1e3, 1:30.5]\n"
        "c: [yes, no, on, off, true, ~, null, '', 'x']\nd: {<<: [{p: 1}, {p: 2, q: 3}], r: 4}\n"
        "e: 2024-01-02\nf: !!str 12\ng: ! 12\nh: |\n  text\n"
    )
    assert parse_yaml(text, "f.yaml") == yaml.safe_load(text)


# -- results --------------------------------------------------------------------------------


def test_a_result_too_big_to_print_fails_its_task_only(tmp_path: Path) -> None:
    text = HEAD + (
        "  - {id: good, capability: x, input: 1}\n"
        "  - {id: bad, capability: y}\n"
        "  - {id: good2, capability: x, input: 2}\n"
    )
    text = text.replace(
        "tasks:",
        "  - {name: b, capabilities: [y], handler: 'h:huge'}\non_failure: continue\ntasks:",
    )
    path = _file(tmp_path, text)
    db = tmp_path / "runs.db"
    env = {**os.environ, "NO_COLOR": "1"}
    p = subprocess.run(
        [sys.executable, "-m", "podium", "run", str(path), "--json", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    doc = json.loads(p.stdout)
    assert doc["tasks"]["good"]["status"] == "completed" == doc["tasks"]["good2"]["status"]
    assert doc["tasks"]["bad"]["status"] == "failed"
    assert "4,300 digits" in doc["tasks"]["bad"]["error"]
    run_id = doc["run_id"]
    r = subprocess.run(
        [sys.executable, "-m", "podium", "resume", run_id, "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert "Traceback" not in r.stderr, r.stderr
    again = json.loads(r.stdout)
    assert (
        again["tasks"]["good"]["status"] == "completed"
        and again["tasks"]["bad"]["status"] == "failed"
    )


def test_json_problem_bounds_depth_and_integers() -> None:
    deep: object = 1
    for _ in range(5000):
        deep = [deep]
    assert "nested deeper" in (json_problem(deep) or "")
    assert "4,300" in (json_problem({"n": [1, 10**5000]}) or "")
    assert json_problem({"n": [1, 10**4000, "x", 1.5]}) is None


def test_excerpt_is_bounded() -> None:
    loop: list[object] = []
    loop.append(loop)
    for value in ("x" * 10**6, 10**100_000, loop, {i: [i] * 1000 for i in range(1000)}):
        assert len(excerpt(value)) <= 80


# -- generated files ------------------------------------------------------------------------

_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["x", "a", "h:work", "os:system", "medium", "continue", "0x" + "f" * 40]),
)
_value = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_task_keys = st.sampled_from(
    [
        "id",
        "capability",
        "agent",
        "input",
        "depends_on",
        "priority",
        "timeout",
        "retry",
        "cache",
        "pattern",
        "consensus",
        "pipeline",
        "swarm",
        "options",
        "bogus",
    ]
)
_agent_keys = st.sampled_from(
    [
        "name",
        "capabilities",
        "handler",
        "capacity",
        "replicas",
        "kind",
        "circuit_breaker",
        "metadata",
        "executor",
        "url",
    ]
)
_doc = st.fixed_dictionaries(
    {
        "name": st.one_of(st.just("w"), _value),
        "tasks": st.lists(st.dictionaries(_task_keys, _value, max_size=5), max_size=4),
    },
    optional={
        "agents": st.lists(st.dictionaries(_agent_keys, _value, max_size=5), max_size=3),
        "on_failure": _value,
        "max_concurrency": _value,
        "budget": _value,
    },
)

# text that is YAML-shaped but broken: cut, spliced and nested the way the attack did
_fragments = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a",
        "<<: ",
        "- ",
        ": ",
        "\n  ",
        "!!int ",
        "!!python/name:x",
        "0x" + "f" * 5000,
        "9" * 4400,
        "'",
        '"',
        "? ",
        "---\n",
        "%YAML 1.1\n",
        "\t",
        "\x00",
        "#",
    ]
)


def _check(tmp_path: Path, text: str, suffix: str) -> None:
    path = tmp_path / f"flow{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_workflow(path)
    except (podium.ValidationError, podium.HandlerError, podium.CapabilityError):
        pass  # anything else is a traceback at the command line


FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@seed(10)
@FUZZ
@given(doc=_doc, as_json=st.booleans())
def test_generated_workflows_never_raise_anything_else(
    tmp_path: Path, doc: dict[str, object], as_json: bool
) -> None:
    (tmp_path / "h.py").write_text(HANDLERS)
    if as_json:
        _check(tmp_path, json.dumps(doc), ".json")
    else:
        _check(tmp_path, yaml.safe_dump(doc, allow_unicode=True), ".yaml")


@seed(10)
@FUZZ
@given(
    parts=st.lists(st.one_of(_fragments, st.text(max_size=6)), max_size=30), at=st.integers(0, 200)
)
def test_broken_text_never_raises_anything_else(tmp_path: Path, parts: list[str], at: int) -> None:
    (tmp_path / "h.py").write_text(HANDLERS)
    base = HEAD + "  - {id: a, capability: x, input: {k: [1, 2]}}\n"
    text = base[:at] + "".join(parts) + base[at:]
    _check(tmp_path, text, ".yaml")
    _check(tmp_path, text, ".json")


@seed(10)
@FUZZ
@given(value=_value)
def test_parsers_agree_with_the_standard_ones(value: object) -> None:
    text = yaml.safe_dump(value, allow_unicode=True)
    assert parse_yaml(text, "f.yaml") == yaml.safe_load(text)
    text = json.dumps(value)
    assert parse_json(text, "f.json") == json.loads(text)
