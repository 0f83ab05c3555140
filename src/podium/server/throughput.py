"""Tasks finished and failed per few seconds over the last minutes, for the dashboard's
overview: counted from the event hub's batches (one pass per batch, every 50 ms, whether or
not anyone watches), so a page opened now shows the minutes before it too."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

__all__ = ["Throughput"]

BUCKET = 5.0  # seconds per bucket
KEEP = 120  # buckets kept: ten minutes


class Throughput:
    def __init__(self) -> None:
        # [bucket start (Unix seconds), completed, failed], oldest first
        self.buckets: deque[list[float]] = deque(maxlen=KEEP)

    def observe(self, batch: list[tuple[Any, ...]]) -> None:
        done = failed = 0
        for raw in batch:
            if raw[1] == "end":
                if raw[3] == "completed":
                    done += 1
                elif raw[3] == "failed":
                    failed += 1
        if not done and not failed:
            return
        start = time.time() // BUCKET * BUCKET
        if not self.buckets or self.buckets[-1][0] != start:
            self.buckets.append([start, 0, 0])
        last = self.buckets[-1]
        last[1] += done
        last[2] += failed

    def to_dict(self) -> dict[str, Any]:
        return {"bucket": BUCKET, "buckets": [[int(s), int(d), int(f)] for s, d, f in self.buckets]}
