"""One run of a workflow: the task state machine (`run`), the pure scheduler (`scheduler`),
changes while it is live (`live`), what a handler sees (`context`), and the recorder that
writes its transitions to a store (`recorder`).
"""

from .context import Context as Context
from .run import Run as Run

__all__ = ["Context", "Run"]
