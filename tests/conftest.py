"""Fixtures shared by the test files. Keep this small: helpers used by one file live there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
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
        "2000000",  # a 10,000-task workflow fits (the dashboard's test); 413 is tested above it
    )
    yield SimpleNamespace(url=served.url, keys=keys, db=db, folder=folder, proc=served)
    served.kill(15)


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """One local Ray instance for the whole session (2 CPUs, no dashboard): starting Ray takes
    seconds and hundreds of MB. This process is its first driver; RAY_ADDRESS is set so the
    podium processes tests start (CLI, docs pages) join it instead of starting their own."""
    import logging
    import os

    from _redis import skip_or_fail

    try:
        import ray
    except ImportError:
        skip_or_fail("ray is not installed (pip install -e '.[ray]')")

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=400 * 1024 * 1024,
            logging_level=logging.ERROR,
        )
    address = ray.get_runtime_context().gcs_address
    os.environ["RAY_ADDRESS"] = address
    try:
        yield address
    finally:
        os.environ.pop("RAY_ADDRESS", None)
        ray.shutdown()
