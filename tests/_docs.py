"""Run the code blocks of a Markdown page exactly as printed (used by test_docs_examples.py).

The conventions every page follows (README.md, docs/*.md, examples/*/README.md):

- ```python blocks of one page run in order, in one namespace, in a temporary folder (the
  current directory, also first on ``sys.path``). Top-level ``await`` is allowed: such a block
  runs inside the page's event loop; a block without ``await`` runs with no loop running, so
  ``asyncio.run()`` and ``orch.run_sync()`` work in it.
- A ```yaml, ```json or ```python block whose first line is ``# file: NAME`` is written to
  NAME (without that line) before later blocks run, not executed. Other ```yaml and ```json
  blocks must parse.
- ```console blocks: each line starting with ``$ `` is a shell command run in that folder; it
  must exit 0, or the code N given by a line ``# exit: N`` right after it. Other lines are
  the output a reader can expect, and are not compared. ``podium`` and ``python`` are the
  interpreter running the tests.
- ```text (and unlabelled) blocks are shown, not run. ```sh / ```bash blocks are refused: write
  ```console with ``$ `` lines.
- ``<!-- no-run: reason -->`` on the line just before a block skips it: only for what cannot
  run on a machine without internet (a real LLM API, a remote cluster) or must not run in a
  test (installing podium itself).

Run as a script (``python _docs.py PAGE WORKDIR BINDIR``), it executes PAGE's blocks and exits
1 with the page and line of the first block that failed.
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
import traceback
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "DocsError", "blocks", "run_page"]

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*)$")
NO_RUN = re.compile(r"^\s*<!--\s*no-run:\s*(?P<why>\S.*?)\s*-->\s*$")
FILE = re.compile(r"^#\s*file:\s*(?P<name>\S+)\s*$")
EXIT = re.compile(r"^#\s*exit:\s*(?P<code>\d+)\s*$")
SHOWN = {"", "text", "txt", "output", "mermaid", "dot", "html", "pycon", "toml", "ini"}
REFUSED = {"sh", "bash", "shell", "zsh", "shell-session"}
COMMAND_TIMEOUT = 300.0


class DocsError(Exception):
    """A block that did not run as printed (the message names the page and line)."""


@dataclass
class Block:
    lang: str
    text: str
    line: int  # 1-based line of the block's first line of content
    no_run: str | None = None

    @property
    def file(self) -> str | None:
        first = self.text.split("\n", 1)[0]
        m = FILE.match(first)
        return m.group("name") if m else None


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order (indented fences included)."""
    out: list[Block] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m.group("indent"), m.group("fence")
        lang = m.group("info").strip().split(" ")[0].strip("{}.").lower()
        prev = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        no_run = NO_RUN.match(prev)
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            line = lines[j]
            stripped = line[len(indent) :] if line.startswith(indent) else line.lstrip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            body.append(stripped)
            j += 1
        out.append(Block(lang, "\n".join(body), i + 2, no_run.group("why") if no_run else None))
        i = j + 1
    return out


def commands(block: Block) -> list[tuple[int, str, int]]:
    """The ``$ `` commands of a console block: (line, command, expected exit code)."""
    out: list[tuple[int, str, int]] = []
    lines = block.text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            i += 1
            continue
        at = block.line + i
        cmd = line[2:]
        while cmd.endswith("\\") and i + 1 < len(lines):  # a command continued on the next line
            i += 1
            cmd = cmd[:-1] + "\n" + lines[i]
        expect = 0
        if i + 1 < len(lines) and (m := EXIT.match(lines[i + 1].strip())):
            expect = int(m.group("code"))
            i += 1
        out.append((at, cmd, expect))
        i += 1
    return out


def _where(page: Path, line: int) -> str:
    return f"{page}:{line}"


def _run_python(page: Path, block: Block, ns: dict, loop: asyncio.AbstractEventLoop) -> None:
    # pad with blank lines so tracebacks give the Markdown page's own line numbers
    source = "\n" * (block.line - 1) + block.text
    code = compile(source, str(page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if code.co_flags & inspect.CO_COROUTINE:
        loop.run_until_complete(eval(code, ns))
    else:
        exec(code, ns)


def _run_console(page: Path, block: Block, work: Path, env: dict[str, str]) -> None:
    found = commands(block)
    if not found:
        raise DocsError(f"{_where(page, block.line)}: a console block with no `$ ` command")
    for line, cmd, expect in found:
        p = subprocess.run(
            ["bash", "-c", cmd],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        if p.returncode != expect:
            raise DocsError(
                f"{_where(page, line)}: `{cmd}` exited {p.returncode}, expected {expect}\n"
                f"--- stdout\n{p.stdout[-4000:]}\n--- stderr\n{p.stderr[-4000:]}"
            )


def _write(work: Path, name: str, text: str) -> None:
    target = work / name
    target.parent.mkdir(parents=True, exist_ok=True)
    body = text.split("\n", 1)[1] if "\n" in text else ""
    target.write_text(body.rstrip("\n") + "\n", encoding="utf-8")


def run_page(page: Path, work: Path, bindir: Path) -> int:
    """Run every block of ``page`` in ``work``; return how many ran."""
    env = dict(os.environ)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    env.pop("PODIUM_DB", None)
    env.pop("FORCE_COLOR", None)
    os.chdir(work)
    sys.path.insert(0, str(work))
    ns: dict = {"__name__": "__main__"}
    loop = asyncio.new_event_loop()
    ran = 0
    try:
        for block in blocks(page.read_text(encoding="utf-8")):
            if block.no_run is not None:
                continue
            where = _where(page, block.line)
            lang = block.lang
            if lang in REFUSED:
                raise DocsError(
                    f"{where}: a ```{lang} block: write ```console with `$ ` before each "
                    "command, so the test runs it (or mark it <!-- no-run: reason -->)"
                )
            if block.file and lang in ("python", "py", "yaml", "yml", "json"):
                _write(work, block.file, block.text)
                ran += 1
                continue
            try:
                if lang in ("python", "py"):
                    _run_python(page, block, ns, loop)
                elif lang in ("yaml", "yml"):
                    import yaml

                    yaml.safe_load(block.text)
                elif lang == "json":
                    json.loads(block.text)
                elif lang == "console":
                    _run_console(page, block, work, env)
                elif lang in SHOWN:
                    continue
                else:
                    raise DocsError(f"{where}: a ```{lang} block: the docs test cannot run it")
            except DocsError:
                raise
            except BaseException as exc:
                tb = "".join(traceback.format_exception(exc))
                raise DocsError(f"{where}: the ```{lang} block failed:\n{tb}") from None
            ran += 1
    finally:
        pending = asyncio.all_tasks(loop)
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
    return ran


if __name__ == "__main__":
    page, work, bindir = (Path(a).resolve() for a in sys.argv[1:4])
    try:
        n = run_page(page, work, bindir)
    except DocsError as exc:
        print(exc, file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)
    print(f"{page}: {n} blocks ran")
    sys.stdout.flush()
    os._exit(0)  # do not wait for threads an example may have left behind
