"""How the engine calls handlers: the rest of a coroutine whose first step it drove by hand,
a sync handler in a thread, and what a Future cannot carry."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable
from typing import Any

from .logs import CURRENT

__all__ = ["Raised", "cancelled_itself", "in_thread", "rest_of", "type_name"]


@types.coroutine
def rest_of(coro: Any, first: Any) -> Any:
    """The rest of a coroutine whose first step was driven by hand, awaited by the current Task.

    Yields what the first step yielded (the Task waits on it, or passes through the loop for a
    bare ``yield``), then hands the coroutine to the Task with ``yield from``: every later step
    goes straight from the Task to the coroutine, with no Python code in between.
    """
    while True:
        try:
            yield first
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # the Task throws in (cancellation): pass it down
            try:
                first = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            break
    return (yield from coro)


class Raised(Exception):
    """What a sync handler raised that a Future cannot carry (StopIteration)."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(exc)
        self.exc = exc


def in_thread(fn: Callable[[Any], Any], ctx: Any) -> Any:
    """Call a sync handler in a worker thread, with a log slot of its own when its run
    captures: it may go on after its worker gave up on it (a timeout), and must not write on
    the next handler's (engine.logs)."""
    if CURRENT.get() is not None:
        CURRENT.set([ctx])
    try:
        return fn(ctx)
    except StopIteration as exc:  # a Future refuses it ("interacts badly with generators")
        raise Raised(exc) from None


def type_name(value: Any) -> str:
    try:
        return type(value).__name__
    except Exception:  # pragma: no cover
        return "value"


def cancelled_itself() -> asyncio.CancelledError:
    return asyncio.CancelledError("the handler cancelled its own task")
