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


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One `podium serve` for the whole session (SQLite), with a key per role; see
    tests/_server.py. Tests use capabilities and agent names of their own on it."""
    pytest.importorskip("fastapi")
    from types import SimpleNamespace

    from _server import JWT_AUDIENCE, JWT_SECRET, Served, make_key

    folder = tmp_path_factory.mktemp("server")
    db = str(folder / "server.db")
    keys = {role: make_key(db, role) for role in ("admin", "operator", "viewer", "worker")}
    served = Served(
        folder,
        db,
        "--jwt-secret",
        JWT_SECRET,
        "--jwt-audience",
        JWT_AUDIENCE,
        "--worker-ttl",
        "2",
        "--allow-host",
        "127.0.0.1",
        "--max-body",
        "200000",
    )
    yield SimpleNamespace(url=served.url, keys=keys, db=db, folder=folder, proc=served)
    served.kill(15)
