"""Task states as module constants: the engine compares them by identity on its hot path,
where a global lookup is cheaper than an attribute of the enum class."""

from ..result import TaskStatus

PENDING = TaskStatus.PENDING
READY = TaskStatus.READY
RUNNING = TaskStatus.RUNNING
RETRYING = TaskStatus.RETRYING
COMPLETED = TaskStatus.COMPLETED
FAILED = TaskStatus.FAILED
SKIPPED = TaskStatus.SKIPPED
CANCELLED = TaskStatus.CANCELLED
