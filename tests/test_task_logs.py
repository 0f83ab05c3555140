"""Task logs and tracebacks: what a handler prints, logs or writes with ctx.log lands on the
task that wrote it (across awaits, threads and concurrent tasks), bounded, stored with the
run, and shown by `podium logs`, `podium status --task`, `--json` and the report; a failed
attempt keeps its traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import podium
from podium.engine import logs as task_logs
from podium.engine.tracebacks import MAX_CHARS, last_frames


def texts(rec: podium.TaskResult, stream: str | None = None) -> list[str]:
    return [t for _, _, s, t in rec.logs if stream is None or s == stream]


def _inner(d: dict[str, int]) -> int:
    return d["missing"]


def _middle(d: dict[str, int]) -> int:
    return _inner(d) + 1


# -- tracebacks --------------------------------------------------------------------------------


async def test_a_failed_attempt_keeps_its_traceback(orch: podium.Orchestrator) -> None:
    @orch.agent(name="a", capabilities=["x"])
    async def handler(ctx: podium.Context) -> int:
        await asyncio.sleep(0)
        return _middle({})

    wf = podium.Workflow("w")
    wf.task("t", capability="x")
    result = await orch.run(wf)
    t = result.tasks["t"]
    assert t.error == "KeyError: 'missing'"
    tb = t.traceback
    assert tb is not None and tb.startswith("Traceback (most recent call last):")
    for frame in ("in handler", "in _middle", "in _inner"):
        assert frame in tb
    assert "podium/engine" not in tb and tb.rstrip().endswith("KeyError: 'missing'")
    assert result.to_dict()["tasks"]["t"]["traceback"] == tb
    short = last_frames(tb, 2)
    assert "in _inner" in short and "in handler" not in short


async def test_a_later_attempt_that_succeeds_clears_the_traceback(
    orch: podium.Orchestrator,
) -> None:
    @orch.agent(name="a", capabilities=["x"])
    def handler(ctx: podium.Context) -> int:
        if ctx.attempt == 1:
            raise ValueError("first try")
        return 7

    wf = podium.Workflow("w")
    wf.task("t", capability="x", retry={"max_attempts": 2, "initial_delay": 0.01})
    result = await orch.run(wf)
    assert result.tasks["t"].status == "completed"
    assert result.tasks["t"].traceback is None
    assert "traceback" not in result.to_dict()["tasks"]["t"]


async def test_a_timeout_has_no_traceback(orch: podium.Orchestrator) -> None:
    @orch.agent(name="a", capabilities=["x"])
    async def handler(ctx: podium.Context) -> None:
        await asyncio.sleep(30)

    wf = podium.Workflow("w")
    wf.task("t", capability="x", timeout=0.05)
    result = await orch.run(wf)
    assert result.tasks["t"].error == "timeout"
    assert result.tasks["t"].traceback is None


async def test_a_huge_traceback_is_bounded(orch: podium.Orchestrator) -> None:
    @orch.agent(name="a", capabilities=["x"])
    def handler(ctx: podium.Context) -> None:
        def down(n: int) -> None:
            if n == 0:
                raise RuntimeError("x" * 100_000)
            down(n - 1)

        down(300)

    wf = podium.Workflow("w")
    wf.task("t", capability="x")
    result = await orch.run(wf)
    tb = result.tasks["t"].traceback
    assert tb is not None and len(tb) <= MAX_CHARS + 100
    assert "characters cut" in tb and tb.startswith("Traceback")


# -- capture -----------------------------------------------------------------------------------


async def test_each_line_lands_on_the_task_that_wrote_it(
    orch: podium.Orchestrator, capsys: pytest.CaptureFixture[str]
) -> None:
    @orch.agent(name="async", capabilities=["a"], capacity=50)
    async def async_handler(ctx: podium.Context) -> str:
        print(f"before {ctx.task_id}")
        await asyncio.sleep(0.001 * (hash(ctx.task_id) % 5))
        print(f"after {ctx.task_id}", "part", sep="-", end="")
        await asyncio.sleep(0)
        print(" done")
        logging.getLogger("podium.test").warning("warned %s", ctx.task_id)
        ctx.log("structured", task=ctx.task_id, n=1)
        return ctx.task_id

    @orch.agent(name="thread", capabilities=["t"], capacity=8, executor="thread")
    def thread_handler(ctx: podium.Context) -> str:
        print(f"thread {ctx.task_id}", file=sys.stderr)
        time.sleep(0.002)
        print(f"thread again {ctx.task_id}")
        return ctx.task_id

    wf = podium.Workflow("w")
    for i in range(40):
        wf.task(f"a{i}", capability="a")
        wf.task(f"t{i}", capability="t")
    result = await orch.run(wf)
    assert result.ok
    for i in range(40):
        a = result.tasks[f"a{i}"]
        assert texts(a, "stdout") == [f"before a{i}", f"after a{i}-part done"]
        assert texts(a, "log") == [f"WARNING podium.test: warned a{i}"]
        assert texts(a, "ctx") == [f'structured {{"task": "a{i}", "n": 1}}']
        t = result.tasks[f"t{i}"]
        assert texts(t, "stderr") == [f"thread t{i}"]
        assert texts(t, "stdout") == [f"thread again t{i}"]
        assert all(attempt == 1 and at > 0 for at, attempt, _, _ in a.logs)
    out = capsys.readouterr()  # echoed, whole lines only
    assert "after a3-part done\n" in out.out and "thread t5\n" in out.err


async def test_echo_off_keeps_the_real_streams_clean(capsys: pytest.CaptureFixture[str]) -> None:
    orch = podium.Orchestrator(echo_logs=False)

    @orch.agent(name="a", capabilities=["x"])
    def handler(ctx: podium.Context) -> None:
        print("quiet")

    wf = podium.Workflow("w")
    wf.task("t", capability="x")
    try:
        result = await orch.run(wf)
    finally:
        await orch.close()
    assert texts(result.tasks["t"]) == ["quiet"]
    assert "quiet" not in capsys.readouterr().out
    assert not isinstance(sys.stdout, task_logs._Stream)  # restored after the run


async def test_capture_off_leaves_print_alone(capsys: pytest.CaptureFixture[str]) -> None:
    orch = podium.Orchestrator(capture_logs=False)

    @orch.agent(name="a", capabilities=["x"])
    def handler(ctx: podium.Context) -> None:
        print("plain")
        ctx.log("explicit lines are kept anyway")

    wf = podium.Workflow("w")
    wf.task("t", capability="x")
    try:
        result = await orch.run(wf)
    finally:
        await orch.close()
    assert texts(result.tasks["t"]) == ["explicit lines are kept anyway"]
    assert "plain" in capsys.readouterr().out


async def test_the_proxies_behave_like_the_real_streams(
    orch: podium.Orchestrator, capfd: pytest.CaptureFixture[str]
) -> None:
    """Code that reaches past ``write`` (``buffer``, ``errors``, ``fileno``) still works
    while podium captures; bytes written to the buffer go straight to the real stream."""

    @orch.agent(name="a", capabilities=["x"])
    def handler(ctx: podium.Context) -> str:
        sys.stdout.flush()
        sys.stdout.buffer.write(b"raw bytes\n")
        sys.stdout.buffer.flush()
        print("text", file=sys.stderr)
        return f"{sys.stdout.errors}/{sys.stderr.fileno() >= 0}/{sys.stdout.isatty()}"

    orch.echo_logs = False
    wf = podium.Workflow("w")
    wf.task("t", capability="x")
    result = await orch.run(wf)
    t = result.tasks["t"]
    assert t.status == "completed", t.error
    assert t.result.endswith("/True/False")
    assert texts(t) == ["text"]
    assert "raw bytes" in capfd.readouterr().out


async def test_an_echo_through_another_proxy_is_not_captured_twice(
    orch: podium.Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live display puts its own stdout in place that writes to stderr (rich does): the
    echoed line must not come back as the task's stderr."""
    written: list[str] = []

    class ToStderr:
        def write(self, s: str) -> int:
            written.append(s)
            return sys.stderr.write("\x1b[2K" + s)

        def flush(self) -> None:
            pass

    monkeypatch.setattr(sys, "stdout", ToStderr())

    @orch.agent(name="a", capabilities=["x"])
    def handler(ctx: podium.Context) -> None:
        print("once")

    wf = podium.Workflow("w")
    wf.task("t", capability="x")
    result = await orch.run(wf)
    assert [(s, t) for _, _, s, t in result.tasks["t"].logs] == [("stdout", "once")]
    assert written == ["once\n"]


async def test_a_live_display_that_prints_lines_does_not_feed_them_back(
    orch: podium.Orchestrator, capsys: pytest.CaptureFixture[str]
) -> None:
    """`podium run`'s display shows each line itself (``Run.on_log``), writing to the
    terminal while the handler's context is current: that output is not the task's."""

    @orch.agent(name="a", capabilities=["x"])
    def handler(ctx: podium.Context) -> None:
        print("shown once")

    wf = podium.Workflow("w")
    wf.task("t", capability="x")
    run = orch.prepare(wf)
    seen: list[str] = []

    def show(task_id: str, line: tuple) -> None:  # type: ignore[type-arg]
        seen.append(line[3])
        print(f"[{task_id}] {line[3]}", file=sys.stderr)

    run.on_log = show
    run_result = await orch.execute(run)
    assert seen == ["shown once"]
    assert texts(run_result.tasks["t"]) == ["shown once"]
    assert "[t] shown once" in capsys.readouterr().err


async def test_logs_are_bounded(orch: podium.Orchestrator) -> None:
    @orch.agent(name="a", capabilities=["x"])
    def handler(ctx: podium.Context) -> None:
        for i in range(task_logs.MAX_LINES + 500):
            print(i)
        print("y" * (task_logs.MAX_LINE * 3))

    orch.echo_logs = False
    wf = podium.Workflow("w")
    wf.task("t", capability="x")
    result = await orch.run(wf)
    t = result.tasks["t"]
    assert len(t.logs) == task_logs.MAX_LINES
    assert t.logs[-2][3] == str(task_logs.MAX_LINES - 2)
    assert t.logs[-1][3].startswith("(at most 1,000 lines are kept per task")
    assert t._logs_dropped == 502  # type: ignore[attr-defined]


async def test_a_task_that_writes_nothing_has_no_logs(orch: podium.Orchestrator) -> None:
    @orch.agent(name="a", capabilities=["x"])
    def handler(ctx: podium.Context) -> int:
        return 1

    wf = podium.Workflow("w")
    wf.task("t", capability="x")
    result = await orch.run(wf)
    assert result.tasks["t"].logs == [] and "logs" not in result.to_dict()["tasks"]["t"]
    assert not hasattr(result.tasks["t"], "_logs")


# -- stored, and shown by the CLI ----------------------------------------------------------------

HANDLERS = """
import asyncio, logging

def helper(d):
    return d["missing"]

async def flaky(ctx):
    print("working on", ctx.task_id)
    logging.getLogger("flow").warning("about to fail")
    await asyncio.sleep(0)
    return helper({})

def chatty(ctx):
    print("hello from", ctx.task_id)
    ctx.log("done", items=2)
    return 1
"""

FLOW = """
name: logs
on_failure: continue
agents:
  - {name: f, capabilities: [flaky], handler: "h:flaky"}
  - {name: c, capabilities: [chatty], handler: "h:chatty"}
tasks:
  - {id: boom, capability: flaky, retry: {max_attempts: 2, initial_delay: 0.01}}
  - {id: talk, capability: chatty}
"""


def podium_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podium", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One `podium run --json --db` of a workflow whose handlers print, log and fail."""
    folder = tmp_path_factory.mktemp("logs")
    (folder / "h.py").write_text(textwrap.dedent(HANDLERS))
    (folder / "flow.yaml").write_text(FLOW)
    done = podium_cli(folder, "run", "flow.yaml", "--json", "--db", "runs.db", "--run-id", "r1")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)  # the handlers' print() did not land before the document
    return folder, doc


def test_json_stays_clean_and_carries_tracebacks_and_logs(recorded: tuple[Path, dict]) -> None:
    _, doc = recorded
    boom, talk = doc["tasks"]["boom"], doc["tasks"]["talk"]
    assert "in helper" in boom["traceback"] and boom["error"] == "KeyError: 'missing'"
    lines = [(x["attempt"], x["stream"], x["text"]) for x in boom["logs"]]
    assert lines == [
        (1, "stdout", "working on boom"),
        (1, "log", "WARNING flow: about to fail"),
        (2, "stdout", "working on boom"),
        (2, "log", "WARNING flow: about to fail"),
    ]
    assert [x["text"] for x in talk["logs"]] == ["hello from talk", 'done {"items": 2}']


def test_logs_command_shows_lines_and_tracebacks(recorded: tuple[Path, dict]) -> None:
    folder, _ = recorded
    done = podium_cli(folder, "logs", "r1", "--db", "runs.db", "--task", "boom")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("working on boom") == 2 and "WARNING flow: about to fail" in out
    assert out.count('File "') >= 4  # both attempts' tracebacks, two frames each
    assert "hello from talk" not in out
    events = json.loads(podium_cli(folder, "logs", "r1", "--db", "runs.db", "--json").stdout)
    logs = [e for e in events if e.get("event") == "log"]
    assert {e["task"] for e in logs} == {"boom", "talk"}
    failed = [e for e in events if e.get("status") in ("retrying", "failed")]
    assert len(failed) == 2 and all("KeyError" in e["traceback"] for e in failed)


def test_logs_follow_on_a_finished_run_prints_and_exits(recorded: tuple[Path, dict]) -> None:
    folder, _ = recorded
    done = podium_cli(folder, "logs", "r1", "--db", "runs.db", "--follow", "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert any(e.get("text") == "hello from talk" for e in events)


def test_status_task_shows_the_whole_traceback(recorded: tuple[Path, dict]) -> None:
    folder, _ = recorded
    done = podium_cli(folder, "status", "r1", "--db", "runs.db", "--task", "boom")
    assert done.returncode == 0, done.stderr
    assert "Traceback (most recent call last)" in done.stdout
    assert "in flaky" in done.stdout and "working on boom" in done.stdout
    doc = json.loads(
        podium_cli(folder, "status", "r1", "--db", "runs.db", "-t", "boom", "--json").stdout
    )
    assert doc["task"] == "boom" and "in helper" in doc["traceback"]
    wrong = podium_cli(folder, "status", "r1", "--db", "runs.db", "--task", "bom")
    assert wrong.returncode == 2 and "Did you mean 'boom'" in wrong.stderr


def test_run_summary_shows_the_last_frames(recorded: tuple[Path, dict]) -> None:
    folder, _ = recorded
    done = podium_cli(folder, "run", "flow.yaml")
    assert done.returncode == 1
    assert "boom failed: KeyError: 'missing'" in done.stdout
    assert "in helper" in done.stdout and "about to fail" in done.stdout
    assert "Traceback" not in done.stderr


def test_report_shows_failures_with_traceback_and_logs(recorded: tuple[Path, dict]) -> None:
    folder, _ = recorded
    done = podium_cli(folder, "report", "r1", "--db", "runs.db", "-o", "r.html")
    assert done.returncode == 0, done.stderr
    page = (folder / "r.html").read_text()
    failures = page.split("<h2>Failures</h2>")[1].split("<h2>")[0]
    assert "in helper" in failures and "working on boom" in failures
    assert "<h2>Logs</h2>" in page and "hello from talk" in page
