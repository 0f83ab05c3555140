"""Many servers, one database: two `podium serve` on the real PostgreSQL; one is SIGKILLed
mid-run and the other takes its runs over and finishes them, completed tasks kept."""

from __future__ import annotations

import collections

import httpx
import pytest

from _pg import pg_schema
from _server import Served, wait_for, wait_run

pytest.importorskip("fastapi")


async def test_a_killed_servers_runs_finish_on_another(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with pg_schema() as url:
        args = ("--insecure-no-auth", "--lease-ttl", "1.5")
        a = Served(tmp_path / "a", url, *args)
        b = Served(tmp_path / "b", url, *args)
        try:
            ca = httpx.Client(base_url=a.url, timeout=30)
            cb = httpx.Client(base_url=b.url, timeout=30)
            chain = [
                {"id": f"s{i}", "capability": "slow", "input": {"sleep": 0.3},
                 **({"depends_on": [f"s{i - 1}"]} if i else {})}
                for i in range(8)
            ]  # fmt: skip
            runs = [
                ca.post("/api/v1/runs", json={"name": f"chain{n}", "tasks": chain}).json()["run_id"]
                for n in range(3)
            ]

            def started() -> bool:
                return all(
                    ca.get(f"/api/v1/runs/{r}", params={"tasks": False}).json()["counts"][
                        "completed"
                    ]
                    >= 2
                    for r in runs
                )

            wait_for(started, 60, "each run to complete two tasks on a")
            a.kill()  # SIGKILL: no handover, its leases just stop being renewed
            for run_id in runs:
                doc = wait_run(cb, run_id, 120)
                assert doc["status"] == "completed", doc
                assert all(t["status"] == "completed" for t in doc["tasks"].values())
                logs = cb.get(f"/api/v1/runs/{run_id}/logs").json()
                done = collections.Counter(
                    e["task"] for e in logs if e.get("status") == "completed"
                )
                assert set(done) == {t["id"] for t in chain}
                assert set(done.values()) == {1}, done  # none completed twice
                assert any(e.get("event") == "resumed" for e in logs)
                assert doc["owner"] == cb.get("/readyz").json()["server"]
        finally:
            a.kill()
            b.kill(15)
