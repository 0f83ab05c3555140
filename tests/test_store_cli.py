"""The CLI of recorded runs, end to end as a subprocess: run --db, resume, runs, status, logs,
report, and every store error a user can cause (exit 2, a message naming the file or URL, no
traceback)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import podium
from _pg import pg_schema

HANDLERS = """
import os

def work(ctx):
    with open(os.environ["PODIUM_CLI_LOG"], "a") as f:
        f.write(ctx.task_id + "\\n")
    if ctx.task_id == "c" and not os.environ.get("PODIUM_CLI_FIXED"):
        raise RuntimeError("c is broken")
    return {"task": ctx.task_id, "deps": sorted(ctx.deps)}
"""

FLOW = """
name: cli-store
agents:
  - {name: w, capabilities: [work], capacity: 1, handler: "cli_store_handlers:work"}
tasks:
  - {id: a, capability: work}
  - {id: b, capability: work, depends_on: [a]}
  - {id: c, capability: work, depends_on: [a]}
  - {id: d, capability: work, depends_on: [b, c]}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "cli_store_handlers.py").write_text(HANDLERS, encoding="utf-8")
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    return tmp_path


def podium_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PODIUM_CLI_LOG": str(cwd / "calls.log"), **env}
    full_env.pop("PODIUM_DB", None)
    full_env.pop("PODIUM_CLI_FIXED", None)
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "podium", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def calls(project: Path) -> list[str]:
    log = project / "calls.log"
    return log.read_text().split() if log.exists() else []


def test_a_recorded_run_can_be_listed_inspected_resumed_and_reported(project: Path) -> None:
    db = str(project / "runs.db")
    first = podium_cli("run", "flow.yaml", "--db", db, "--run-id", "cli-1", "--json", cwd=project)
    assert first.returncode == 1, first.stderr
    assert first.stderr.splitlines()[0].startswith("run cli-1 started")  # the id comes first
    doc = json.loads(first.stdout)
    assert doc["status"] == "failed" and doc["tasks"]["d"]["status"] == "skipped"

    status = podium_cli("status", "cli-1", "--db", db, "--json", cwd=project)
    assert status.returncode == 0, status.stderr
    stored = json.loads(status.stdout)
    assert stored.keys() == doc.keys()
    assert (stored["run_id"], stored["workflow"], stored["status"]) == (
        "cli-1",
        "cli-store",
        "failed",
    )
    assert stored["tasks"] == doc["tasks"]  # the same document as `run --json`
    assert stored["stats"]["completed"] == doc["stats"]["completed"] == 2

    listed = podium_cli("runs", "--db", db, "--json", cwd=project)
    (run,) = json.loads(listed.stdout)
    assert {k: run[k] for k in ("run_id", "workflow", "status")} == {
        "run_id": "cli-1",
        "workflow": "cli-store",
        "status": "failed",
    }

    before = calls(project)
    resumed = podium_cli("resume", "cli-1", "--db", db, "--json", cwd=project, PODIUM_CLI_FIXED="1")
    assert resumed.returncode == 0, resumed.stderr
    again = json.loads(resumed.stdout)
    assert again["status"] == "completed"
    assert sorted(calls(project)[len(before) :]) == ["c", "d"]  # a and b did not run again
    assert again["tasks"]["a"] == doc["tasks"]["a"]

    logs = podium_cli("logs", "cli-1", "--db", db, "--json", cwd=project)
    events = json.loads(logs.stdout)
    c_events = [(e["status"], e["attempt"]) for e in events if e["task"] == "c"]
    assert c_events == [("running", 1), ("failed", 1), ("running", 2), ("completed", 2)]
    assert any(e["task"] is None and e["event"] == "resumed" for e in events)

    only_c = podium_cli("logs", "cli-1", "--db", db, "--task", "c", "--json", cwd=project)
    assert {e["task"] for e in json.loads(only_c.stdout)} == {"c"}

    text = podium_cli("logs", "cli-1", "--db", db, cwd=project)
    assert "RuntimeError: c is broken" in text.stdout and "event resumed" in text.stdout

    table = podium_cli("runs", "--db", db, cwd=project)
    assert "cli-1" in table.stdout and "completed" in table.stdout and "4/4" in table.stdout

    shown = podium_cli("status", "cli-1", "--db", db, cwd=project)
    assert "run cli-1 (cli-store) completed" in shown.stdout

    out = project / "report.html"
    rep = podium_cli("report", "cli-1", "--db", db, "--out", str(out), cwd=project)
    assert rep.returncode == 0, rep.stderr
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "cli-store" in html


def test_resuming_a_completed_run_shows_it_and_leaves_it_alone(project: Path) -> None:
    db = str(project / "runs.db")
    ok = podium_cli(
        "run", "flow.yaml", "--db", db, "--run-id", "done", cwd=project, PODIUM_CLI_FIXED="1"
    )
    assert ok.returncode == 0, ok.stderr
    listed = json.loads(podium_cli("runs", "--db", db, "--json", cwd=project).stdout)
    stored = json.loads(podium_cli("status", "done", "--db", db, "--json", cwd=project).stdout)
    ran = len(calls(project))
    p = podium_cli("resume", "done", "--db", db, "--json", cwd=project)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == stored  # the recorded document, as `status --json`
    assert "run done completed already: nothing to resume" in p.stderr
    text = podium_cli("resume", "done", "--db", db, cwd=project)
    assert text.returncode == 0 and "run done (cli-store) completed" in text.stdout
    assert len(calls(project)) == ran
    assert json.loads(podium_cli("runs", "--db", db, "--json", cwd=project).stdout) == listed


def test_run_ids_and_the_db_url_are_checked(project: Path) -> None:
    db = str(project / "runs.db")
    ok = podium_cli("run", "flow.yaml", "--db", db, "--run-id", "dup", cwd=project)
    assert ok.stdout.splitlines()[0].startswith("run dup started")
    ran = len(calls(project))
    again = podium_cli("run", "flow.yaml", "--db", db, "--run-id", "dup", cwd=project)
    assert again.returncode == 2
    assert "a run with id 'dup' exists already. Resume it with `podium resume dup" in again.stderr
    bad = podium_cli("run", "flow.yaml", "--db", db, "--run-id", "no spaces/", cwd=project)
    assert bad.returncode == 2 and "run id 'no spaces/' is not valid" in bad.stderr
    scheme = podium_cli("run", "flow.yaml", "--db", "mysql://root@db/x", cwd=project)
    assert scheme.returncode == 2
    assert "error: mysql://root@db/x: unknown store URL scheme 'mysql'" in scheme.stderr
    assert len(calls(project)) == ran, "nothing ran after the first run"


def _empty_store(path: Path) -> None:
    import asyncio

    from podium.stores import open_store

    async def create() -> None:
        store = open_store(str(path))
        await store.open()
        await store.close()

    asyncio.run(create())


@pytest.mark.parametrize("command", ["status", "logs", "resume"])
def test_an_unknown_run_id_is_named(project: Path, command: str) -> None:
    db = project / "runs.db"
    _empty_store(db)
    p = podium_cli(command, "ghost", "--db", str(db), cwd=project)
    assert p.returncode == 2
    assert f"error: {db}: no run with id 'ghost'" in p.stderr and "Traceback" not in p.stderr


def test_corrupt_and_foreign_files_are_refused(project: Path) -> None:
    corrupt = project / "corrupt.db"
    corrupt.write_bytes(os.urandom(8192))
    p = podium_cli("runs", "--db", str(corrupt), cwd=project)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert f"error: {corrupt}: is not a podium store" in p.stderr
    foreign = project / "app.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE orders (id INTEGER)")
    conn.commit()
    conn.close()
    p = podium_cli("run", "flow.yaml", "--db", str(foreign), "--json", cwd=project)
    assert p.returncode == 2
    assert "is a SQLite database of another application (tables: orders)" in p.stderr
    assert json.loads(p.stdout)["error"] == "StoreError"  # --json: the error as JSON too
    assert not calls(project)


def test_an_unreachable_or_missing_database_is_named(project: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://127.0.0.1:{port}/podium"
    p = podium_cli("runs", "--db", url, cwd=project)
    assert p.returncode == 3 and "Traceback" not in p.stderr  # service unavailable
    assert f"error: {url}: cannot connect to PostgreSQL" in p.stderr
    missing = podium_cli("status", "x", "--db", str(project / "no" / "runs.db"), cwd=project)
    assert missing.returncode == 2 and "no such store file" in missing.stderr


@pytest.mark.parametrize(
    "command", [["runs"], ["status", "r"], ["logs", "r"], ["report", "r"], ["resume", "r"]]
)
def test_commands_that_read_refuse_a_store_file_that_does_not_exist(
    project: Path, command: list[str]
) -> None:
    _empty_store(project / "runs.db")
    p = podium_cli(*command, "--db", str(project / "run.db"), cwd=project)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert f"error: --db {project / 'run.db'}: no such store file" in p.stderr
    assert "Did you mean" in p.stderr and "runs.db" in p.stderr
    assert not (project / "run.db").exists(), "a typo must not create a store"


def test_a_workflow_built_in_python_says_how_to_resume_it(project: Path) -> None:
    db = str(project / "runs.db")
    orch = podium.Orchestrator(store=db)

    @orch.agent(name="w", capabilities=["py"])
    def work(ctx):
        raise RuntimeError("no")

    wf = podium.Workflow("in-code")
    wf.task("t", capability="py")
    assert orch.run_sync(wf, run_id="py-1").status == "failed"
    p = podium_cli("resume", "py-1", "--db", db, cwd=project)
    assert p.returncode == 2
    assert "no agent has capability 'py'" in p.stderr
    assert "resume it from Python with the agents registered" in p.stderr


def test_the_db_option_is_required_and_report_checks_its_folder(project: Path) -> None:
    p = podium_cli("runs", cwd=project)
    assert p.returncode == 2 and "--db" in p.stderr
    db = str(project / "runs.db")
    podium_cli("run", "flow.yaml", "--db", db, "--run-id", "r", cwd=project)
    bad = podium_cli(
        "report", "r", "--db", db, "--out", str(project / "no" / "r.html"), cwd=project
    )
    assert bad.returncode == 2 and "folder" in bad.stderr and "does not exist" in bad.stderr
    env = podium_cli("runs", cwd=project, PODIUM_DB=db)  # the environment gives a default
    assert env.returncode == 0 and "\nr " in env.stdout


async def test_a_run_recorded_in_postgresql_resumes_from_the_cli(project: Path) -> None:
    async with pg_schema() as url:
        first = podium_cli("run", "flow.yaml", "--db", url, "--run-id", "pg-1", cwd=project)
        assert first.returncode == 1, first.stderr
        fixed = podium_cli(
            "resume", "pg-1", "--db", url, "--json", cwd=project, PODIUM_CLI_FIXED="1"
        )
        assert fixed.returncode == 0, fixed.stderr
        assert json.loads(fixed.stdout)["status"] == "completed"
        status = podium_cli("status", "pg-1", "--db", url, "--json", cwd=project)
        doc = json.loads(status.stdout)
        assert doc["status"] == "completed" and doc["tasks"]["d"]["result"]["deps"] == ["b", "c"]
        assert calls(project).count("a") == 1
