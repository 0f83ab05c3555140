"""The ``podium`` command line, end to end: each test runs ``python -m podium`` as a subprocess.

Fixture workflows and their handler module live in ``tests/cli_fixtures/``; workflows that
only exist to be wrong are written to ``tmp_path`` next to a copy of that module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "cli_fixtures"
AGENTS = FIXTURES / "cli_fixture_agents.py"
RUN_LINE = re.compile(r"^run ([0-9a-zA-Z_-]+) started: workflow '[^']*', \d+ tasks?$")
TASK_KEYS = {"status", "result", "agent", "attempts", "error", "started_at", "finished_at"}


def podium(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "podium", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
    )


def no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout


@pytest.fixture
def flow(tmp_path: Path):
    """``flow(text)`` writes a workflow file (with the fixture handlers beside it)."""
    shutil.copy(AGENTS, tmp_path / AGENTS.name)

    def write(text: str, name: str = "flow.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


AGENT = """\
name: broken
agents:
  - {name: worker, capabilities: [work], handler: "cli_fixture_agents:work"}
"""

# (workflow text, fragments the message must contain)
INVALID = {
    "unknown field": (
        AGENT + "tasks:\n  - {id: a, capability: work}\n"
        "  - {id: b, capability: work, depends: [a]}\n",
        ["task 'b'", "unknown field 'depends'", "Did you mean 'depends_on'?"],
    ),
    "cycle": (
        AGENT + "tasks:\n  - {id: a, capability: work, depends_on: [b]}\n"
        "  - {id: b, capability: work, depends_on: [a]}\n",
        ["cycle", "'a' -> 'b' -> 'a'", "depends_on"],
    ),
    "missing dependency": (
        AGENT + "tasks:\n  - {id: a, capability: work, depends_on: [ghost]}\n",
        ["task 'a'", "depends_on names 'ghost'", "not a task"],
    ),
    "duplicate id": (
        AGENT + "tasks:\n  - {id: a, capability: work}\n  - {id: a, capability: work}\n",
        ["task id 'a'", "more than once"],
    ),
    "unknown capability": (
        AGENT + "tasks:\n  - {id: paint-it, capability: paint}\n",
        ["task 'paint-it'", "no agent has capability 'paint'", "work"],
    ),
    "handler import": (
        "name: broken\nagents:\n  - {name: ghostly, capabilities: [work], handler: 'nope:run'}\n"
        "tasks:\n  - {id: a, capability: work}\n",
        ["agent 'ghostly'", "handler 'nope:run'", "cannot import module 'nope'"],
    ),
    "bad yaml": (
        AGENT + "tasks:\n  - {id: a, capability: work\n",
        ["invalid YAML"],
    ),
    "wrong type": (
        AGENT + "tasks:\n  - {id: slow-one, capability: work, timeout: abc}\n",
        ["task 'slow-one'", "field 'timeout'", "'abc'"],
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_validate_names_what_is_wrong(flow, case: str) -> None:
    text, fragments = INVALID[case]
    path = flow(text)
    p = podium("validate", str(path))
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("error: "), p.stderr
    assert str(path) in p.stderr
    for fragment in fragments:
        assert fragment in p.stderr
    assert p.stdout == ""
    no_traceback(p)


def test_validate_missing_file(tmp_path: Path) -> None:
    p = podium("validate", str(tmp_path / "nowhere.yaml"))
    assert p.returncode == 2
    assert p.stderr == f"error: {tmp_path / 'nowhere.yaml'}: no such file.\n"
    no_traceback(p)


@pytest.mark.parametrize("case", ["cycle", "unknown capability"])
def test_run_rejects_invalid_files_before_running(flow, case: str) -> None:
    text, fragments = INVALID[case]
    p = podium("run", str(flow(text)))
    assert p.returncode == 2
    assert p.stderr.startswith("error: ")
    assert all(f in p.stderr for f in fragments)
    assert "started" not in p.stdout + p.stderr  # nothing ran
    no_traceback(p)


def test_run_json_reports_invalid_input_as_one_document(flow) -> None:
    p = podium("run", str(flow(INVALID["cycle"][0])), "--json")
    assert p.returncode == 2
    doc = json.loads(p.stdout)
    assert doc["error"] == "CycleError"
    assert doc["field"] == "depends_on"
    assert "'a' -> 'b' -> 'a'" in doc["message"]
    assert p.stderr.startswith("error: ")


def test_validate_ok() -> None:
    path = FIXTURES / "ok.yaml"
    p = podium("validate", str(path))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"ok {path}: workflow 'cli-ok', 3 tasks, 1 agent, depth 2")
    assert "'fetch-1' -> 'say \"hi\"'" in p.stdout


def test_validate_json() -> None:
    p = podium("validate", str(FIXTURES / "ok.yaml"), "--json")
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    assert doc["valid"] is True
    assert (doc["workflow"], doc["tasks"], doc["agents"], doc["depth"]) == ("cli-ok", 3, 1, 2)
    assert doc["critical_path"][-1] == 'say "hi"'


def test_run_prints_run_id_first_then_a_summary() -> None:
    p = podium("run", str(FIXTURES / "ok.yaml"))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    m = RUN_LINE.match(lines[0])
    assert m, lines[0]
    header = next(line for line in lines if line.startswith("task"))
    assert header.split() == ["task", "agent", "status", "attempts", "duration"]
    for tid in ("fetch-1", "fetch.2", 'say "hi"'):
        row = next(line for line in lines if line.startswith(tid + " "))
        assert row.split()[-4:-1] == ["worker", "completed", "1"]
    assert lines[-1].startswith(f"run {m.group(1)} completed")
    assert "\x1b" not in p.stdout + p.stderr  # not a terminal: no control codes
    no_traceback(p)


def test_run_json_is_one_document() -> None:
    p = podium("run", str(FIXTURES / "ok.yaml"), "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert {"run_id", "status", "tasks", "stats"} <= doc.keys()
    assert doc["status"] == "completed"
    assert set(doc["tasks"]) == {"fetch-1", "fetch.2", 'say "hi"'}
    for rec in doc["tasks"].values():
        assert set(rec) == TASK_KEYS
        assert rec["status"] == "completed" and rec["agent"] == "worker"
        assert rec["attempts"] == 1 and rec["error"] is None
    assert doc["tasks"]['say "hi"']["result"] == {
        "task": 'say "hi"',
        "deps": ["fetch-1", "fetch.2"],
    }
    assert doc["stats"]["completed"] == 3
    # the run id goes to stderr first, so stdout holds only the document
    m = RUN_LINE.match(p.stderr.splitlines()[0])
    assert m and m.group(1) == doc["run_id"]


def test_failing_task_fails_the_run_with_exit_1() -> None:
    p = podium("run", str(FIXTURES / "fail.yaml"))
    assert p.returncode == 1
    bad = next(line for line in p.stdout.splitlines() if line.startswith("bad "))
    assert "failed" in bad and "ValueError: boom in bad" in bad
    assert "failed" in p.stdout.splitlines()[-1]
    assert p.stderr == ""  # a task's failure is not a CLI error
    no_traceback(p)


def test_failing_task_json() -> None:
    p = podium("run", str(FIXTURES / "fail.yaml"), "--json")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["status"] == "failed"
    assert doc["tasks"]["bad"]["status"] == "failed"
    assert doc["tasks"]["bad"]["error"] == "ValueError: boom in bad"
    assert doc["tasks"]["after-bad"]["status"] == "skipped"


def test_on_failure_continue_ends_partial() -> None:
    p = podium("run", str(FIXTURES / "partial.yaml"), "--json")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["status"] == "partial"
    assert doc["tasks"]["ok"]["status"] == "completed"
    assert doc["tasks"]["after-bad"]["status"] == "skipped"


def test_summary_of_a_big_run_is_capped(flow) -> None:
    tasks = "".join(f"  - {{id: t{i:03d}, capability: work}}\n" for i in range(70))
    p = podium("run", str(flow(AGENT + "tasks:\n" + tasks)))
    assert p.returncode == 0, p.stderr
    rows = [line for line in p.stdout.splitlines() if re.match(r"t\d{3} ", line)]
    assert len(rows) == 50
    assert "... 20 more tasks" in p.stdout
    assert "70 completed" in p.stdout.splitlines()[-1]


def _interrupt(
    sig: signal.Signals, *args: str, file: str = "slow.yaml", twice: bool = False
) -> tuple[subprocess.Popen[str], str, str]:
    """Start a run, wait for its run id, send ``sig`` (``twice``: again once the run says it
    is cancelling); returns (proc, stdout, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "podium", "run", str(FIXTURES / file), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        first = (proc.stderr if args else proc.stdout).readline()  # type: ignore[union-attr]
        assert RUN_LINE.match(first.strip()), first
        proc.send_signal(sig)
        if twice:
            said = proc.stderr.readline()  # type: ignore[union-attr]
            assert said.startswith("interrupted: cancelling running tasks"), said
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)
            err = said + err
        else:
            out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if not args:  # the run id line was on stdout
        out = first + out
    return proc, out, err


def test_ctrl_c_cancels_the_run_and_exits_130() -> None:
    proc, out, err = _interrupt(signal.SIGINT)
    assert proc.returncode == 130, err
    assert "Traceback" not in out + err
    assert "cancelled" in out.splitlines()[-1]
    rows = {
        line.split()[0]: line.split()
        for line in out.splitlines()
        if line.split()[:1] in (["s1"], ["s2"], ["s3"], ["after"])
    }
    assert rows["after"][2] == "skipped"
    assert {row[2] for row in rows.values()} <= {"cancelled", "skipped"}
    assert "Aborted" not in err
    assert "nothing was recorded (no --db)" in err


def test_ctrl_c_with_a_store_says_how_to_resume(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc, out, err = _interrupt(signal.SIGINT, "--json", "--db", str(db))
    assert proc.returncode == 130, err
    run_id = json.loads(out)["run_id"]
    assert f"continue it with `podium resume {run_id} --db {db}`" in err
    assert "Traceback" not in err


def test_ctrl_c_with_json_prints_the_cancelled_run() -> None:
    proc, out, err = _interrupt(signal.SIGINT, "--json")
    assert proc.returncode == 130
    doc = json.loads(out)
    assert doc["status"] == "cancelled"
    assert doc["tasks"]["after"]["status"] == "skipped"
    assert {rec["status"] for rec in doc["tasks"].values()} <= {"cancelled", "skipped"}
    assert "Traceback" not in err


def test_second_ctrl_c_stops_waiting_for_handlers_that_ignore_cancellation() -> None:
    proc, out, err = _interrupt(signal.SIGINT, file="stubborn.yaml", twice=True)
    assert proc.returncode == 130
    assert "interrupted again: not waiting for 1 running task" in err
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.split()}
    assert rows["stuck"][2] == "running"
    assert rows["later"][2] == "skipped"
    assert "cancelled" in out.splitlines()[-1]
    assert "Traceback" not in out + err


def test_sigterm_cancels_the_run_and_exits_143() -> None:
    proc, out, err = _interrupt(signal.SIGTERM, "--json")
    assert proc.returncode == 143
    assert json.loads(out)["status"] == "cancelled"
    assert "Traceback" not in err


def test_graph_mermaid() -> None:
    p = podium("graph", str(FIXTURES / "ok.yaml"))
    assert p.returncode == 0, p.stderr
    assert "flowchart TD" in p.stdout
    nodes = dict(re.findall(r'^\s+(n\d+)\["(.*)"\]$', p.stdout, re.M))
    edges = re.findall(r"^\s+(n\d+) --> (n\d+)$", p.stdout, re.M)
    assert len(nodes) == 3 and len(edges) == 2
    assert all(a in nodes and b in nodes for a, b in edges)
    labels = {name: label.split("<br/>")[0] for name, label in nodes.items()}
    named = {(labels[a], labels[b]) for a, b in edges}
    assert named == {("fetch-1", "say #quot;hi#quot;"), ("fetch.2", "say #quot;hi#quot;")}


def test_graph_dot() -> None:
    p = podium("graph", str(FIXTURES / "ok.yaml"), "--format", "dot")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("digraph ")
    nodes = re.findall(r"^\s+(n\d+) \[label=<", p.stdout, re.M)
    edges = re.findall(r"^\s+(n\d+) -> (n\d+);$", p.stdout, re.M)
    assert len(nodes) == 3 and len(edges) == 2
    assert all(a in nodes and b in nodes for a, b in edges)
    assert "say &quot;hi&quot;" in p.stdout


def test_graph_rejects_a_cycle_and_an_unknown_format(flow) -> None:
    p = podium("graph", str(flow(INVALID["cycle"][0])))
    assert p.returncode == 2 and "'a' -> 'b' -> 'a'" in p.stderr
    no_traceback(p)
    p = podium("graph", str(FIXTURES / "ok.yaml"), "--format", "png")
    assert p.returncode == 2 and "png" in p.stderr
    no_traceback(p)


def test_version_and_help() -> None:
    from podium import __version__

    p = podium("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"podium {__version__}"
    p = podium("--help")
    assert p.returncode == 0
    for command in ("run", "validate", "graph", "demo"):
        assert command in p.stdout
    assert "..." not in p.stdout.split("Commands:")[1], "a command's description was cut"
    assert "--install-completion" in p.stdout


@pytest.mark.parametrize(
    "command",
    ["run", "validate", "graph", "demo", "resume", "runs", "status", "logs", "report", "mcp"],
)
def test_help_has_no_typer_artefacts(command: str) -> None:
    p = podium(command, "--help")
    assert p.returncode == 0, p.stderr
    for artefact in ("{", "<int", "<path>", "<text>", "range>"):
        assert artefact not in p.stdout, f"`podium {command} --help` shows {artefact!r}"
    assert "[OPTIONS]" in p.stdout.splitlines()[0]


def test_shell_completion_completes_commands() -> None:
    env = {**os.environ, "_PODIUM_COMPLETE": "complete_bash", "COMP_WORDS": "podium ru"}
    env["COMP_CWORD"] = "1"
    p = subprocess.run(
        [sys.executable, "-m", "podium"], capture_output=True, text=True, env=env, timeout=60
    )
    assert p.stdout.split() == ["run", "runs"], p.stderr


def test_cli_import_leaves_heavy_libraries_alone() -> None:
    # `podium --help` must start fast: pydantic and yaml load only in the commands using them
    code = (
        "import sys, podium.cli\n"
        "heavy = [m for m in ('pydantic', 'yaml', 'podium.spec.loader') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ""


def test_demo_rejects_a_missing_output_folder(tmp_path: Path) -> None:
    p = podium("demo", "--out", str(tmp_path / "no" / "such" / "report.md"))
    assert p.returncode == 2
    assert p.stderr.startswith("error: --out ") and "does not exist" in p.stderr
    no_traceback(p)


def _has_demo() -> bool:
    import importlib.util

    return importlib.util.find_spec("podium.demo") is not None


@pytest.mark.skipif(not _has_demo(), reason="the podium.demo package is not there yet")
def test_demo_runs_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    p = podium("demo", "--out", str(out), "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["status"] == "completed"
    assert len(doc["tasks"]) > 1
    text = out.read_text(encoding="utf-8")
    assert text.strip()
    assert f"report written to {out}" in p.stderr
    # the search that fails on purpose: the report says why it was retried
    assert re.search(r"`research-\w+` \(2 attempts; attempt 1 failed: ConnectionError: ", text)
    no_traceback(p)


def test_run_does_not_wait_for_a_timed_out_thread(flow) -> None:
    # the handler's thread sleeps far longer than podium() lets the command take (60 s):
    # the command must end once the run is over, not when the thread does
    path = flow(
        "name: napper\n"
        "agents:\n"
        '  - {name: sleeper, capabilities: [nap], handler: "cli_fixture_agents:nap"}\n'
        "tasks:\n"
        "  - {id: nap, capability: nap, timeout: 0.2, input: {seconds: 300}}\n"
    )
    p = podium("run", str(path), "--json")
    no_traceback(p)
    assert p.returncode == 1
    assert json.loads(p.stdout)["tasks"]["nap"]["error"] == "timeout"
