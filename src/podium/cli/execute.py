"""Running a prepared run from the command line: signals, live progress, the summary, the
exit code. ``run``, ``demo`` and ``resume`` share it.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from .._utils.text import plural
from .output import (
    EXIT_FAILED,
    EXIT_OK,
    console,
    finished_line,
    leave,
    print_json,
    report_error,
    say,
    state,
    summary,
    user_errors,
)

if TYPE_CHECKING:
    from ..engine.run import Run
    from ..orchestrator import Orchestrator
    from ..stores.base import Store

__all__ = ["Stop", "drive", "execute", "prepare"]


def prepare(
    path: Path,
    json_out: bool,
    db: str | None = None,
    run_id: str | None = None,
    *,
    budget: dict[str, float | None] | None = None,
    backend: str = "local",
    ray_address: str | None = None,
    gates: str | None = None,
) -> tuple[Orchestrator, Run]:
    """Load and validate a workflow file and build its run (nothing runs yet); with ``db``,
    the run will be recorded in that store; ``budget`` (--max-cost, --max-tokens) replaces
    the limits the file gives."""
    with user_errors(json_out):
        from ..orchestrator import Orchestrator
        from ..spec.loader import load_workflow

        if run_id is not None:
            from ..engine.recorder import check_run_id

            check_run_id(run_id)
        orch = Orchestrator(
            store=db,
            backend=backend,
            ray_address=ray_address,
            echo_logs=not json_out,
            gates=gates,
        )
        wf = load_workflow(path)
        if budget and any(v is not None for v in budget.values()):
            from ..spec.workflow import check_budget

            given = {k: v for k, v in budget.items() if v is not None}
            wf.budget = check_budget({**(wf.budget or {}), **given})
        return orch, orch.prepare(wf, run_id=run_id)


class Stop:
    """How a run was interrupted: the signal that cancelled it and how many arrived."""

    signum: int | None = None
    count = 0
    recorded = False  # the run is in the store: it can be resumed


def execute(orch: Orchestrator, run: Run, json_out: bool) -> int:
    """Run ``run`` to the end with progress on stderr, print its summary (or its JSON
    document) and return the exit code. ``run``, ``demo`` and ``resume`` share it.

    SIGINT (Ctrl-C) and SIGTERM cancel the main task: the engine cancels the running handlers
    and skips the rest, and the summary shows the run as cancelled (exit 128 + signal). A
    second signal stops waiting for handlers that ignore cancellation; a third quits at once.
    """
    from ..errors import PodiumError, PodiumInternalError, ServiceUnavailable

    stop = Stop()
    try:
        asyncio.run(drive(orch, run, json_out, stop))
    except (KeyboardInterrupt, asyncio.CancelledError):
        stop.signum = stop.signum or signal.SIGINT
    except PodiumInternalError:
        raise
    except PodiumError as exc:  # e.g. an agent's setup() failed, or the store went away
        code = report_error(exc, json_out)
        if isinstance(exc, ServiceUnavailable):
            after_outage(run.run_id, orch.store if stop.recorded else None)
        return code
    code = report_run(run, json_out, stop, orch.store)
    from ..engine import tracing

    tracing.flush()  # before a fast exit can skip the SDK's exit hook
    if threads_linger():
        # a sync handler that timed out (or was cancelled) still runs in its thread: the run
        # is over and recorded, so the process should not wait for it once the command ends
        state.fast_exit = True
    return code


def report_run(run: Run, json_out: bool, stop: Stop, store: Store | None = None) -> int:
    """Print the run's summary (or JSON document), say what to do next when it did not
    complete, and return its exit code."""
    result = run.result()
    status = str(result.status)
    if stop.signum and status == "running":  # interrupted before it could close
        status = "cancelled"
    if json_out:
        doc = result.to_dict()
        doc["status"] = status
        print_json(doc)
        finished_line(run, result, status, stderr=True)
    else:
        summary(result)
        finished_line(run, result, status, stderr=False)
    next_step(run.run_id, status, store, interrupted=bool(stop.signum))
    if stop.signum:
        return 128 + int(stop.signum)
    return EXIT_OK if status == "completed" else EXIT_FAILED


def next_step(run_id: str, status: str, store: Store | None, *, interrupted: bool) -> None:
    """After a run that did not complete: how to continue it, on stderr."""
    if status == "completed":
        return
    url = getattr(store, "url", "") if store is not None else ""
    if url and url != "memory":
        from ..stores.base import redact

        resume = f"podium resume {run_id} --db {redact(url)}"
        if interrupted:
            say(f"continue it with `{resume}`")
        else:
            say(f"after fixing the cause, `{resume}` runs the tasks that did not complete")
    elif interrupted:
        say("nothing was recorded (no --db): run it again, with --db FILE to make it resumable")


def after_outage(run_id: str, store: Store | None) -> None:
    """After a store or bus went away mid-run: how to continue, on stderr."""
    url = getattr(store, "url", "") if store is not None else ""
    if url and url != "memory":
        from ..stores.base import redact

        say(
            f"the run was stopped; once the service is back, "
            f"`podium resume {run_id} --db {redact(url)}` runs the tasks that did not complete"
        )
    else:
        say("nothing of the run was recorded: run it again once the service is back")


def threads_linger() -> bool:
    """Whether a thread (a sync handler still running) would hold the interpreter's exit."""
    import threading

    main_thread = threading.main_thread()
    return any(t is not main_thread and not t.daemon for t in threading.enumerate())


async def drive(orch: Orchestrator, run: Run, json_out: bool, stop: Stop) -> None:
    from .progress import follow

    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()

    def interrupt(signum: int) -> None:
        stop.count += 1
        if stop.count == 1:
            # the engine hears this as cancellation: it cancels handlers and skips the rest
            stop.signum = signum
            what = "interrupted" if signum == signal.SIGINT else "terminated"
            say(f"{what}: cancelling running tasks (press Ctrl-C again to quit at once)")
        elif stop.count == 2:
            n = run.n_running
            say(f"interrupted again: not waiting for {plural(n, 'running task')}")
        else:
            leave(128 + (stop.signum or signum))
        if main_task is not None:
            main_task.cancel()

    if orch.store is not None:
        await orch.record(run)  # recorded before its id is printed, so it can be resumed
        stop.recorded = True
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, interrupt, sig)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, not the main thread
            pass
    # the run id comes first, once signals are handled: scripts read it to follow the run
    say(
        f"run {run.run_id} started: workflow {run.workflow.name!r}, {plural(run.total, 'task')}",
        stderr=json_out,
    )
    console(stderr=json_out).file.flush()
    watcher = loop.create_task(follow(run, console(stderr=True)))
    try:
        await orch.execute(run)
    finally:
        watcher.cancel()
        await asyncio.wait([watcher])
        if stop.count >= 2:
            # handlers that ignore cancellation would hold asyncio.run's clean-up forever
            leave(report_run(run, json_out, stop, orch.store))
        await orch.close()
        for sig in handled:
            loop.remove_signal_handler(sig)
        if run.abandoned:
            # handlers that ignored their cancellation still run: the run is over and
            # recorded, and asyncio.run's clean-up would wait for them forever
            leave(report_run(run, json_out, stop, orch.store))
