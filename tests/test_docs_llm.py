"""The LLM pages (docs/llm.md, docs/planning.md) and the README's LLM example run exactly as
printed, with the runner of tests/test_docs_adapters.py (until the docs-wide runner lands)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).with_name("test_docs_adapters.py")


@pytest.mark.parametrize("page", ["docs/llm.md", "docs/planning.md"])
def test_the_llm_pages_run_as_printed(page: str, tmp_path: Path) -> None:
    pytest.importorskip("openai")
    pytest.importorskip("numpy")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, args in (("podium", '-m podium "$@"'), ("python", '"$@"')):
        (bindir / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" {args}\n')
        (bindir / name).chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("OPENAI_BASE_URL", None)
    p = subprocess.run(
        [sys.executable, str(RUNNER), str(ROOT / page), str(work), str(bindir)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert p.returncode == 0, f"{page}:\n{p.stdout[-3000:]}\n{p.stderr[-6000:]}"
