"""What ``podium mcp`` does for an assistant, as plain coroutines that return JSON: validate
and run workflows, follow runs, read their status and a report, list agents and runs.

`Session` holds one orchestrator and its store for the server's life; runs started through it
go on in the background on the server's loop, so a tool call never waits for a run unless
asked to (``wait``, `Session.follow`). Every user mistake is a `PodiumError` whose message
the server hands back as the tool's error. The MCP wiring is in `app`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PodiumError, ValidationError

if TYPE_CHECKING:
    from ..engine.run import Run
    from ..orchestrator import Orchestrator
    from ..spec.workflow import Workflow

__all__ = ["Session"]

_KEEP = 100  # finished runs whose setup errors are remembered
_SLOWEST = 5


class Session:
    """The state of one ``podium mcp`` server: an orchestrator recording into ``db``."""

    def __init__(self, db: str | None = None, *, max_result_chars: int = 4000) -> None:
        from ..orchestrator import Orchestrator

        self.db = db or "memory"
        self.orch: Orchestrator = Orchestrator(store=self.db)
        self.max_result_chars = max_result_chars
        self.live: dict[str, tuple[Run, asyncio.Task[None]]] = {}
        self.errors: dict[str, str] = {}  # run id -> why it could not start (agent setup)

    async def open(self) -> None:
        await self.orch.store.open()  # type: ignore[union-attr]

    async def close(self) -> None:
        tasks = [t for _, t in self.live.values() if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks)
        await self.orch.close()

    # -- workflows -----------------------------------------------------------------------

    def _load(self, path: str | None, workflow: str | None) -> Workflow:
        from ..spec.files import parse_json, parse_yaml
        from ..spec.loader import load_workflow, parse_workflow

        if (path is None) == (workflow is None):
            raise ValidationError(
                "give exactly one of 'path' (a workflow file, relative to the folder podium "
                "mcp runs in) or 'workflow' (the file's text, YAML or JSON).",
                field="path",
            )
        if path is not None:
            return load_workflow(path)
        text = workflow or ""
        data = parse_json(text, "workflow") if text.lstrip()[:1] == "{" else None
        if data is None:
            data = parse_yaml(text, "workflow")
        if not isinstance(data, dict):
            raise ValidationError(
                "workflow: the text is not a mapping with 'name' and 'tasks'.", field="workflow"
            )
        return parse_workflow(data)

    def validate(self, path: str | None = None, workflow: str | None = None) -> dict[str, Any]:
        """Check a workflow: ``valid`` and what it holds, or ``valid: false`` and why."""
        try:
            wf = self._load(path, workflow)
            run = self.orch.prepare(wf)  # also checks every task has an agent
        except PodiumError as exc:
            return {"valid": False, "error": str(exc), "field": getattr(exc, "field", None)}
        return {
            "valid": True,
            "workflow": wf.name,
            "tasks": {
                tid: {
                    "capability": t.capability,
                    "agent": t.agent,
                    "depends_on": list(t.depends_on),
                }
                for tid, t in wf.tasks.items()
            },
            "agents": [_agent_info(a) for a in run.agents.values()],
        }

    async def run(
        self,
        path: str | None = None,
        workflow: str | None = None,
        *,
        wait: bool = False,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Start a run in the background (recorded in the store); with ``wait``, return once
        it ended."""
        if run_id is not None:
            from ..engine.recorder import check_run_id

            check_run_id(run_id)
        run = self.orch.prepare(self._load(path, workflow), run_id=run_id)
        await self.orch.record(run)
        task = asyncio.get_running_loop().create_task(self._execute(run))
        self.live[run.run_id] = (run, task)
        if wait:
            await asyncio.shield(task)
            return await self.status(run.run_id)
        return {
            "run_id": run.run_id,
            "workflow": run.workflow.name,
            "status": "running",
            "tasks": run.total,
            "next": "follow_run(run_id) waits for it; run_status(run_id) reads it now",
        }

    async def _execute(self, run: Run) -> None:
        try:
            await self.orch.execute(run)
        except PodiumError as exc:  # an agent failed to set up: the run never started
            self.errors[run.run_id] = str(exc)
            while len(self.errors) > _KEEP:
                del self.errors[next(iter(self.errors))]
        except asyncio.CancelledError:
            pass  # cancel_run, or the server stops: the run is recorded as cancelled
        finally:
            self.live.pop(run.run_id, None)

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a run this server started: running tasks are cancelled, the rest skipped."""
        entry = self.live.get(run_id)
        if entry is None:
            raise ValidationError(
                f"run {run_id!r} is not running in this server (list_runs shows the runs).",
                field="run_id",
            )
        entry[1].cancel()
        return {"run_id": run_id, "cancelling": True}

    # -- reading -------------------------------------------------------------------------

    async def status(self, run_id: str) -> dict[str, Any]:
        """The run as ``podium status --json`` shows it (results cut to a bounded size)."""
        entry = self.live.get(run_id)
        if entry is not None:
            run = entry[0]
            doc = run.result().to_dict()
            doc["counts"] = run.counts()
        else:
            from ..cli.stored import run_document

            store = self.orch.store
            assert store is not None
            saved = await store.get_run(run_id)
            doc = run_document(saved, await store.task_states(run_id))
            if saved.status == "running" and saved.owner_alive() is False:
                doc["status"] = "interrupted"
        if run_id in self.errors:
            doc["error"] = self.errors[run_id]
        for t in doc["tasks"].values():
            t["result"] = self._bounded(t["result"])
        return doc

    async def follow(
        self, run_id: str, timeout: float = 60.0, progress: Any = None
    ) -> dict[str, Any]:
        """Wait until the run ends (or ``timeout`` seconds pass), calling ``progress(done,
        total, message)`` as tasks finish; return its status."""
        entry = self.live.get(run_id)
        if entry is not None:
            run, task = entry
            deadline = time.monotonic() + max(0.0, timeout)
            last = None
            while not task.done():
                if progress is not None:
                    from ..cli.progress import describe_counts, done

                    counts = run.counts()
                    now = (done(counts), run.total)
                    if now != last:
                        last = now
                        await progress(now[0], now[1], describe_counts(counts))
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                await asyncio.wait([task], timeout=min(0.5, left))
        doc = await self.status(run_id)
        doc["finished"] = doc["status"] not in ("running", "interrupted")
        return doc

    async def report(self, run_id: str, out: str | None = None) -> dict[str, Any]:
        """Where the time went and what failed; with ``out``, the HTML report written there."""
        store = self.orch.store
        assert store is not None
        saved = await store.get_run(run_id)
        states = await store.task_states(run_id)
        durations = {
            tid: s.finished_at - s.started_at
            for tid, s in states.items()
            if s.finished_at is not None and s.started_at is not None and s.attempts
        }
        slowest = sorted(durations.items(), key=lambda kv: -kv[1])[:_SLOWEST]
        doc: dict[str, Any] = {
            "run_id": run_id,
            "workflow": saved.workflow,
            "status": saved.status,
            "duration": None if saved.duration is None else round(saved.duration, 6),
            "counts": saved.counts,
            "failures": [
                {"task": tid, "agent": s.agent, "attempts": s.attempts, "error": s.error}
                for tid, s in states.items()
                if s.status == "failed"
            ],
            "slowest": [{"task": t, "seconds": round(d, 6)} for t, d in slowest],
            "agents": (saved.stats or {}).get("agents", {}),
        }
        if out is not None:
            from ..cli.stored import ordered_states
            from ..report.html import render_report

            target = Path(out)
            html = render_report(
                saved, ordered_states(saved, states), await store.transitions(run_id)
            )
            try:
                target.write_text(html, encoding="utf-8")
            except OSError as exc:
                raise ValidationError(
                    f"{out}: cannot write the report: {exc.strerror}.", field="out"
                ) from None
            doc["report"] = str(target.resolve())
        return doc

    async def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The store's runs, newest first."""
        store = self.orch.store
        assert store is not None
        return [r.to_dict() for r in await store.list_runs(limit=max(1, limit))]

    def agents(self, path: str | None = None, workflow: str | None = None) -> dict[str, Any]:
        """The agents a workflow declares, or those of the runs going on now; and the kinds
        of agent a workflow file can declare."""
        from ..agents.kinds import kind_names

        if path is not None or workflow is not None:
            agents = [_agent_info(a) for a in self._load(path, workflow).agents]
        else:
            agents = []
            for run, _ in self.live.values():
                for a in run.agents.values():
                    info = _agent_info(a)
                    info.update(run_id=run.run_id, **a.stats())
                    agents.append(info)
        return {"agents": agents, "kinds": kind_names(), "cwd": os.getcwd()}

    def _bounded(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        text = json.dumps(value, ensure_ascii=False)
        if len(text) <= self.max_result_chars:
            return value
        return {"truncated": True, "chars": len(text), "excerpt": text[: self.max_result_chars]}


def _agent_info(a: Any) -> dict[str, Any]:
    kind = type(a).__name__
    return {
        "name": a.name,
        "kind": kind,
        "capabilities": list(a.capabilities),
        "capacity": a.capacity,
    }
