"""Task logs: what a handler prints, logs or writes with ``ctx.log``, kept with its task.

Tasks run concurrently on one loop and in threads, so a line belongs to the task whose context
wrote it. Each worker of a capturing run holds a one-item list in a context variable (which
asyncio Tasks and the executor's threads inherit) and puts the attempt's `Context` in it before
it calls the handler; a worker is its handler's Task for the handler's whole life, so the slot
names the right attempt until the handler ends. While any run captures,
``sys.stdout`` and ``sys.stderr`` are proxies that send a line written under a current context
to that task, and everything else to the real stream; a handler on the root logger does the
same for log records. A task that writes nothing pays one list store per attempt.

Each task keeps at most `MAX_LINES` lines of at most `MAX_LINE` characters; its last kept line
then says that later ones are dropped (and ``_logs_dropped`` counts them). Lines are ``(at,
attempt, stream, text)`` with ``stream`` one of ``stdout``, ``stderr``, ``log`` (the
``logging`` module; ``text`` starts with the level) and ``ctx`` (`Context.log`).
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import Context

__all__ = ["CURRENT", "MAX_LINE", "MAX_LINES", "capturing", "emit", "flush_partial"]

MAX_LINES = 1000  # per task, over all its attempts
MAX_LINE = 4000  # characters of one line

CURRENT: ContextVar[list[Any] | None] = ContextVar("podium_task", default=None)


def current() -> Context | None:
    """The attempt whose handler is running in this Task or thread, if its run captures."""
    slot = CURRENT.get()
    return None if slot is None else slot[0]


_lock = threading.Lock()
_echo = threading.local()  # set while a proxy writes a task's line to the real stream
_users = 0  # runs capturing now (several runs can share a process)
_saved: tuple[Any, Any] | None = None
_handler: logging.Handler | None = None


def emit(ctx: Context, stream: str, text: str) -> None:
    """Keep one line for ``ctx``'s task (and send it to the run's listeners: its store)."""
    rec = ctx._rec
    lines = getattr(rec, "_logs", None)
    if lines is None:
        lines = rec._logs = []
    if len(lines) >= MAX_LINES - 1:  # the last line kept says that the rest is dropped
        rec._logs_dropped = getattr(rec, "_logs_dropped", 0) + 1
        if len(lines) >= MAX_LINES:
            return
        text = f"(at most {MAX_LINES:,} lines are kept per task: later lines are dropped)"
    if len(text) > MAX_LINE:
        text = text[:MAX_LINE] + " ... (cut)"
    line = (time.time(), ctx.attempt, stream, text)
    lines.append(line)
    run = ctx._run
    if run.on_log is not None:  # a live display shows it (it took the place of echoing);
        _echo.on = True  # what it writes to the (proxied) terminal is not the task's again
        try:
            run.on_log(rec.id, line)
        finally:
            _echo.on = False
    sink = run._sink
    if sink is not None:
        sink(
            "event",
            {
                "event": "log",
                "at": line[0],
                "task": rec.id,
                "attempt": ctx.attempt,
                "stream": stream,
                "text": text,
            },
        )


class _Stream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while runs capture: a task's lines go to the task."""

    def __init__(self, real: Any, name: str) -> None:
        self._real = real
        self._name = name
        self._partial: dict[Context, str] = {}  # text an attempt wrote without a newline

    def write(self, s: str) -> int:
        if getattr(_echo, "on", False):  # the real stream of one proxy writes to the other
            return self._real.write(s)  # (a progress display's stdout proxy writes to stderr)
        ctx = current()
        if ctx is None or not ctx._run.capture_logs:
            return self._real.write(s)
        text = self._partial.pop(ctx, "") + s
        if "\n" not in text:  # the line goes on: keep (a bounded part of) it
            self._partial[ctx] = text[: MAX_LINE + 1]
            return len(s)
        *done, rest = text.split("\n")
        echo = ctx._run.echo_logs
        for line in done:
            line = line.rstrip("\r")
            emit(ctx, self._name, line)
            if echo:  # whole lines, so concurrent tasks do not interleave mid-line
                self._echo(line)
        if rest:
            self._partial[ctx] = rest[: MAX_LINE + 1]
        return len(s)

    def _echo(self, line: str) -> None:
        _echo.on = True
        try:
            self._real.write(line + "\n")
        finally:
            _echo.on = False

    def flush(self) -> None:
        ctx = current()
        if ctx is None or not ctx._run.capture_logs:
            self._real.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._real.isatty()

    def fileno(self) -> int:
        return self._real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._real, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._real, "errors", None)

    def __getattr__(self, name: str) -> Any:
        # what this proxy does not define (``buffer``, ``reconfigure``, ...) is the real
        # stream's: bytes written to ``sys.stdout.buffer`` go straight out, not to the task
        return getattr(self._real, name)

    def end(self, run: Any) -> None:
        """``run`` ends: keep what its tasks wrote without a final newline."""
        for ctx in [c for c in self._partial if c._run is run]:
            line = self._partial.pop(ctx)
            emit(ctx, self._name, line)
            if run.echo_logs:
                self._echo(line)


class _Handler(logging.Handler):
    """Log records emitted under a current context go to its task (and nowhere else)."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        ctx = current()
        if ctx is None or not ctx._run.capture_logs:
            return
        try:
            text = self.format(record)
        except Exception:
            text = f"{record.levelname} {record.name}: {record.msg!r} (could not be formatted)"
        emit(ctx, "log", text)


def capturing(on: bool) -> None:
    """Start (``True``) or stop capturing for one run; the last run to stop restores the
    real streams and removes the logging handler."""
    global _users, _saved, _handler
    with _lock:
        if on:
            _users += 1
            if _users == 1:
                _saved = (sys.stdout, sys.stderr)
                if sys.stdout is not None:  # None without a console (pythonw, some daemons)
                    sys.stdout = _Stream(sys.stdout, "stdout")
                if sys.stderr is not None:
                    sys.stderr = _Stream(sys.stderr, "stderr")
                _handler = _Handler()
                logging.getLogger().addHandler(_handler)
            return
        _users -= 1
        if _users == 0 and _saved is not None:
            # restore only what is still ours: someone may have replaced them since
            if isinstance(sys.stdout, _Stream):
                sys.stdout = _saved[0]
            if isinstance(sys.stderr, _Stream):
                sys.stderr = _saved[1]
            _saved = None
            if _handler is not None:
                logging.getLogger().removeHandler(_handler)
                _handler = None


def flush_partial(run: Any) -> None:
    """Keep what ``run``'s tasks wrote without a trailing newline (the run is ending)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, _Stream):
            stream.end(run)
