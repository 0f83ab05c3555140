"""A store's or a bus's server going away gets its own exit code (3, service unavailable), one
``error:`` line with no traceback, and the command that resumes the run. The services are
reached through a proxy the test cuts, so the real ones keep serving the other tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

import podium
from _pg import PG_URL, pg_schema
from _proxy import Proxy
from _redis import REDIS_URL, redis_namespace
from podium.bus import open_bus

HANDLERS = "import asyncio\n\nasync def work(ctx):\n    await asyncio.sleep(0.05)\n    return 1\n"


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))


def workflow(folder: Path, tasks: int = 200) -> Path:
    (folder / "outage_handlers.py").write_text(HANDLERS)
    lines = [
        "name: outage",
        "agents:",
        "  - {name: w, capabilities: [x], handler: 'outage_handlers:work', capacity: 2}",
        "tasks:",
        *(f"  - {{id: t{i}, capability: x}}" for i in range(tasks)),
    ]
    path = folder / "flow.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def podium_cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "podium", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_postgres_going_away_mid_run_exits_3_with_the_resume_command(tmp_path: Path) -> None:
    flow = workflow(tmp_path)

    async def scenario() -> None:
        async with pg_schema() as url:
            with Proxy(
                urlsplit(PG_URL).hostname or "127.0.0.1", urlsplit(PG_URL).port or 5432
            ) as p:
                proc = podium_cli("run", str(flow), "--db", through(url, p.port), cwd=tmp_path)
                started = await asyncio.to_thread(proc.stdout.readline)  # type: ignore[union-attr]
                assert started.startswith("run "), started + proc.stderr.read()  # type: ignore[union-attr]
                run_id = started.split()[1]
                p.cut()
                out, err = await asyncio.to_thread(proc.communicate, timeout=120)
            assert proc.returncode == 3, err
            assert "Traceback" not in err and "Traceback" not in out
            errors = [line for line in err.splitlines() if line.startswith("error: ")]
            assert len(errors) == 1 and "went away" in errors[0], err
            assert f"podium resume {run_id} --db" in err
            # once it is back (here: straight to the server), the run resumes and completes
            resumed = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "podium", "resume", run_id, "--db", url],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,
            )
            assert resumed.returncode == 0, resumed.stderr

    asyncio.run(scenario())


def test_postgres_away_at_the_start_exits_3(tmp_path: Path) -> None:
    flow = workflow(tmp_path, tasks=2)
    with Proxy(urlsplit(PG_URL).hostname or "127.0.0.1", urlsplit(PG_URL).port or 5432) as p:
        p.cut()
        proc = podium_cli("run", str(flow), "--db", through(PG_URL, p.port), cwd=tmp_path)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3 and "Traceback" not in err, err
    assert err.startswith("error: ") and "cannot connect to PostgreSQL" in err


def test_redis_going_away_is_bus_unavailable() -> None:
    async def scenario() -> None:
        async with redis_namespace() as namespace:
            target = urlsplit(REDIS_URL)
            with Proxy(target.hostname or "127.0.0.1", target.port or 6379) as p:
                bus = open_bus(through(REDIS_URL, p.port), namespace=namespace)
                try:
                    await bus.send("a", {"n": 1})
                    p.cut()
                    with pytest.raises(podium.ServiceUnavailable) as info:
                        await bus.send("a", {"n": 2})
                    assert isinstance(info.value, podium.BusUnavailable)
                    assert isinstance(info.value, podium.BusError)
                finally:
                    await bus.close()

    asyncio.run(scenario())
