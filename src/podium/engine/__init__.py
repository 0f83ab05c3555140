"""One run of a workflow: the task state machine (`run`), the pure scheduler (`scheduler`),
changes while it is live (`live`), what a handler sees (`context`), what handlers print and
log (`logs`), failed attempts' tracebacks (`tracebacks`), OpenTelemetry spans (`tracing`),
concurrency keys and rate limits (`gates`), batches (`batch`), budgets (`budget`),
and the recorder that writes its transitions to a store (`recorder`).
"""

from .context import Context as Context
from .run import Run as Run

__all__ = ["Context", "Run"]
