"""Every error podium raises on purpose.

    PodiumError
    ├── ValidationError (also ValueError)   a spec, graph or request is wrong
    │   └── CycleError                       the workflow's graph has a cycle
    ├── CapabilityError                      no agent can take a task
    ├── HandlerError                         a handler cannot be imported or called
    ├── TaskFailed                           a handler raised and its retries are spent
    ├── ResultError (also TypeError)         a handler returned something that is not JSON
    ├── StoreError                           a run store cannot be opened, read or written
    │   └── StoreUnavailable                 its server cannot be reached or went away
    ├── BusError                             a message bus cannot be reached or is closed
    │   ├── BusTimeout (also TimeoutError)    no reply to a request (or no message) in time
    │   └── BusUnavailable                   its server cannot be reached or went away
    ├── ServiceUnavailable                   a service podium needs is away (exit code 3):
    │                                        StoreUnavailable and BusUnavailable are ones
    ├── LLMError                             a model endpoint refused a call, or kept failing
    ├── RemoteError                          a podium server refused a request or is away
    └── PodiumInternalError                  an engine invariant broke: this is a podium bug

Each error carries the place it is about as attributes (``file``, ``task``, ``field``), so the
CLI and the server can render them; the message already names them and says what to do.
"""

from __future__ import annotations

__all__ = [
    "BusError",
    "BusTimeout",
    "BusUnavailable",
    "CapabilityError",
    "CycleError",
    "HandlerError",
    "LLMError",
    "PodiumError",
    "PodiumInternalError",
    "RemoteError",
    "ResultError",
    "ServiceUnavailable",
    "StoreError",
    "StoreUnavailable",
    "TaskFailed",
    "ValidationError",
]


_MAX_MESSAGE = 8000  # characters of an error message; what it quotes is cut before that


class PodiumError(Exception):
    """Base class of every error podium raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        task: str | None = None,
        field: str | None = None,
    ) -> None:
        if len(message) > _MAX_MESSAGE:  # a value quoted whole somewhere: keep both ends
            message = f"{message[: _MAX_MESSAGE // 2]} ... {message[-_MAX_MESSAGE // 4 :]}"
        super().__init__(message)
        self.message = message
        self.file = file
        self.task = task
        self.field = field

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str | None]:
        """The error as a JSON object, for `--json` output and HTTP responses."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "file": self.file,
            "task": self.task,
            "field": self.field,
        }


class ValidationError(PodiumError, ValueError):
    """A workflow spec, graph or request is wrong; nothing has run."""


class CycleError(ValidationError):
    """The workflow's dependencies form a cycle; ``cycle`` lists it, first id repeated last."""

    def __init__(self, message: str, *, cycle: list[str], **where: str | None) -> None:
        super().__init__(message, **where)
        self.cycle = cycle


class CapabilityError(PodiumError):
    """No registered agent offers the capability (or name) a task asks for."""


class HandlerError(PodiumError):
    """A handler reference cannot be imported, or the object is not callable."""


class TaskFailed(PodiumError):
    """A task's handler failed and its retries are spent."""


class ResultError(PodiumError, TypeError):
    """A handler returned a value that is not JSON (results cross process boundaries)."""


class StoreError(PodiumError):
    """A run store cannot be opened, read or written."""


class BusError(PodiumError):
    """A message bus cannot be reached, or it (or a subscription) is closed."""


class ServiceUnavailable(PodiumError):
    """A service podium needs (the server of a store or a bus) cannot be reached, or went
    away mid-run. Nothing is wrong with the input: try again once it is back (a recorded run
    resumes with ``podium resume``). The command line exits with code 3."""


class StoreUnavailable(StoreError, ServiceUnavailable):
    """The store's server (PostgreSQL) cannot be reached, or the connection broke."""


class BusUnavailable(BusError, ServiceUnavailable):
    """The bus's server (Redis) cannot be reached, or the connection broke."""


class BusTimeout(BusError, TimeoutError):
    """Nothing arrived in time: no reply to a request, or no message for ``get(timeout=...)``.

    ``target`` is the agent or topic a request went to, ``correlation_id`` the request's id.
    """

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        timeout: float | None = None,
        correlation_id: str | None = None,
        **where: str | None,
    ) -> None:
        super().__init__(message, **where)
        self.target = target
        self.timeout = timeout
        self.correlation_id = correlation_id


class LLMError(PodiumError):
    """A model endpoint refused a call (bad key, unknown model, bad request) or still failed
    after its retries (rate limits, server errors, timeouts). ``status`` is the last HTTP
    status, None for a connection error or timeout."""

    def __init__(self, message: str, *, status: int | None = None, **where: str | None) -> None:
        super().__init__(message, **where)
        self.status = status


class RemoteError(PodiumError):
    """A podium server answered with an error (``status``: its HTTP status, ``error``: the
    kind of error it named), or could not be reached (``status`` 0)."""

    def __init__(
        self, message: str, *, status: int = 0, error: str | None = None, **where: str | None
    ) -> None:
        super().__init__(message, **where)
        self.status = status
        self.error = error


class PodiumInternalError(PodiumError):
    """An engine invariant broke. This is a podium bug: please report it with the traceback."""
