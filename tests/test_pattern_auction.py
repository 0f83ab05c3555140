"""Auction (contract net): bids from custom and default bid methods, the bid timeout, the
award as a pinned subtask, through the Python API and a workflow file run by the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import podium
from _cli import run_json
from podium.patterns.auction import default_bid


class Bidder(podium.Agent):
    """Bids a fixed price (None declines); an async bid waits ``delay`` seconds first."""

    capabilities = ["solve"]

    def __init__(self, name: str, price: Any, *, delay: float = 0.0, sync: bool = False) -> None:
        super().__init__(name)
        self.price = price
        self.delay = delay
        self.seen: list[str] = []
        if sync:
            self.bid = self._sync_bid  # type: ignore[method-assign]

    async def bid(self, task: podium.Task) -> Any:
        self.seen.append(task.id)
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.price

    def _sync_bid(self, task: podium.Task) -> Any:
        self.seen.append(task.id)
        return self.price

    async def handle(self, ctx: podium.Context) -> dict[str, Any]:
        return {"solved_by": self.name, "input": ctx.input}


async def auction(orch: podium.Orchestrator, **options: Any) -> podium.RunResult:
    wf = podium.Workflow("a")
    wf.task("job", capability="solve", input={"n": 7}, pattern="auction", options=options)
    return await orch.run(wf)


async def test_lowest_bid_wins_and_losing_bids_are_recorded(orch: podium.Orchestrator) -> None:
    cheap, dear, sync = Bidder("cheap", 1.5), Bidder("dear", 4), Bidder("sync", 2.0, sync=True)
    for a in (dear, cheap, sync):
        orch.register(a)
    result = await auction(orch)
    assert result.status == "completed"
    assert result["job"] == {
        "winner": "cheap",
        "bids": {"dear": 4.0, "cheap": 1.5, "sync": 2.0},
        "rejected": {},
        "result": {"solved_by": "cheap", "input": {"n": 7}},
    }
    # every agent was asked, with the announced task; only the winner ran it
    assert cheap.seen == dear.seen == sync.seen == ["job"]
    award = result.tasks["job/cheap"]
    assert award.status == "completed" and award.agent == "cheap"
    assert [t for t in result.tasks if t.startswith("job/")] == ["job/cheap"]


async def test_bids_close_at_the_timeout(orch: podium.Orchestrator) -> None:
    orch.register(Bidder("late", 0.1, delay=30))  # the best price, but far too late
    orch.register(Bidder("prompt", 3))
    result = await auction(orch, bid_timeout=0.05)
    out = result["job"]
    assert out["winner"] == "prompt" and out["bids"] == {"prompt": 3.0}
    assert out["rejected"] == {"late": "no bid within 0.05s"}


async def test_declined_failed_and_invalid_bids(orch: podium.Orchestrator) -> None:
    class Broken(Bidder):
        async def bid(self, task: podium.Task) -> Any:
            raise RuntimeError("no quote today")

    for a in (
        Bidder("shy", None),
        Bidder("odd", "cheap"),
        Bidder("neg", -1),
        Broken("broken", 0),
        Bidder("ok", 9),
    ):
        orch.register(a)
    out = (await auction(orch))["job"]
    assert out["winner"] == "ok"
    assert out["rejected"] == {
        "shy": "declined",
        "odd": "bid 'cheap' is not a non-negative number",
        "neg": "bid -1 is not a non-negative number",
        "broken": "bid raised RuntimeError: no quote today",
    }


async def test_no_valid_bid_fails_the_task(orch: podium.Orchestrator) -> None:
    orch.register(Bidder("shy", None))
    orch.register(Bidder("slow", 1, delay=30))
    result = await auction(orch, bid_timeout=0.05)
    assert result.status == "failed"
    err = result.tasks["job"].error
    assert "no valid bid within 0.05s (shy: declined; slow: no bid within 0.05s)" in err  # type: ignore[operator]
    assert "Raise auction.bid_timeout" in err  # type: ignore[operator]


async def test_default_bid_from_load_time_and_cost(orch: podium.Orchestrator) -> None:
    async def work(ctx: podium.Context) -> str:
        return ctx.agent

    quick = orch.register(podium.Agent("quick", ["solve"], handler=work, estimated_time=0.5))
    costly = orch.register(
        podium.Agent("costly", ["solve"], 2, handler=work, estimated_time=0.2, cost_estimate=3)
    )
    plain = orch.register(podium.Agent("plain", ["solve"], 4, handler=work))
    assert default_bid(quick) == pytest.approx(1 / 10 * 0.5)
    assert default_bid(costly) == pytest.approx(1 / 2 * 0.2 + 3)
    assert default_bid(plain) == pytest.approx(1 / 4 * 1.0)
    out = (await auction(orch))["job"]
    assert out["winner"] == "quick" and out["result"] == "quick"
    assert out["bids"] == pytest.approx({"quick": 0.05, "costly": 3.1, "plain": 0.25})


async def test_a_plain_class_can_bid(orch: podium.Orchestrator) -> None:
    class Contractor:
        capabilities = ["solve"]

        def bid(self, task: podium.Task) -> float:
            return 0.25

        async def handle(self, ctx: podium.Context) -> str:
            return "built"

    orch.register(Contractor)
    orch.register(Bidder("other", 1))
    out = (await auction(orch))["job"]
    assert out["winner"] == "Contractor" and out["result"] == "built"


async def test_a_failing_winner_fails_the_task(orch: podium.Orchestrator) -> None:
    class Flaky(Bidder):
        async def handle(self, ctx: podium.Context) -> Any:
            raise RuntimeError("gave up")

    orch.register(Flaky("flaky", 0))
    orch.register(Bidder("steady", 5))
    result = await auction(orch)
    assert result.status == "failed"
    err = result.tasks["job"].error
    assert "awarded subtask failed: 'job/flaky': RuntimeError: gave up" in err  # type: ignore[operator]


def test_bad_bid_timeout_is_rejected() -> None:
    with pytest.raises(podium.ValidationError) as err:
        podium.Task("job", capability="solve", pattern="auction", options={"bid_timeout": 0})
    assert "task 'job': auction.bid_timeout: should be greater than 0" in str(err.value)


AGENTS = """
import asyncio
import podium

class Printer(podium.Agent):
    async def bid(self, task):
        return self.metadata["price"]

    async def handle(self, ctx):
        return {"printed": ctx.input["pages"], "by": self.name}

class Sleepy(Printer):
    async def bid(self, task):
        await asyncio.sleep(30)
        return 0
"""

FLOW = """
name: print-shop
agents:
  - {name: alpha, capabilities: [print], handler: "agents:Printer", metadata: {price: 3}}
  - {name: beta, capabilities: [print], handler: "agents:Printer", metadata: {price: 2}}
  - {name: gamma, capabilities: [print], handler: "agents:Sleepy", metadata: {price: 0}}
tasks:
  - id: brochure
    capability: print
    input: {pages: 12}
    pattern: auction
    auction: {bid_timeout: 0.1}
"""


def test_workflow_file_end_to_end(write_file: Callable[[str, str], Path]) -> None:
    write_file("agents.py", AGENTS)
    path = write_file("flow.yaml", FLOW)
    p = run_json(path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    out = doc["tasks"]["brochure"]["result"]
    assert out["winner"] == "beta" and out["bids"] == {"alpha": 3.0, "beta": 2.0}
    assert out["rejected"] == {"gamma": "no bid within 0.1s"}
    assert out["result"] == {"printed": 12, "by": "beta"}
    assert doc["tasks"]["brochure/beta"]["agent"] == "beta"
