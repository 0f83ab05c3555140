"""`podium.Worker`: a pull worker that serves one or more podium servers.

>>> async def resize(ctx):
...     return {"size": len(ctx.input["url"])}
>>> worker = podium.Worker("http://127.0.0.1:8000", key="pod_...", capabilities=["resize"],
...                        handler=resize, capacity=8)
>>> await worker.run()          # until worker.stop(), SIGINT or SIGTERM

It registers as an agent of kind ``worker``, leases tasks by long polling (as many at a time as
it has room for), runs the handler on each (``async def`` on its loop, a plain ``def`` in a
thread), and reports results in batches. Its calls keep its leases alive; while it is busy a
heartbeat does, and tells it which leases the server took back (their handlers are
cancelled). If it stops calling for the lease TTL, the server gives its tasks to other workers
and refuses its late results. With several servers, the capacity is split between them.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

from .._utils.text import describe_exception as _describe
from ..errors import RemoteError, ValidationError
from ._http import check_url, error_of, headers, unreachable

__all__ = ["Worker", "WorkerContext"]


class _Rest:
    """Awaits the rest of a coroutine whose first step was driven by hand: passes what it
    yields (the future it waits on) up to the Task, and what comes back down to it."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Any, first: Any) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Any:
        coro = self.coro
        yielded, self.first = self.first, None
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    yielded = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


class WorkerContext:
    """What a worker's handler gets: the task as the server leased it."""

    __slots__ = (
        "_link",
        "agent",
        "attempt",
        "capability",
        "deps",
        "idempotency_key",
        "input",
        "options",
        "run_id",
        "task_id",
        "timeout",
        "token",
    )

    def __init__(self, doc: dict[str, Any], link: _Link) -> None:
        self._link = link
        self.token = doc["token"]
        self.task_id = doc["task_id"]
        self.run_id = doc["run_id"]
        self.attempt = doc["attempt"]
        self.agent = doc["agent"]
        self.capability = doc.get("capability")
        self.input = doc.get("input")
        self.deps = doc.get("deps") or {}
        self.options = doc.get("options") or {}
        self.idempotency_key = doc.get("idempotency_key")
        self.timeout = doc.get("timeout")

    async def send(self, to: str, payload: Any) -> None:
        """Send a message to another agent's inbox, from this worker."""
        await self._link.call(
            "POST", f"/api/v1/agents/{to}/messages", json={"payload": payload, "sender": self.agent}
        )

    async def receive(self, wait: float = 0) -> list[dict[str, Any]]:
        """Messages waiting in this worker's inbox (waiting up to ``wait`` seconds)."""
        return await self._link.call(
            "GET", f"/api/v1/agents/{self.agent}/messages", params={"wait": wait}
        )


class _Link:
    """One server: its HTTP client, the worker's name there, and what it leased."""

    def __init__(self, url: str, key: str | None, capacity: int) -> None:
        import httpx

        self.url = url
        self.capacity = capacity
        self.http = httpx.AsyncClient(
            base_url=url,
            headers=headers(key),
            timeout=httpx.Timeout(30.0, read=90.0),
            limits=httpx.Limits(max_connections=8),
        )
        self.running: dict[str, asyncio.Task[None]] = {}  # token -> suspended handler's task
        self.busy = 0  # leased and not settled yet
        self.drivers: set[asyncio.Task[None]] = set()
        self.reports: list[dict[str, Any]] = []
        self.reporting: asyncio.Task[None] | None = None
        self.room = asyncio.Event()
        self.ttl = 10.0  # the server's lease TTL, learnt when registering

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            resp = await self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise unreachable(self.url, exc) from None
        if resp.status_code >= 400 and resp.status_code != 409:
            raise error_of(resp, self.url)
        return None if resp.status_code == 204 else resp.json()


class Worker:
    """A pull worker: see the module docstring. ``handler(ctx)`` is a function (sync or async)
    or ``"module:function"``; ``server`` a URL or a list of them."""

    def __init__(
        self,
        server: str | list[str],
        key: str | None = None,
        *,
        capabilities: list[str],
        handler: Callable[..., Any] | str,
        capacity: int = 1,
        name: str | None = None,
        lease_ttl: float | None = None,
        poll: float = 20.0,
    ) -> None:
        urls = [server] if isinstance(server, str) else list(server)
        urls = [check_url(u) for part in urls for u in part.split(",") if u.strip()]
        if not urls:
            raise ValidationError("a worker needs a server URL (--server).", field="server")
        if not capabilities:
            raise ValidationError(
                "a worker needs at least one capability (--capabilities a,b).",
                field="capabilities",
            )
        if not isinstance(capacity, int) or capacity < len(urls):
            raise ValidationError(
                f"capacity must be a whole number of at least {len(urls)} (one per server).",
                field="capacity",
            )
        if isinstance(handler, str):
            from .._utils.code import import_ref

            # typed by the person starting the worker: their choice, not a file's
            handler = import_ref(
                handler, label=f"handler {handler!r}", field="handler", trusted=True
            )
        if not callable(handler):
            raise ValidationError(f"handler {handler!r} is not callable.", field="handler")
        self.handler = handler
        self.is_async = inspect.iscoroutinefunction(handler)
        self.capabilities = list(capabilities)
        self.capacity = capacity
        self.name = name or f"worker-{socket.gethostname()}-{os.getpid()}"
        self.lease_ttl = lease_ttl
        self.poll = poll
        self.key = key
        self.urls = urls
        self.links: list[_Link] = []
        self.completed = 0
        self.failed = 0
        self.rejected = 0  # results the server refused: their lease had ended
        self.abandoned = 0  # tasks stopped here because the server took their lease back
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        import threading

        # set once registered with every server (wait on it from another thread)
        self.ready = threading.Event()

    async def run(self) -> None:
        """Register, then lease and run tasks until `stop` (or SIGINT/SIGTERM when run by
        the CLI); finish what runs, report it, and deregister."""
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        share, extra = divmod(self.capacity, len(self.urls))
        self.links = [
            _Link(url, self.key, share + (1 if i < extra else 0)) for i, url in enumerate(self.urls)
        ]
        try:
            for link in self.links:
                await self._register(link)
            self.ready.set()
            async with asyncio.TaskGroup() as tg:
                for link in self.links:
                    tg.create_task(self._serve(link))
                    tg.create_task(self._heartbeat(link))
        finally:
            for link in self.links:
                try:
                    await link.call("DELETE", f"/api/v1/agents/{self.name}")
                except Exception:  # the server is away: it forgets us after the lease TTL
                    pass
                await link.http.aclose()

    async def _register(self, link: _Link) -> None:
        body: dict[str, Any] = {
            "name": self.name,
            "kind": "worker",
            "capabilities": self.capabilities,
            "capacity": link.capacity,
        }
        if self.lease_ttl:
            body["lease_ttl"] = self.lease_ttl
        doc = await link.call("POST", "/api/v1/agents", json=body)
        if doc is not None and "error" in doc:
            raise RemoteError(f"{link.url}: {doc['message']}", status=409)
        link.ttl = float((doc or {}).get("lease_ttl") or link.ttl)

    def stop(self) -> None:
        """Stop leasing; tasks that run finish and are reported before `run` returns. Safe
        to call from another thread."""
        loop = self._loop
        if loop is None:
            return
        try:
            same = asyncio.get_running_loop() is loop
        except RuntimeError:
            same = False
        if same:
            self._stop_now()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._stop_now)

    def _stop_now(self) -> None:
        if self._stop is not None:
            self._stop.set()
            for link in self.links:
                link.room.set()

    async def _serve(self, link: _Link) -> None:
        stop = self._stop
        assert stop is not None
        while not stop.is_set():
            room = link.capacity - link.busy
            if room <= 0:
                link.room.clear()
                await link.room.wait()
                continue
            lease = asyncio.ensure_future(
                link.call(
                    "POST",
                    f"/api/v1/workers/{self.name}/lease",
                    json={"max": room, "wait": self.poll},
                )
            )
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([lease, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not lease.done():
                lease.cancel()
                break
            try:
                doc = lease.result()
            except RemoteError as exc:
                await asyncio.sleep(1.0)  # the server is away or refused: try again soon
                if exc.status == 404:  # it forgot this worker (silent too long): join again
                    try:
                        await self._register(link)
                    except RemoteError:
                        pass
                continue
            batch = deque(WorkerContext(task, link) for task in doc.get("tasks", ()))
            link.busy += len(batch)
            if batch:
                self._drive_soon(link, batch)
        while link.running or link.drivers:
            await asyncio.wait([*link.running.values(), *link.drivers])
        if link.reporting is not None:
            await link.reporting
        if link.reports:
            await self._flush(link)

    def _drive_soon(self, link: _Link, batch: deque[WorkerContext]) -> None:
        driver = asyncio.ensure_future(self._drive(link, batch))
        link.drivers.add(driver)
        driver.add_done_callback(link.drivers.discard)

    async def _drive(self, link: _Link, batch: deque[WorkerContext]) -> None:
        """Run a leased batch, the way the engine runs tasks: each handler is driven by hand
        in this Task; one that finishes without suspending costs no Task of its own, and one
        that suspends keeps this Task as its own (so libraries that bind to the current task,
        like httpx's, see one task) while a new driver takes the rest of the batch."""
        while batch:
            ctx = batch.popleft()
            if not self.is_async:
                outcome = await self._in_thread(ctx)
                self._settle(link, ctx, outcome)
                continue
            try:
                coro = self.handler(ctx)
                first = coro.send(None)
            except StopIteration as returned:
                self._settle(link, ctx, {"result": returned.value})
                continue
            except Exception as exc:
                self._settle(link, ctx, {"error": _describe(exc)})
                continue
            if batch:
                self._drive_soon(link, batch)
            self._kick(link)
            task = asyncio.current_task()
            assert task is not None
            link.running[ctx.token] = task
            link.drivers.discard(task)
            try:
                outcome = {"result": await _Rest(coro, first)}
            except asyncio.CancelledError:
                link.running.pop(ctx.token, None)
                link.busy -= 1
                link.room.set()
                self.abandoned += 1
                return  # the server took the lease back: nothing to report
            except Exception as exc:
                outcome = {"error": _describe(exc)}
            link.running.pop(ctx.token, None)
            self._settle(link, ctx, outcome)
            break
        self._kick(link)

    async def _in_thread(self, ctx: WorkerContext) -> dict[str, Any]:
        try:
            value = await asyncio.to_thread(self.handler, ctx)
            if inspect.isawaitable(value):
                value = await value
            return {"result": value}
        except Exception as exc:
            return {"error": _describe(exc)}

    def _settle(self, link: _Link, ctx: WorkerContext, outcome: dict[str, Any]) -> None:
        link.busy -= 1
        link.room.set()
        if "error" in outcome:
            self.failed += 1
        else:
            self.completed += 1
        link.reports.append({"token": ctx.token, **outcome})

    def _kick(self, link: _Link) -> None:
        if link.reports and (link.reporting is None or link.reporting.done()):
            link.reporting = asyncio.ensure_future(self._flush(link))

    async def _flush(self, link: _Link) -> None:
        """Report what has finished, in batches, one request at a time."""
        while link.reports:
            batch = link.reports[:]
            link.reports.clear()
            try:
                doc = await link.call(
                    "POST", f"/api/v1/workers/{self.name}/results", json={"results": batch}
                )
            except RemoteError as exc:
                if exc.status in (404, 409):  # the server forgot this worker: leases gone
                    self.rejected += len(batch)
                    continue
                await asyncio.sleep(0.5)  # keep the results: the lease may still hold
                link.reports[:0] = batch
                if self._stop is not None and self._stop.is_set():
                    return
                continue
            self.rejected += len(doc.get("rejected", ()))

    async def _heartbeat(self, link: _Link) -> None:
        stop = self._stop
        assert stop is not None
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), link.ttl / 3)
                return
            except TimeoutError:
                pass
            tokens = list(link.running)
            try:
                doc = await link.call(
                    "POST", f"/api/v1/agents/{self.name}/heartbeat", json={"tokens": tokens}
                )
            except RemoteError:
                continue
            valid = set(doc.get("valid", ()))
            for token in tokens:
                if token not in valid and token in link.running:
                    link.running[token].cancel()  # the lease is gone: stop working on it

    def run_sync(self) -> None:
        """`run` in a new event loop, stopping cleanly on SIGINT and SIGTERM."""
        import signal

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, self.stop)
                except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                    pass
            await self.run()

        asyncio.run(main())
