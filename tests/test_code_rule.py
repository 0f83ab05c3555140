"""Code runs only from where the user said: a workflow file names handlers and pattern
functions from its own folder, its handlers' package, or the allow-list (``--allow-module``,
``PODIUM_ALLOW_MODULES``, ``allow_modules=``); and a module next to a workflow never shadows
one that podium (or anything it imports) asks for (docs/safety.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import podium
from podium.spec import load_workflow

SYSTEM = "name: w\nagents:\n  - {name: a, capabilities: [x], handler: 'os:system'}\n" + (
    "tasks: [{id: a, capability: x, input: 'echo owned > owned.txt'}]\n"
)
NORMALIZE = """\
name: w
agents:
  - {name: a, capabilities: [x], handler: 'mine:work', replicas: {min: 3, max: 3}}
tasks:
  - id: vote
    capability: x
    pattern: consensus
    consensus: {agents: 3, normalize: 'os:system'}
"""
MINE = "def work(ctx):\n    return 'yes'\n\ndef lower(value):\n    return str(value).lower()\n"
MARKER = "import pathlib\npathlib.Path(__file__).with_suffix('.ran').write_text('ran')\n"


def podium_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # -P: the interpreter itself puts no folder first on sys.path (as the `podium` script)
    return subprocess.run(
        [sys.executable, "-P", "-m", "podium", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def test_a_handler_from_elsewhere_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(SYSTEM)
    with pytest.raises(podium.ValidationError) as info:
        load_workflow(path)
    msg = str(info.value)
    assert "handler 'os:system'" in msg and "not in the workflow's folder" in msg
    assert "--allow-module os" in msg and info.value.field == "handler"


def test_a_pattern_function_from_elsewhere_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(MINE)
    path = tmp_path / "flow.yaml"
    path.write_text(NORMALIZE)
    with pytest.raises(podium.ValidationError) as info:
        load_workflow(path)
    assert "consensus.normalize 'os:system'" in str(info.value)
    assert info.value.task == "vote"
    path.write_text(NORMALIZE.replace("os:system", "mine:lower"))
    assert load_workflow(path).tasks["vote"].pattern == "consensus"


def test_the_allow_list_three_ways(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(SYSTEM)
    assert load_workflow(path, allow_modules=["os"]).name == "w"
    orch = podium.Orchestrator(allow_modules=["os"])
    assert orch.prepare(path).workflow.name == "w"
    refused = podium_cli("validate", str(path), cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error: ")
    flag = podium_cli("validate", str(path), "--allow-module", "os", cwd=tmp_path)
    env = podium_cli("validate", str(path), cwd=tmp_path, env={"PODIUM_ALLOW_MODULES": "json,os"})
    assert flag.returncode == 0 == env.returncode, flag.stderr + env.stderr
    assert not (tmp_path / "owned.txt").exists()  # validating runs nothing


def test_the_handlers_package_may_hold_pattern_functions() -> None:
    # the demo's handlers are podium.demo.agents:...: its workflow lives in that package
    from podium.demo import DEMO_WORKFLOW

    assert load_workflow(DEMO_WORKFLOW).name


@pytest.mark.parametrize("cwd_is_the_folder", [False, True])
def test_a_module_next_to_the_workflow_shadows_nothing(
    tmp_path: Path, cwd_is_the_folder: bool
) -> None:
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "mine.py").write_text(MINE + "import colorsys  # the standard library's\n")
    for name in ("colorsys", "sqlalchemy", "typing_extensions"):
        (folder / f"{name}.py").write_text(MARKER)
    flow = folder / "flow.yaml"
    flow.write_text(
        "name: w\nagents:\n  - {name: a, capabilities: [x], handler: 'mine:work'}\n"
        "tasks: [{id: a, capability: x}]\n"
    )
    cwd = folder if cwd_is_the_folder else tmp_path
    ok = podium_cli("validate", str(flow), cwd=cwd)
    assert ok.returncode == 0, ok.stderr
    ran = podium_cli("run", str(flow), "--db", str(tmp_path / "runs.db"), cwd=cwd)
    assert ran.returncode == 0, ran.stderr
    assert not list(folder.glob("*.ran")), "a module next to the workflow replaced another"


def test_a_handler_module_named_like_an_installed_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "colorsys.py").write_text(MINE)
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "name: w\nagents:\n  - {name: a, capabilities: [x], handler: 'colorsys:work'}\n"
        "tasks: [{id: a, capability: x}]\n"
    )
    with pytest.raises(podium.HandlerError, match="Rename the file"):
        load_workflow(flow)
    import colorsys

    assert hasattr(colorsys, "rgb_to_hsv")


def test_loading_puts_no_folder_first_on_sys_path(tmp_path: Path) -> None:
    (tmp_path / "mine_first.py").write_text(MINE)
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "name: w\nagents:\n  - {name: a, capabilities: [x], handler: 'mine_first:work'}\n"
        "tasks: [{id: a, capability: x}]\n"
    )
    before = list(sys.path)
    load_workflow(flow)
    assert sys.path[: len(before)] == before  # at most appended


def test_two_folders_with_a_module_of_the_same_name(tmp_path: Path) -> None:
    flows = []
    for n in (1, 2):
        folder = tmp_path / f"f{n}"
        folder.mkdir()
        (folder / "same_name_handlers.py").write_text(f"def work(ctx):\n    return {n}\n")
        flow = folder / "flow.yaml"
        flow.write_text(
            "name: w\nagents:\n  - {name: a, capabilities: [x], handler: 'same_name_handlers:work'}"
            "\ntasks: [{id: a, capability: x}]\n"
        )
        flows.append(flow)
    results = [podium.Orchestrator().run_sync(f)["a"] for f in flows]
    assert results == [1, 2]
