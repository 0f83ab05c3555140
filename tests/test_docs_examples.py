"""Every code block of the README, the docs and the examples runs exactly as printed, and the
docs site builds with ``mkdocs build --strict``.

The conventions a page follows are in ``tests/_docs.py`` (and docs/contributing.md): python
blocks run in order in one namespace, ``# file: NAME`` blocks are written to files, console
blocks run their ``$ `` commands, ``<!-- no-run: reason -->`` skips a block. Each page runs in
its own process and temporary folder; an example's folder is copied there first.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from _docs import blocks, commands
from llm_fixture import ChatServer, Reply

ROOT = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).with_name("_docs.py")
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
PAGES = [
    ROOT / "README.md",
    *sorted(DOCS.glob("**/*.md")),
    *sorted(EXAMPLES.glob("*/README.md")),
]


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _bindir(tmp: Path) -> Path:
    """``podium`` and ``python`` for the console blocks: this interpreter, with this source."""
    bindir = tmp / "bin"
    bindir.mkdir()
    for name, args in (("podium", '-m podium "$@"'), ("python", '"$@"')):
        script = bindir / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" {args}\n', encoding="utf-8")
        script.chmod(0o755)
    return bindir


def _env() -> dict[str, str]:
    """This checkout's source first, whatever podium is installed."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": str(ROOT / "src") + (os.pathsep + path if path else "")}


# A page that holds this comment runs with OPENAI_BASE_URL pointing at a scripted
# chat-completions server (tests/llm_fixture.py), so its examples call "a model" as printed.
SCRIPTED_MODEL = re.compile(r"<!--\s*model:\s*scripted\s*-->")


def scripted_answer(body: dict) -> Reply:
    """What the docs' model says: a line about the last message, in the format the asking
    framework wants (CrewAI's agents end with "Final Answer:")."""
    messages = body.get("messages") or [{}]
    system = " ".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    asked = next((ln for ln in str(messages[-1].get("content") or "").splitlines() if ln), "")
    asked = asked.removeprefix("Current Task:").strip()
    text = f"Here is my answer to: {asked[:80]}"
    if "Final Answer:" in system:
        text = f"Thought: I now can give a great answer\nFinal Answer: {text}"
    return Reply(text=text)


@pytest.fixture(scope="session")
def scripted_model() -> Iterator[ChatServer]:
    with ChatServer(scripted_answer) as srv:
        yield srv


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_block_runs_as_printed(
    page: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    work = tmp_path / "work"
    if page.parent.parent == EXAMPLES:  # an example runs among its own files
        shutil.copytree(page.parent, work, ignore=shutil.ignore_patterns("__pycache__", "*.db*"))
    else:
        work.mkdir()
    if page.name == "ray.md":  # joins the session's Ray instance: starting one takes seconds
        request.getfixturevalue("ray_address")  # sets RAY_ADDRESS (and Ray's token) for it
    env = _env()
    if SCRIPTED_MODEL.search(page.read_text(encoding="utf-8")):
        srv = request.getfixturevalue("scripted_model")
        env.update(
            OPENAI_BASE_URL=srv.url,
            OPENAI_API_KEY="test",
            CREWAI_DISABLE_TELEMETRY="true",  # no calls home from the test
            CREWAI_STORAGE_DIR="podium-docs",
        )
    p = subprocess.run(
        [sys.executable, str(RUNNER), str(page), str(work), str(_bindir(tmp_path))],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert p.returncode == 0, f"{p.stderr[-8000:]}\n{p.stdout[-2000:]}"


def test_every_example_has_a_readme_that_runs_it() -> None:
    folders = [f for f in sorted(EXAMPLES.iterdir()) if f.is_dir() and f.name != "__pycache__"]
    assert folders, "examples/ has no example"
    for folder in folders:
        readme = folder / "README.md"
        assert readme.is_file(), f"{folder}: no README.md"
        runs = [c for b in blocks(readme.read_text()) if b.lang == "console" for c in commands(b)]
        assert runs, f"{readme}: no console block runs the example"


def test_conventions_of_the_block_reader(tmp_path: Path) -> None:
    text = (
        "intro\n\n```python\nx = 1\n```\n\n<!-- no-run: needs an API key -->\n"
        "```python\nimport openai\n```\n\n```yaml\n# file: flow.yaml\nname: x\n```\n\n"
        "```console\n$ podium validate flow.yaml\nok ...\n$ podium run bad.yaml\n# exit: 2\n"
        "$ echo a \\\n  b\n```\n"
    )
    found = blocks(text)
    assert [(b.lang, b.line, b.no_run, b.file) for b in found] == [
        ("python", 4, None, None),
        ("python", 9, "needs an API key", None),
        ("yaml", 13, None, "flow.yaml"),
        ("console", 18, None, None),
    ]
    assert commands(found[3]) == [
        (18, "podium validate flow.yaml", 0),
        (20, "podium run bad.yaml", 2),
        (22, "echo a \n  b", 0),
    ]


def _run_text(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    import tempfile

    tmp = Path(tempfile.mkdtemp(dir=tmp_path))
    page = tmp / "page.md"
    page.write_text(text, encoding="utf-8")
    work = tmp / "work"
    work.mkdir()
    return subprocess.run(
        [sys.executable, str(RUNNER), str(page), str(work), str(_bindir(tmp))],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )


def test_a_broken_block_names_its_page_and_line(tmp_path: Path) -> None:
    p = _run_text(tmp_path, "# t\n\n```python\nx = 1\n```\n\n```python\nprint(y)\n```\n")
    assert p.returncode == 1
    assert "page.md:8: the ```python block failed" in p.stderr
    assert "NameError" in p.stderr and 'page.md", line 8' in p.stderr
    p = _run_text(tmp_path, "```console\n$ exit 3\n```\n")
    assert p.returncode == 1 and "page.md:2: `exit 3` exited 3, expected 0" in p.stderr
    p = _run_text(tmp_path, "```sh\nls\n```\n")
    assert p.returncode == 1 and "write ```console" in p.stderr


def test_top_level_await_files_and_exit_codes(tmp_path: Path) -> None:
    text = (
        "```python\n# file: helper.py\nVALUE = 41\n```\n\n"
        "```python\nimport asyncio\nimport helper\n\nawait asyncio.sleep(0)\n"
        "n = helper.VALUE + 1\n```\n\n"
        "```python\nassert n == 42\nasyncio.run(asyncio.sleep(0))  # no loop runs here\n```\n\n"
        '```json\n# file: data.json\n{"a": 1}\n```\n\n'
        "```console\n$ python -c \"import json; print(json.load(open('data.json'))['a'])\"\n"
        "1\n$ exit 4\n# exit: 4\n```\n"
    )
    p = _run_text(tmp_path, text)
    assert p.returncode == 0, p.stderr
    assert "5 blocks ran" in p.stdout


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        if os.environ.get("PODIUM_REQUIRE_SERVICES"):
            pytest.fail("mkdocs is not installed: pip install -e '.[docs]'")
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    env = {**_env(), "NO_MKDOCS_2_WARNING": "1"}
    p = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-6000:]
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    for command in ("run", "validate", "graph", "demo", "resume", "runs", "status", "logs"):
        assert f"podium {command}" in cli, f"the CLI reference lacks `podium {command}`"
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert "Orchestrator" in api and "run_sync" in api


LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)#\s]+)(?:#[^)]*)?\)")


def test_readme_links_point_at_files_that_exist() -> None:
    for page in (ROOT / "README.md", *sorted(EXAMPLES.glob("*/README.md"))):
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"{page}: link to missing {target}"


def test_the_cli_reference_is_generated_from_the_cli(tmp_path: Path) -> None:
    from podium.cli.reference import update

    page = tmp_path / "cli.md"
    shutil.copy(DOCS / "cli.md", page)
    assert not update(page), "docs/cli.md is out of date: run `python -m podium.cli.reference`"
