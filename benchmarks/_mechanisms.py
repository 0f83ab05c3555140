"""Ways to run handlers that suspend, measured on their own (no engine bookkeeping): which
one the engine should use (issue 12). CPU time, best of 5, ratio to the worker pool.

- ``pool``: the baseline, worker Tasks awaiting coroutines from one iterator;
- ``wrapper``: before issue 12, the first step by hand, then a hand-driven wrapper that runs
  every later step in the handler's own context (``Context.run`` per step);
- ``direct``: the engine now, the first step by hand, then the worker awaits the rest through
  one ``yield from``, and retires if the handler left a context variable set;
- ``task_each``: an asyncio Task per handler, created with its own context;
- ``task_after``: the first step by hand, then a Task (with the context) for the rest;
- ``task_eager`` (Python 3.12+): a Task per handler whose first step runs at once.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import types
from collections.abc import Callable, Coroutine
from contextvars import copy_context
from typing import Any

CAP = 1_000
Handler = Callable[[], Coroutine[Any, Any, None]]


def make(awaits: int) -> Handler:
    async def h() -> None:
        for _ in range(awaits):
            await asyncio.sleep(0)

    return h


@types.coroutine
def _rest(coro: Any, first: Any) -> Any:  # as podium.engine.calls.rest_of
    while True:
        try:
            yield first
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            try:
                first = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            break
    return (yield from coro)


async def _arest(coro: Any, first: Any) -> Any:
    return await _rest(coro, first)


class _Resume:  # the engine's wrapper before issue 12
    __slots__ = ("coro", "ctx", "first")

    def __init__(self, coro: Any, first: Any, ctx: Any) -> None:
        self.coro, self.first, self.ctx = coro, first, ctx

    def __await__(self) -> Any:
        coro, run = self.coro, self.ctx.run
        yielded = self.first
        while True:
            try:
                sent = yield yielded
            except BaseException as exc:
                try:
                    yielded = run(coro.throw, exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = run(coro.send, sent)
                except StopIteration as stop:
                    return stop.value


async def pool(h: Handler, n: int) -> None:
    async def worker(it: Any) -> None:
        for c in it:
            await c

    it = (h() for _ in range(n))
    await asyncio.gather(*[worker(it) for _ in range(CAP)])


async def wrapper(h: Handler, n: int) -> None:
    async def worker(it: Any) -> None:
        for _ in it:
            cv = copy_context()
            c = h()
            try:
                first = cv.run(c.send, None)
            except StopIteration:
                continue
            await _Resume(c, first, cv)

    it = iter(range(n))
    await asyncio.gather(*[worker(it) for _ in range(CAP)])


async def direct(h: Handler, n: int) -> None:
    async def worker(it: Any) -> None:
        clean = copy_context()
        for _ in it:
            c = h()
            try:
                first = c.send(None)
            except StopIteration:
                pass
            else:
                await _rest(c, first)
            if copy_context() != clean:
                break

    it = iter(range(n))
    await asyncio.gather(*[worker(it) for _ in range(CAP)])


async def _tasks(n: int, make_task: Callable[[Any], Any]) -> None:
    """Keep CAP Tasks going; a done callback starts the next one."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    it = iter(range(n))
    left = [n]

    def finished(t: Any) -> None:
        left[0] -= 1
        if not left[0]:
            done.set_result(None)
        else:
            start()

    def start() -> None:
        for _ in it:
            t = make_task(loop)
            if t.done():
                finished(t)
                continue
            t.add_done_callback(finished)
            return

    for _ in range(CAP):
        start()
    await done


async def task_each(h: Handler, n: int) -> None:
    await _tasks(n, lambda loop: loop.create_task(h(), context=copy_context()))


async def task_after(h: Handler, n: int) -> None:
    def make_task(loop: Any) -> Any:
        cv = copy_context()
        c = h()
        try:
            first = cv.run(c.send, None)
        except StopIteration:
            f = loop.create_future()
            f.set_result(None)
            return f
        return loop.create_task(_arest(c, first), context=cv)

    await _tasks(n, make_task)


async def task_eager(h: Handler, n: int) -> None:
    await _tasks(
        n,
        lambda loop: asyncio.Task(h(), loop=loop, context=copy_context(), eager_start=True),  # type: ignore[call-arg]
    )


WAYS: list[Callable[[Handler, int], Coroutine[Any, Any, None]]] = [
    pool,
    wrapper,
    direct,
    task_each,
    task_after,
]
if sys.version_info >= (3, 12):
    WAYS.append(task_eager)


async def compare() -> None:
    for awaits, n in ((1, 100_000), (10, 20_000)):
        h = make(awaits)
        best = {w.__name__: float("inf") for w in WAYS}
        for _ in range(5):
            for w in WAYS:
                gc.collect()
                t = time.process_time()
                await w(h, n)
                best[w.__name__] = min(best[w.__name__], (time.process_time() - t) / n)
        base = best["pool"]
        print(f"mechanisms, {awaits} await{'s' if awaits > 1 else ''} x {n:,} tasks (CPU):")
        for name, v in best.items():
            print(f"  {name:<12} {v * 1e6:6.2f} us/task  {v / base:.2f}x", flush=True)


if __name__ == "__main__":
    asyncio.run(compare())
