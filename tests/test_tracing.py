"""OpenTelemetry: a run is a span, each attempt a child span with its attributes, failures
recorded on the span; off unless asked for. Checked with the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio

import pytest

import podium
from podium.engine import tracing

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


async def test_runs_and_attempts_become_spans(spans) -> None:  # type: ignore[no-untyped-def]
    provider, exporter = spans
    orch = podium.Orchestrator(tracing=provider)

    @orch.agent(name="worker", capabilities=["work"], capacity=4)
    async def work(ctx: podium.Context) -> int:
        await asyncio.sleep(0.001)
        if ctx.input == "bad" and ctx.attempt == 1:
            raise ValueError("first attempt fails")
        if ctx.input == "worse":
            raise KeyError("always")
        return 1

    wf = podium.Workflow("traced", on_failure="continue")
    wf.task("ok", capability="work", input="good")
    wf.task("flaky", capability="work", input="bad", retry={"max_attempts": 2, "initial_delay": 0})
    wf.task("broken", capability="work", input="worse")
    wf.task("after", capability="work", depends_on=["broken"])
    try:
        result = await orch.run(wf)
    finally:
        await orch.close()
    assert result.status == "partial"
    done = exporter.get_finished_spans()
    (run_span,) = [s for s in done if s.name == "podium run traced"]
    attempts = [s for s in done if s.name.startswith("podium task ")]
    assert sorted(
        (s.attributes["podium.task_id"], s.attributes["podium.attempt"]) for s in attempts
    ) == [
        ("broken", 1),
        ("flaky", 1),
        ("flaky", 2),
        ("ok", 1),
    ]  # the skipped task never ran: no span
    for s in attempts:
        assert s.parent is not None and s.parent.span_id == run_span.context.span_id
        assert s.attributes["podium.agent"] == "worker"
        assert s.attributes["podium.capability"] == "work"
        assert s.attributes["podium.run_id"] == result.run_id
        assert s.start_time < s.end_time
    by = {(s.attributes["podium.task_id"], s.attributes["podium.attempt"]): s for s in attempts}
    first = by[("flaky", 1)]
    assert first.attributes["podium.status"] == "retrying"
    assert first.status.status_code is StatusCode.ERROR
    (event,) = first.events
    assert event.name == "exception" and event.attributes["exception.type"] == "ValueError"
    assert "first attempt fails" in event.attributes["exception.message"]
    assert "in work" in event.attributes["exception.stacktrace"]
    assert by[("flaky", 2)].status.status_code is StatusCode.UNSET
    assert by[("broken", 1)].attributes["podium.status"] == "failed"
    assert run_span.status.status_code is StatusCode.ERROR
    assert run_span.attributes["podium.status"] == "partial"


@pytest.mark.parametrize(("choice", "traced"), [(False, False), (None, True)])
async def test_tracing_false_adds_nothing_even_when_the_environment_asks(
    spans, monkeypatch: pytest.MonkeyPatch, choice: bool | None, traced: bool
) -> None:  # type: ignore[no-untyped-def]
    provider, exporter = spans
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    made: list[str] = []
    real = tracing.listener

    def listener(run, _provider=None):  # type: ignore[no-untyped-def]
        made.append(run.run_id)
        return real(run, provider)  # spans go to the test's exporter, not the network

    monkeypatch.setattr(tracing, "listener", listener)
    orch = podium.Orchestrator(tracing=choice)

    @orch.agent(name="w", capabilities=["x"])
    def handler(ctx: podium.Context) -> int:
        return 1

    wf = podium.Workflow("w")
    wf.task("t", capability="x")
    try:
        await orch.run(wf)
        await orch.run(wf)
    finally:
        await orch.close()
    assert len(made) == (2 if traced else 0)
    assert len(exporter.get_finished_spans()) == (4 if traced else 0)


def test_enabled_follows_the_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_TRACES_EXPORTER",
        "OTEL_SDK_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    assert tracing.enabled() is False  # nothing asks for traces: no listener, no cost
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert tracing.enabled() is True
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.enabled() is False
    assert tracing.enabled(True) is True and tracing.enabled(False) is False


def test_podium_run_exports_over_otlp(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`podium run` with OTEL_EXPORTER_OTLP_ENDPOINT sends its spans to a real OTLP/HTTP
    endpoint (a small collector here, decoding the protobuf it receives)."""
    import os
    import subprocess
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    names: list[str] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            req = ExportTraceServiceRequest.FromString(body)
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    names.extend(s.name for s in ss.spans)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "h.py").write_text("def work(ctx):\n    return 1\n")
        (tmp_path / "flow.yaml").write_text(
            "name: otlp\nagents:\n  - {name: w, capabilities: [x], handler: 'h:work'}\n"
            "tasks:\n  - {id: a, capability: x}\n  - {id: b, capability: x, depends_on: [a]}\n"
        )
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "60",  # a loaded CI machine: do not give up early
        }
        done = subprocess.run(
            [sys.executable, "-m", "podium", "run", "flow.yaml"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    finally:
        server.shutdown()
    assert sorted(names) == ["podium run otlp", "podium task a", "podium task b"], done.stderr
