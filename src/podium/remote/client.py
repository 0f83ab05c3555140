"""`podium.Client`: a podium server's API as Python calls.

>>> client = podium.Client("http://127.0.0.1:8000", key="pod_...")
>>> run_id = client.start("flow.yaml")
>>> doc = client.wait(run_id)
>>> doc["status"], doc["tasks"]["summary"]["result"]
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import TaskFailed, ValidationError
from ._http import check_url, error_of, headers, unreachable

__all__ = ["Client"]


class Client:
    """A connection to one podium server (``url``), authenticated with an API key or JWT
    (``key``; default: the environment variable PODIUM_KEY). Documents come back as the JSON
    the API returns: a run is the document of ``podium run --json``."""

    def __init__(self, url: str | None = None, key: str | None = None, *, timeout: float = 30.0):
        import httpx

        self.url = check_url(url)
        self._http = httpx.Client(base_url=self.url, headers=headers(key), timeout=timeout)

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            resp = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise unreachable(self.url, exc) from None
        if resp.status_code >= 400:
            raise error_of(resp, self.url)
        if resp.status_code == 204:
            return None
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.text

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------------------

    def start(self, workflow: Any, *, idempotency_key: str | None = None) -> str:
        """Start a run; returns its id. ``workflow``: a mapping in the file format, a
        `podium.Workflow`, or the path of a YAML/JSON file (uploaded as it is)."""
        hdrs = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        if isinstance(workflow, str | os.PathLike):
            path = Path(workflow)
            try:
                content = path.read_bytes()
            except OSError as exc:
                raise ValidationError(
                    f"{path}: cannot read it: {exc.strerror}.", file=str(path)
                ) from None
            doc = self._call(
                "POST", "/api/v1/runs/upload", files={"file": (path.name, content)}, headers=hdrs
            )
        else:
            doc = self._call("POST", "/api/v1/runs", json=_as_mapping(workflow), headers=hdrs)
        return doc["run_id"]

    def status(self, run_id: str, *, tasks: bool = True) -> dict[str, Any]:
        """The run's document: status, counts, and every task (``tasks=False``: counts only)."""
        return self._call("GET", f"/api/v1/runs/{run_id}", params={"tasks": tasks})

    def wait(self, run_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the run to end; its document. `TimeoutError` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 20.0 if deadline is None else max(0.0, min(20.0, deadline - time.monotonic()))
            asked = time.monotonic()
            doc = self._call(
                "GET", f"/api/v1/runs/{run_id}", params={"wait": left}, timeout=left + 30
            )
            if doc["status"] != "running":
                return doc
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} is still running after {timeout} s")
            if time.monotonic() - asked < left / 2:
                # it runs on another server (read from the store): ask again in a moment
                time.sleep(0.2)

    def run(self, workflow: Any, *, timeout: float | None = None) -> dict[str, Any]:
        """Start a run and wait for it; its document."""
        return self.wait(self.start(workflow), timeout)

    def runs(self, **filters: Any) -> list[dict[str, Any]]:
        """Recorded runs, newest first: filters ``status``, ``workflow``, ``since``,
        ``until``, ``limit``, ``offset``."""
        params = {k: v for k, v in filters.items() if v is not None}
        return self._call("GET", "/api/v1/runs", params=params)["runs"]

    def cancel(self, run_id: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/runs/{run_id}/cancel")

    def resume(self, run_id: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/runs/{run_id}/resume")

    def logs(self, run_id: str, tasks: list[str] | None = None) -> list[dict[str, Any]]:
        return self._call("GET", f"/api/v1/runs/{run_id}/logs", params={"task": tasks or []})

    def report(self, run_id: str) -> str:
        """The run's HTML report."""
        return self._call("GET", f"/api/v1/runs/{run_id}/report")

    def graph(self, run_id: str) -> str:
        """The run's DAG as Mermaid text."""
        return self._call("GET", f"/api/v1/runs/{run_id}/graph")

    # -- tasks ---------------------------------------------------------------------------

    def delegate(self, capability: str, input: Any = None, *, timeout: float | None = None) -> Any:
        """Run one task on the server's best agent for ``capability``; its result, or
        `TaskFailed`."""
        body: dict[str, Any] = {"capability": capability, "input": input, "wait": 60}
        if timeout is not None:
            body["timeout"] = timeout
        doc = self._call("POST", "/api/v1/tasks", json=body)
        while doc["run_status"] == "running":
            doc = self._call("GET", f"/api/v1/tasks/{doc['task_id']}", params={"wait": 60})
        if doc["status"] != "completed":
            raise TaskFailed(
                f"delegated {capability!r} task failed on agent {doc['agent']!r}: {doc['error']}",
                task=doc["task_id"],
            )
        return doc["result"]

    # -- agents --------------------------------------------------------------------------

    def agents(self) -> list[dict[str, Any]]:
        return self._call("GET", "/api/v1/agents")

    def agent(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/agents/{name}")

    def register_agent(self, name: str, **fields: Any) -> dict[str, Any]:
        """Register an agent: ``url=`` makes a push agent (fields of a file's agents)."""
        return self._call("POST", "/api/v1/agents", json={"name": name, **fields})

    def pause_agent(self, name: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/agents/{name}/pause")

    def resume_agent(self, name: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/agents/{name}/resume")

    def terminate_agent(self, name: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/agents/{name}/terminate")

    def scale_agent(
        self,
        name: str,
        *,
        min: int | None = None,
        max: int | None = None,
        capacity: int | None = None,
    ) -> dict[str, Any]:
        body = {k: v for k, v in (("min", min), ("max", max), ("capacity", capacity)) if v}
        return self._call("POST", f"/api/v1/agents/{name}/scale", json=body)

    def send(self, agent: str, payload: Any, *, sender: str | None = None) -> dict[str, Any]:
        """Send a message to an agent's inbox."""
        return self._call(
            "POST", f"/api/v1/agents/{agent}/messages", json={"payload": payload, "sender": sender}
        )

    def messages(self, agent: str, *, wait: float = 0) -> list[dict[str, Any]]:
        """Read (and take) the messages in an agent's inbox."""
        return self._call(
            "GET", f"/api/v1/agents/{agent}/messages", params={"wait": wait}, timeout=wait + 30
        )

    # -- the server ----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/api/v1/stats")

    def events(
        self, *, run: str | None = None, agent: str | None = None, last_event_id: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Events as they happen (a generator; break out of it to stop)."""
        import httpx

        params = {k: v for k, v in (("run", run), ("agent", agent)) if v}
        hdrs = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        try:
            with self._http.stream(
                "GET", "/api/v1/events", params=params, headers=hdrs, timeout=None
            ) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise error_of(resp, self.url)
                kind, event_id = None, None
                for line in resp.iter_lines():
                    if line.startswith("id: "):
                        event_id = int(line[4:])
                    elif line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        doc = json.loads(line[6:])
                        doc.setdefault("type", kind)
                        doc["id"] = event_id
                        yield doc
        except httpx.HTTPError as exc:
            raise unreachable(self.url, exc) from None


def _as_mapping(workflow: Any) -> dict[str, Any]:
    if isinstance(workflow, dict):
        return workflow
    from ..spec.workflow import Workflow

    if isinstance(workflow, Workflow):
        doc: dict[str, Any] = {"name": workflow.name, "on_failure": workflow.on_failure}
        if workflow.max_concurrency is not None:
            doc["max_concurrency"] = workflow.max_concurrency
        if isinstance(workflow.strategy, str):
            doc["strategy"] = workflow.strategy
        doc["tasks"] = [t.to_dict() for t in workflow.tasks.values()]
        return doc
    raise ValidationError(
        f"a workflow to start is a mapping, a podium.Workflow or a file path, not "
        f"{type(workflow).__name__}.",
        field="workflow",
    )
