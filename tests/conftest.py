"""Fixtures shared by the test files. Keep this small: helpers used by one file live there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

import podium


@pytest.fixture
async def orch() -> AsyncIterator[podium.Orchestrator]:
    """A fresh orchestrator, closed (agents torn down, thread pool stopped) after the test."""
    o = podium.Orchestrator()
    yield o
    await o.close()


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """``write_file("flow.yaml", text)`` writes a file under ``tmp_path`` and returns its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
