"""Prometheus metrics at ``/metrics``, in the official client library's text format.

Counts come from the event hub's batches (a few integer additions per transition, off the
engine's hot path) and from the live state read at scrape time (runs, queue depth, agent
load), so nothing is kept per task. Task latency is a histogram of attempt durations.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .service import Service

__all__ = ["Metrics"]

BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_FINAL = {"completed", "failed", "skipped", "cancelled"}


class Metrics:
    """Counters fed by the event hub, rendered with prometheus_client at scrape time."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.transitions: Counter[str] = Counter()  # final task states and retries
        self.runs_finished: Counter[str] = Counter()
        self.runs_started = 0
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0

    def observe(self, batch: list[tuple[Any, ...]]) -> None:
        counts = self.transitions
        buckets = self.buckets
        for raw in batch:
            kind = raw[1]
            if kind == "end":
                status = str(raw[3])
                counts[status] += 1
                started, finished = raw[6], raw[7]
                if started is not None and finished is not None and status in _FINAL:
                    took = finished - started
                    buckets[bisect_left(BUCKETS, took)] += 1
                    self.latency_sum += took
                    self.latency_count += 1
            elif kind == "retry":
                counts["retrying"] += 1
            elif kind == "run":
                self.runs_finished[raw[2]] += 1

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.exposition import CONTENT_TYPE_LATEST

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        return generate_latest(registry), CONTENT_TYPE_LATEST


class _Collector:
    def __init__(self, m: Metrics) -> None:
        self.m = m

    def collect(self) -> Any:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        m = self.m
        orch = m.service.orch
        runs = CounterMetricFamily(
            "podium_runs", "Runs started and finished by this server", labels=["status"]
        )
        runs.add_metric(["started"], m.runs_started)
        for status, n in sorted(m.runs_finished.items()):
            runs.add_metric([status], n)
        yield runs
        active = GaugeMetricFamily("podium_runs_active", "Runs in progress on this server")
        active.add_metric([], len(orch.active_runs()))
        yield active
        ended = CounterMetricFamily(
            "podium_task_transitions", "Tasks that reached a state", labels=["status"]
        )
        for status, n in sorted(m.transitions.items()):
            ended.add_metric([status], n)
        yield ended
        states = GaugeMetricFamily("podium_tasks", "Tasks of live runs by state", labels=["state"])
        totals: Counter[str] = Counter()
        for run in orch.active_runs():
            totals.update(run.counts())
        for state in ("pending", "ready", "running", "retrying"):
            states.add_metric([state], totals.get(state, 0))
        yield states
        queue = GaugeMetricFamily("podium_queue_depth", "Ready tasks waiting for an agent")
        queue.add_metric([], totals.get("ready", 0))
        yield queue
        hist = HistogramMetricFamily(
            "podium_task_duration_seconds", "Duration of finished task attempts"
        )
        cumulative, acc = [], 0
        for bound, n in zip([*map(str, BUCKETS), "+Inf"], m.buckets, strict=True):
            acc += n
            cumulative.append((bound, acc))
        hist.add_metric([], cumulative, m.latency_sum)
        yield hist
        load = GaugeMetricFamily("podium_agent_load", "Tasks an agent runs now", labels=["agent"])
        cap = GaugeMetricFamily("podium_agent_capacity", "Tasks an agent may run", labels=["agent"])
        up = GaugeMetricFamily(
            "podium_agent_up", "1 when the agent takes tasks (idle or running)", labels=["agent"]
        )
        for name, a in sorted(orch.live_agents().items()):
            load.add_metric([name], a.load)
            cap.add_metric([name], a.capacity)
            up.add_metric([name], 1 if a.takes_work else 0)
        yield load
        yield cap
        yield up
        subs = GaugeMetricFamily("podium_event_clients", "Clients of the event stream")
        subs.add_metric([], m.service.hub.subscribers)
        yield subs
