"""The adapter pages (docs/langchain.md, docs/mcp.md) run exactly as printed.

They follow the docs conventions: ```python blocks run in order in one namespace (top-level
``await`` allowed) in a temporary folder; a block whose first line is ``# file: NAME`` is
written to NAME instead; ```console blocks run their ``$ `` lines (exit 0, or the ``# exit: N``
on the next line); ```yaml and ```json blocks must parse; ``<!-- no-run: why -->`` on the line
before a block skips it. The docs-wide runner (tests/test_docs_examples.py, when it lands)
covers these pages too; this one keeps them honest meanwhile.

Run as a script (``python test_docs_adapters.py PAGE WORKDIR BINDIR``) it runs one page.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["docs/langchain.md", "docs/mcp.md"]
FENCE = re.compile(r"^```(\w*)\s*$")
NO_RUN = re.compile(r"^<!--\s*no-run:.*-->\s*$")


def blocks(text: str) -> list[tuple[str, str, int, bool]]:
    """(language, body, line of the body, skipped) of each fenced block."""
    out = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        prev = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        out.append((m.group(1), "\n".join(lines[i + 1 : end]), i + 2, bool(NO_RUN.match(prev))))
        i = end + 1
    return out


def run_page(page: Path, work: Path, bindir: Path) -> None:
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["NO_COLOR"] = "1"
    os.chdir(work)
    sys.path.insert(0, str(work))
    ns: dict = {"__name__": "__main__"}
    loop = asyncio.new_event_loop()
    for lang, body, line, skipped in blocks(page.read_text()):
        first = body.split("\n", 1)[0]
        if skipped:
            continue
        if first.startswith("# file: "):
            (work / first[8:].strip()).write_text(body.split("\n", 1)[1] + "\n")
        elif lang == "python":
            code = compile(
                "\n" * (line - 1) + body, str(page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            )
            if code.co_flags & inspect.CO_COROUTINE:
                loop.run_until_complete(eval(code, ns))
            else:
                exec(code, ns)
        elif lang == "console":
            cmds = body.split("\n")
            for k, cmd in enumerate(cmds):
                if not cmd.startswith("$ "):
                    continue
                nxt = cmds[k + 1].strip() if k + 1 < len(cmds) else ""
                expect = int(nxt[7:]) if nxt.startswith("# exit:") else 0
                p = subprocess.run(
                    cmd[2:], shell=True, cwd=work, env=env, capture_output=True, text=True,
                    timeout=600,
                )  # fmt: skip
                assert p.returncode == expect, (
                    f"{page}:{line + k}: `{cmd[2:]}` exited {p.returncode}\n{p.stdout}\n{p.stderr}"
                )
        elif lang == "yaml":
            import yaml

            yaml.safe_load(body)
        elif lang == "json":
            json.loads(body)


def test_the_adapter_pages_run_as_printed(tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("langchain_core")
    pytest.importorskip("mcp")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, args in (("podium", '-m podium "$@"'), ("python", '"$@"')):
        (bindir / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" {args}\n')
        (bindir / name).chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for page in PAGES:
        work = tmp_path / Path(page).stem
        work.mkdir()
        p = subprocess.run(
            [sys.executable, __file__, str(ROOT / page), str(work), str(bindir)],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
        assert p.returncode == 0, f"{page}:\n{p.stdout[-3000:]}\n{p.stderr[-6000:]}"


if __name__ == "__main__":
    run_page(*(Path(a).resolve() for a in sys.argv[1:4]))
    sys.stdout.flush()
    os._exit(0)  # do not wait for threads an example may have left behind
