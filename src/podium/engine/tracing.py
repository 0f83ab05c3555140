"""OpenTelemetry spans for runs and task attempts (the ``otel`` extra).

A run is one span; each attempt of each task is a child span with the attempt's real start
and end, attributes ``podium.run_id``, ``podium.task_id``, ``podium.agent``,
``podium.capability``, ``podium.attempt`` and ``podium.status``, and a failure recorded as an
``exception`` event (type, message, traceback) with the span's status set to error.

It is a listener on the run's transitions (`Orchestrator.listeners`), added only when tracing
is on, so a process that does not trace pays nothing: `enabled` says whether it is, from
``Orchestrator(tracing=...)``, or else from the standard ``OTEL_*`` variables
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_TRACES_EXPORTER``) or a tracer provider the application set up itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .run import Run

__all__ = ["enabled", "flush", "listener"]

_ENV = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_configured = False


def _installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("opentelemetry") is not None


def enabled(choice: Any = None) -> bool:
    """Whether runs are traced: ``choice`` when given (a bool, or a tracer provider to use);
    else when the OpenTelemetry API is installed and the environment or the application asks
    for traces."""
    if choice is not None:
        return choice is not False
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "")
    if exporter.strip().lower() == "none" or os.environ.get("OTEL_SDK_DISABLED") == "true":
        return False
    if exporter or any(os.environ.get(v) for v in _ENV):
        return _installed()
    # an application that set a tracer provider imported the API already: do not import it
    # (tens of milliseconds) just to find out nobody traces
    trace = sys.modules.get("opentelemetry.trace")
    return trace is not None and not _is_default(trace.get_tracer_provider())


def _is_default(provider: Any) -> bool:
    name = type(provider).__name__
    return name in ("ProxyTracerProvider", "NoOpTracerProvider")


def _provider() -> Any:
    """The global tracer provider; set up from ``OTEL_*`` (OTLP over HTTP) when the
    application did not set one."""
    global _configured
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if not _is_default(provider) or _configured:
        return provider
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        from ..errors import ValidationError

        raise ValidationError(
            f"tracing needs the OpenTelemetry SDK and OTLP exporter ({exc.name} is missing): "
            'pip install -e ".[otel]"',
            field="OTEL_EXPORTER_OTLP_ENDPOINT",
        ) from exc
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "podium")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
    return trace.get_tracer_provider()


def flush(timeout: float = 30.0) -> None:
    """Send the spans still buffered, when podium set the tracer provider up itself (the
    command line calls this before it exits, which may skip the SDK's own exit hook)."""
    if _configured:
        from opentelemetry import trace

        trace.get_tracer_provider().force_flush(int(timeout * 1000))  # type: ignore[attr-defined]


def listener(run: Run, provider: Any = None) -> Callable[[str, Any], None]:
    """A sink that turns ``run``'s transitions into spans (see the module docstring), made by
    ``provider`` (a ``TracerProvider``) or the global one."""
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    tracer = (provider or _provider()).get_tracer("podium")
    started = int((run.started_at or 0) * 1e9) or None
    root = tracer.start_span(
        f"podium run {run.workflow.name}",
        start_time=started,
        attributes={"podium.run_id": run.run_id, "podium.workflow": run.workflow.name},
    )
    parent = trace.set_span_in_context(root)

    def sink(kind: str, rec: Any) -> None:
        if kind in ("end", "retry"):
            if rec.started_at is None or not rec.attempts or rec.agent is None:
                return  # skipped, or cancelled before it started: no attempt ran
            status = "retrying" if kind == "retry" else str(rec.status)
            span = tracer.start_span(
                f"podium task {rec.id}",
                context=parent,
                start_time=int(rec.started_at * 1e9),
                attributes={
                    "podium.run_id": run.run_id,
                    "podium.task_id": rec.id,
                    "podium.agent": rec.agent,
                    "podium.capability": rec.task.capability or "",
                    "podium.attempt": rec.attempts,
                    "podium.status": status,
                },
            )
            if rec.error is not None and status != "completed":
                name, _, message = rec.error.partition(": ")
                event = {"exception.type": name, "exception.message": message or name}
                tb = rec.traceback
                if tb:
                    event["exception.stacktrace"] = tb
                span.add_event("exception", event)
                span.set_status(Status(StatusCode.ERROR, rec.error))
            end = rec.finished_at
            span.end(end_time=int(end * 1e9) if end else None)
        elif kind == "run":
            status = str(run.status)
            root.set_attribute("podium.status", status)
            if status != "completed":
                root.set_status(Status(StatusCode.ERROR, f"run {status}"))
            end = run.finished_at
            root.end(end_time=int(end * 1e9) if end else None)

    return sink
