"""One headless Chromium for the session, driven by Playwright's sync API on a thread of its
own: that API leaves its event loop marked as running on the thread that started it, which
would break every asyncio test after it on the main thread. `Remote` forwards each call to
that thread and wraps the Playwright objects it returns, so tests read like plain Playwright.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any


class Driver:
    """A thread that runs the callables given to `call`, one at a time, in order."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="playwright", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, fut = job
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

    def call(self, fn: Callable[[], Any]) -> Any:
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._jobs.put((fn, fut))
        return fut.result()

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(30)


class Remote:
    """A Playwright object living on the driver's thread."""

    def __init__(self, driver: Driver, obj: Any) -> None:
        object.__setattr__(self, "_driver", driver)
        object.__setattr__(self, "_obj", obj)

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        if type(value).__module__.startswith("playwright."):
            return Remote(self._driver, value)
        return value

    def __getattr__(self, name: str) -> Any:
        attr = self._driver.call(lambda: getattr(self._obj, name))
        if not callable(attr):
            return self._wrap(attr)

        def method(*args: Any, **kwargs: Any) -> Any:
            return self._wrap(self._driver.call(lambda: attr(*args, **kwargs)))

        return method
