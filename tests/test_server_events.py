"""The event hub's ring: a client that reconnects, or follows one run from its start, gets
exactly the events it missed, in order (the hub alone, no server)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from podium.server.events import EventHub


def _fill(hub: EventHub, runs: list[str], per_run: int) -> None:
    """``per_run`` events of each run, interleaved, published through the hub's flush."""
    for i in range(per_run):
        for rid in runs:
            hub.publish("tick", rid, n=i)
        hub.flush()


async def _backlog(hub: EventHub, run: str | None, last_id: int) -> list[dict[str, Any]]:
    stream = hub.stream(run, None, last_id)
    first = await anext(stream)
    await stream.aclose()
    out = []
    for block in first.decode().split("\n\n"):
        data = [line[6:] for line in block.split("\n") if line.startswith("data: ")]
        ids = [int(line[4:]) for line in block.split("\n") if line.startswith("id: ")]
        if data:
            out.append({"_id": ids[0], **json.loads(data[0])})
    return out


def test_a_run_s_backlog_starts_at_its_first_event() -> None:
    async def go() -> None:
        hub = EventHub(keep=1_000)
        _fill(hub, ["old"], 50)
        _fill(hub, ["a", "b"], 20)
        got = await _backlog(hub, "a", 0)
        assert [e["n"] for e in got] == list(range(20))
        assert all(e["run_id"] == "a" for e in got)
        ids = [e["_id"] for e in got]
        assert ids == sorted(ids)
        # a reconnect after the 5th event of run a gets the rest, whole and in order
        later = await _backlog(hub, "a", ids[4])
        assert [e["n"] for e in later] == list(range(5, 20))
        # without a run filter, everything after the id
        every = await _backlog(hub, None, ids[4])
        assert len(every) == 2 * 20 - 9  # after a's 5th: b's 5th, then 15 of each

    asyncio.run(go())


def test_a_run_whose_first_events_left_the_ring_gets_what_is_kept() -> None:
    async def go() -> None:
        hub = EventHub(keep=30)
        _fill(hub, ["a", "b"], 40)  # 80 events, 30 kept
        got = await _backlog(hub, "a", 0)
        assert [e["n"] for e in got] == list(range(25, 40))

    asyncio.run(go())
