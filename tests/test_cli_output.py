"""What the command line prints: tables that never break ids, plain records in pipes, plurals,
and the hints of its error messages ("Did you mean", failed imports)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from podium._utils.text import did_you_mean, plural
from podium.cli import output

LONG = "nightly-ingest-of-the-warehouse-2026-11-29"


def _podium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "podium", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


def _rows() -> tuple[list[output.Column], list[list[object]]]:
    columns = [
        output.Column("task", "id"),
        output.Column("agent", "id"),
        output.Column("status"),
        output.Column("attempts", right=True),
        output.Column("error", "text"),
    ]
    rows: list[list[object]] = [
        [Text(LONG), Text("pattern:pipeline"), Text("failed"), "3", "KeyError: 'missing' " * 4],
        [Text("b"), Text("-"), Text("skipped"), "0", ""],
    ]
    return columns, rows


def _terminal(monkeypatch: pytest.MonkeyPatch, width: int) -> io.StringIO:
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, width=width, no_color=True)
    monkeypatch.setitem(output.CONSOLES, False, con)
    return buf


@pytest.mark.parametrize("width", [120, 100, 90])
def test_a_terminal_table_fits_and_never_breaks_ids(
    monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    buf = _terminal(monkeypatch, width)
    output.table(*_rows())
    import re

    lines = re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue()).splitlines()
    assert all(len(line) <= width for line in lines), lines
    assert all(line == line.rstrip() for line in lines)
    assert any(line.startswith(LONG + "  ") for line in lines), lines
    assert any("pattern:pipeline" in line for line in lines)


def test_a_terminal_too_narrow_for_the_ids_gets_one_record_per_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _terminal(monkeypatch, 80)
    output.table(*_rows())
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # the header and one line per record
    assert lines[1].startswith(LONG + "  pattern:pipeline  failed")


def test_off_a_terminal_each_record_is_one_line_without_trailing_spaces(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(output.CONSOLES, False, Console(file=io.StringIO(), force_terminal=False))
    output.table(*_rows())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["task", "agent", "status", "attempts", "error"]
    assert lines[1].split()[:4] == [LONG, "pattern:pipeline", "failed", "3"]
    assert lines[2].split() == ["b", "-", "skipped", "0"]
    assert all(line == line.rstrip() for line in lines)


def test_piped_run_and_runs_keep_long_ids_whole(tmp_path: Path) -> None:
    (tmp_path / "h.py").write_text("def work(ctx):\n    raise KeyError('missing')\n")
    (tmp_path / "flow.yaml").write_text(
        "name: the-nightly-warehouse-ingest\n"
        "agents:\n  - {name: a-very-long-agent-name-for-the-warehouse, capabilities: [w], "
        "handler: 'h:work'}\n"
        f"tasks:\n  - {{id: {LONG}, capability: w}}\n"
    )
    p = _podium("run", "flow.yaml", "--db", "runs.db", "--run-id", LONG, cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    row = next(line for line in p.stdout.splitlines() if line.startswith(LONG))
    assert row.split()[:3] == [LONG, "a-very-long-agent-name-for-the-warehouse", "failed"]
    assert row.endswith("KeyError: 'missing'")
    assert all(line == line.rstrip() for line in p.stdout.splitlines())
    p = _podium("runs", "--db", "runs.db", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1].split()[:3] == [LONG, "the-nightly-warehouse-ingest", "failed"]
    assert all(line == line.rstrip() for line in p.stdout.splitlines())
    p = _podium("logs", LONG, "--db", "runs.db", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert all(line == line.rstrip() for line in p.stdout.splitlines())
    again = _podium("run", "flow.yaml", "--db", "runs.db", "--run-id", "again", cwd=tmp_path)
    assert (
        "after fixing the cause, `podium resume again --db runs.db` runs the tasks that did "
        "not complete"
    ) in again.stderr


def test_plurals() -> None:
    assert plural(1, "task") == "1 task"
    assert plural(0, "task") == "0 tasks"
    assert plural(2, "entry", "entries") == "2 entries"


def test_validate_says_1_task_and_1_agent(tmp_path: Path) -> None:
    (tmp_path / "h.py").write_text("def work(ctx):\n    return 1\n")
    (tmp_path / "one.yaml").write_text(
        "name: one\nagents:\n  - {name: a, capabilities: [w], handler: 'h:work'}\n"
        "tasks:\n  - {id: t, capability: w}\n"
    )
    p = _podium("validate", "one.yaml", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "workflow 'one', 1 task, 1 agent, depth 1" in p.stdout
    p = _podium("run", "one.yaml", cwd=tmp_path)
    assert "workflow 'one', 1 task\n" in p.stdout


def test_did_you_mean() -> None:
    assert did_you_mean("reserch", ["research", "write"]) == " Did you mean 'research'?"
    assert did_you_mean("zzz", ["research"]) == ""


@pytest.mark.parametrize(
    ("tasks", "handler", "expected"),
    [
        (
            "{id: t, capability: reserch}",
            "h:fetch",
            "no agent has capability 'reserch' (capabilities: research). Did you mean 'research'?",
        ),
        (
            "{id: t, agent: researcher-1}",
            "h:fetch",
            "agent 'researcher-1' is not registered (agents: researcher). "
            "Did you mean 'researcher'?",
        ),
        (
            "{id: t, capability: research}",
            "h:fecth",
            "handler 'h:fecth': module 'h' has no 'fecth'. Did you mean 'fetch'?",
        ),
    ],
)
def test_misspelled_names_get_a_hint(
    tmp_path: Path, tasks: str, handler: str, expected: str
) -> None:
    (tmp_path / "h.py").write_text("def fetch(ctx):\n    return 1\n")
    (tmp_path / "f.yaml").write_text(
        f"name: f\nagents:\n  - {{name: researcher, capabilities: [research], "
        f"handler: '{handler}'}}\ntasks:\n  - {tasks}\n"
    )
    p = _podium("validate", "f.yaml", cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert expected in p.stderr, p.stderr


def test_a_handler_module_whose_own_import_fails_says_which(tmp_path: Path) -> None:
    (tmp_path / "h.py").write_text("import os\nimport requestz\n\n\ndef run(ctx):\n    return 1\n")
    (tmp_path / "z.py").write_text("def run(ctx):\n    return 1\n\n\nsettings = {}['debug']\n")
    for module, expected in (
        (
            "h",
            "handler 'h:run': importing module 'h' failed at h.py line 2 (import requestz): "
            "ModuleNotFoundError: No module named 'requestz'. Install 'requestz' or fix the "
            "import in 'h'.",
        ),
        (
            "z",
            "handler 'z:run': importing module 'z' failed at z.py line 5 "
            "(settings = {}['debug']): KeyError: 'debug'. Fix the module so it imports.",
        ),
    ):
        (tmp_path / "f.yaml").write_text(
            f"name: f\nagents:\n  - {{name: a, capabilities: [w], handler: '{module}:run'}}\n"
            "tasks:\n  - {id: t, capability: w}\n"
        )
        p = _podium("validate", "f.yaml", cwd=tmp_path)
        assert p.returncode == 2 and "Traceback" not in p.stderr
        assert expected in p.stderr, p.stderr
        assert "next to the workflow file" not in p.stderr
