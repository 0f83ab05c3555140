"""One contract for every run store: memory, SQLite (a file in tmp_path) and PostgreSQL (a fresh
schema of the local test database). Store-level behaviour first, then runs recorded and
resumed through the Orchestrator."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import podium
from _pg import pg_schema
from podium.result import TaskStatus
from podium.stores import MemoryStore, RunRecord, Store, open_store
from podium.stores.base import CacheEntry
from podium.stores.definition import describe, rebuild


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store_url(request, tmp_path: Path) -> AsyncIterator[str | Store]:
    """What to pass as ``store=``: a shared MemoryStore, a SQLite path, a PostgreSQL URL."""
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        yield str(tmp_path / "runs.db")
    else:
        async with pg_schema() as url:
            yield url


@pytest.fixture
async def store(store_url) -> AsyncIterator[Store]:
    s = open_store(store_url)
    await s.open()
    yield s
    await s.close()


def record(run_id: str = "r1", total: int = 3, **kw) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        workflow="wf",
        status="running",
        started_at=kw.pop("started_at", time.time()),
        definition={"format": 1, "kind": "code", "name": "wf", "tasks": {"id": [], "x": "é"}},
        total=total,
        owner=kw.pop("owner", "host:1"),
        **kw,
    )


# -- the store interface -----------------------------------------------------------------------


async def test_create_and_get_a_run(store: Store) -> None:
    await store.create_run(record())
    got = await store.get_run("r1")
    assert (got.run_id, got.workflow, got.status, got.total) == ("r1", "wf", "running", 3)
    assert got.definition["tasks"]["x"] == "é"
    assert got.owner == "host:1" and got.sessions == 1 and got.finished_at is None


async def test_a_run_id_is_recorded_once(store: Store) -> None:
    await store.create_run(record())
    with pytest.raises(podium.StoreError, match="run with id 'r1' exists already"):
        await store.create_run(record())


async def test_unknown_run_ids_are_named(store: Store) -> None:
    for call in (
        store.get_run("nope"),
        store.transitions("nope"),
        store.update_run("nope", status="failed"),
    ):
        with pytest.raises(podium.StoreError, match="no run with id 'nope'") as info:
            await call
        assert "podium runs --db" in str(info.value)


async def test_transitions_keep_their_order_and_values(store: Store) -> None:
    await store.create_run(record())
    t0 = 1_700_000_000.25
    C, F = TaskStatus.COMPLETED, TaskStatus.FAILED
    await store.append(
        "r1",
        [
            ("a", "running", 1, "ag", t0),
            ("b", "running", 1, "ag", t0),
            ("a", C, 1, "ag", t0, t0 + 1, {"n": [1, 2.5, None, "ü"]}, None),
        ],
    )
    await store.append(
        "r1",
        [
            ("b", "retrying", 1, "ag", t0, t0 + 2, "ValueError: x"),
            ("b", "running", 2, "ag2", t0 + 3),
            ("b", F, 2, "ag2", t0 + 3, t0 + 4, None, "ValueError: y"),
            ("c", C, 1, "ag", t0 + 5, t0 + 6, None, None),
        ],
    )
    ts = await store.transitions("r1")
    assert [t.seq for t in ts] == sorted(t.seq for t in ts)
    assert [(t.task_id, t.status, t.attempt) for t in ts] == [
        ("b", "running", 1),  # a's running entry folded into its completion (same batch)
        ("a", "completed", 1),
        ("b", "retrying", 1),
        ("b", "failed", 2),  # attempt 2's start folded into its end
        ("c", "completed", 1),
    ]
    a = ts[1]
    assert a.result == {"n": [1, 2.5, None, "ü"]}
    assert (a.started_at, a.finished_at, a.agent) == (t0, t0 + 1, "ag")
    assert ts[3].started_at == t0 + 3 and ts[3].error == "ValueError: y"
    assert ts[4].result is None and ts[4].status == "completed"


async def test_task_states_are_rebuilt_from_transitions(store: Store) -> None:
    await store.create_run(record(total=4))
    C = TaskStatus.COMPLETED
    await store.append(
        "r1", [("a", C, 1, "ag", 1.0, 2.0, [1], None), ("b", "running", 3, "ag", 3.0)]
    )
    states = await store.task_states("r1")
    assert set(states) == {"a", "b"}
    assert states["a"].to_dict()["status"] == "completed" and states["a"].result == [1]
    assert states["b"].status == "running" and states["b"].attempts == 3
    assert states["a"].preset()["result"] == [1]
    assert states["b"].preset() == {"status": "running", "attempts": 3}


async def test_list_runs_counts_unfinished_and_finished_runs(store: Store) -> None:
    await store.create_run(record("old", total=3, started_at=100.0))
    await store.create_run(record("new", total=4, started_at=200.0))
    C = TaskStatus.COMPLETED
    await store.append("new", [("a", C, 1, "x", 1.0, 2.0, 1, None), ("b", "running", 1, "x", 2.0)])
    counts = {"completed": 3, "failed": 0, "pending": 0}
    await store.update_run("old", status="completed", finished_at=110.0, counts=counts)
    runs = await store.list_runs()
    assert [r.run_id for r in runs] == ["new", "old"]
    new, old = runs
    assert (new.counts["completed"], new.counts["running"], new.counts["pending"]) == (1, 1, 2)
    assert old.status == "completed" and old.counts == counts and old.duration == 10.0
    assert [r.run_id for r in await store.list_runs(limit=1)] == ["new"]
    doc = new.to_dict()
    assert {"run_id", "workflow", "status"} <= set(doc)


async def test_update_run_sets_status_owner_and_sessions(store: Store) -> None:
    await store.create_run(record())
    await store.update_run("r1", status="running", owner="other:2", new_session=True)
    stats = {"total": 3, "agents": {"a": {"completed": 3}}}
    await store.update_run("r1", status="partial", finished_at=5.0, stats=stats)
    got = await store.get_run("r1")
    assert (got.status, got.owner, got.sessions, got.finished_at) == ("partial", "other:2", 2, 5.0)
    assert got.stats == stats


async def test_run_level_events_are_kept_apart_from_tasks(store: Store) -> None:
    await store.create_run(record())
    await store.append("r1", [{"event": "agent_paused", "at": 5.0, "agent": "a"}])
    (t,) = await store.transitions("r1")
    assert (t.task_id, t.status, t.note, t.result, t.at) == (
        None,
        "event",
        "agent_paused",
        {"agent": "a"},
        5.0,
    )
    assert await store.task_states("r1") == {}


async def test_cache_entries_are_stored_and_replaced(store: Store) -> None:
    await store.create_run(record())
    e1 = CacheEntry("k1", "cap", {"v": 1}, "r1", "a", "ag", 10.0)
    await store.append("r1", [], [e1])
    assert await store.cache_get(["k1", "k2"]) == {"k1": e1}
    e2 = CacheEntry("k1", "cap", ["new"], "r1", "b", "ag", 11.0)
    await store.append("r1", [], [e2])
    assert (await store.cache_get(["k1"]))["k1"].result == ["new"]
    assert await store.cache_get([]) == {}


async def test_data_outlives_the_store_object(store_url) -> None:
    s = open_store(store_url)
    await s.open()
    await s.create_run(record())
    await s.append("r1", [("a", TaskStatus.COMPLETED, 1, "x", 1.0, 2.0, "ok", None)])
    await s.close()
    again = open_store(store_url)
    await again.open()
    try:
        assert (await again.task_states("r1"))["a"].result == "ok"
        # the sequence goes on after the rows a previous process wrote
        await again.append("r1", [("b", TaskStatus.COMPLETED, 1, "x", 3.0, 4.0, "ok", None)])
        assert [t.seq for t in await again.transitions("r1")] == [1, 2]
    finally:
        await again.close()


# -- runs recorded through the orchestrator ----------------------------------------------------


def diamond(fail: set[str] | None = None) -> podium.Workflow:
    wf = podium.Workflow("diamond")
    wf.task("a", capability="work", input={"n": 1})
    wf.task("b", capability="work", depends_on=["a"], input={"n": 2}, priority="high")
    wf.task("c", capability="work", depends_on=["a"], retry={"max_attempts": 2, "initial_delay": 0})
    wf.task("d", capability="work", depends_on=["b", "c"], timeout=30)
    return wf


def counting_orch(store_url, calls: list[str], fail: set[str]) -> podium.Orchestrator:
    orch = podium.Orchestrator(store=store_url)

    @orch.agent(name="worker", capabilities=["work"], capacity=4)
    async def work(ctx):
        calls.append(ctx.task_id)
        await asyncio.sleep(0)
        if ctx.task_id in fail:
            raise RuntimeError(f"{ctx.task_id} broke")
        return {"id": ctx.task_id, "deps": sorted(ctx.deps), "key": ctx.idempotency_key}

    return orch


async def test_a_run_is_recorded_with_every_transition(store_url) -> None:
    calls: list[str] = []
    orch = counting_orch(store_url, calls, set())
    result = await orch.run(diamond(), run_id="run-1")
    store = orch.store
    saved = await store.get_run("run-1")
    assert saved.status == "completed" and saved.total == 4
    assert saved.counts["completed"] == 4 and saved.stats["completed"] == 4
    states = await store.task_states("run-1")
    assert {tid: s.to_dict() for tid, s in states.items()} == result.to_dict()["tasks"]
    await orch.close()


async def test_a_run_starts_its_clock_after_describing_its_workflow(store_url, monkeypatch) -> None:
    from podium.engine import recorder

    described: list[float] = []

    def describe(*args, **kwargs):  # the real one; a big workflow file takes a while to read
        out = recorder_describe(*args, **kwargs)
        described.append(time.time())
        return out

    recorder_describe = recorder.describe
    monkeypatch.setattr(recorder, "describe", describe)
    orch = counting_orch(store_url, [], set())
    await orch.run(diamond(), run_id="run-clock")
    assert (await orch.store.get_run("run-clock")).started_at >= described[0]
    await orch.close()


async def test_resume_runs_only_what_did_not_complete(store_url) -> None:
    calls: list[str] = []
    fail = {"c"}
    orch = counting_orch(store_url, calls, fail)
    first = await orch.run(diamond(), run_id="run-2")
    assert first.status == "failed"
    assert first.tasks["c"].attempts == 2 and first.tasks["d"].status == "skipped"
    fail.clear()  # the bug is fixed
    calls.clear()
    result = await orch.resume("run-2")
    assert result.status == "completed"
    assert sorted(calls) == ["c", "d"]  # a and b completed before: not run again
    assert result.tasks["a"].result == first.tasks["a"].result
    assert result.tasks["c"].attempts == 3  # counted across sessions
    saved = await orch.store.get_run("run-2")
    assert saved.status == "completed" and saved.sessions == 2
    ts = await orch.store.transitions("run-2")
    assert any(t.status == "event" and t.note == "resumed" for t in ts)
    await orch.close()


async def test_resuming_a_completed_run_changes_nothing(store_url) -> None:
    calls: list[str] = []
    orch = counting_orch(store_url, calls, set())
    first = await orch.run(diamond(), run_id="run-done")
    assert first.status == "completed"
    before = await orch.store.get_run("run-done")
    history = await orch.store.transitions("run-done")
    calls.clear()
    again = await orch.resume("run-done")
    assert again.status == "completed" and not calls
    assert again.tasks["d"].result == first.tasks["d"].result
    after = await orch.store.get_run("run-done")
    assert (after.sessions, after.finished_at, after.stats) == (
        before.sessions,
        before.finished_at,
        before.stats,
    )
    assert await orch.store.transitions("run-done") == history  # no "resumed" event either
    await orch.close()


async def test_resuming_with_other_tasks_is_refused(store_url) -> None:
    calls: list[str] = []
    fail = {"c"}
    orch = counting_orch(store_url, calls, fail)
    assert (await orch.run(diamond(), run_id="run-changed")).status == "failed"
    changed = diamond()
    del changed.tasks["d"]
    changed.task("e", capability="work", depends_on=["c"])
    with pytest.raises(podium.ValidationError, match=r"adds \['e'\] and drops \['d'\]"):
        await orch.resume("run-changed", workflow=changed)
    saved = await orch.store.get_run("run-changed")
    assert saved.status == "failed" and saved.sessions == 1  # nothing was touched
    await orch.close()


async def test_of_two_resumes_at_once_one_runs_the_other_is_refused(store_url) -> None:
    calls: list[str] = []
    fail = {"c"}
    orch = counting_orch(store_url, calls, fail)
    assert (await orch.run(diamond(), run_id="run-twice")).status == "failed"
    fail.clear()
    calls.clear()
    store = orch.store if isinstance(store_url, Store) else store_url
    other = counting_orch(store, calls, set())
    mine = await orch.prepare_resume("run-twice")
    theirs = await other.prepare_resume("run-twice")  # both read the run before either starts
    assert (await orch.execute(mine)).status == "completed"
    with pytest.raises(podium.StoreError, match="was resumed by another process at the same"):
        await other.execute(theirs)
    assert sorted(calls) == ["c", "d"]  # the refused resume ran nothing
    saved = await orch.store.get_run("run-twice")
    assert saved.status == "completed" and saved.sessions == 2
    await orch.close()
    await other.close()


async def test_a_cancelled_run_resumes_where_it_stopped(store_url) -> None:
    calls: list[str] = []
    started = asyncio.Event()
    orch = podium.Orchestrator(store=store_url)

    @orch.agent(name="slow", capabilities=["s"], capacity=2)
    async def slow(ctx):
        calls.append(ctx.task_id)
        if ctx.input["slow"]:
            started.set()
            await asyncio.sleep(30)
        return ctx.task_id

    wf = podium.Workflow("mixed")
    for i in range(6):
        wf.task(f"t{i}", capability="s", input={"slow": i == 3}, priority=10 - i)
    task = asyncio.create_task(orch.run(wf, run_id="run-3"))
    await started.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    saved = await orch.store.get_run("run-3")
    assert saved.status == "cancelled"
    done_before = {
        t for t, s in (await orch.store.task_states("run-3")).items() if s.status == "completed"
    }
    assert {"t0", "t1", "t2"} <= done_before and "t3" not in done_before
    wf.tasks["t3"].input = {"slow": False}
    calls.clear()
    result = await orch.resume("run-3", workflow=wf)
    assert result.status == "completed"
    assert not set(calls) & done_before and "t3" in calls
    await orch.close()


async def test_resume_rebuilds_a_workflow_file_from_the_store(store_url, tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    module = f"resume_handlers_{os.getpid()}_{id(store_url) % 100000}"
    (folder / f"{module}.py").write_text(
        "import os\n"
        "def work(ctx):\n"
        "    if ctx.task_id == 'b' and not os.environ.get('PODIUM_TEST_FIXED'):\n"
        "        raise RuntimeError('not yet')\n"
        "    return ctx.task_id + ':' + str(ctx.input)\n",
        encoding="utf-8",
    )
    flow = folder / "flow.yaml"
    flow.write_text(
        "name: from-file\n"
        "agents:\n"
        f"  - {{name: w, capabilities: [work], handler: '{module}:work', executor: inline}}\n"
        "tasks:\n"
        "  - {id: a, capability: work, input: 1}\n"
        "  - {id: b, capability: work, depends_on: [a]}\n",
        encoding="utf-8",
    )
    orch = podium.Orchestrator(store=store_url)
    first = await orch.run(flow, run_id="run-4")
    assert first.status == "failed"
    await orch.close()
    flow.unlink()  # the store keeps the file's contents; the handlers stay in its folder
    os.environ["PODIUM_TEST_FIXED"] = "1"
    try:
        again = podium.Orchestrator(store=store_url)  # no agents: they come from the file
        result = await again.resume("run-4")
    finally:
        del os.environ["PODIUM_TEST_FIXED"]
    assert result.status == "completed" and result["b"] == "b:{}"
    assert result["a"] == "a:1"
    await again.close()


async def test_resume_rebuilds_a_workflow_built_in_code(store_url) -> None:
    calls: list[str] = []
    fail = {"d"}
    orch = counting_orch(store_url, calls, fail)
    await orch.run(diamond(), run_id="run-5")
    await orch.close()
    fail.clear()
    calls.clear()
    fresh = counting_orch(store_url, calls, fail)  # same agents, registered again
    result = await fresh.resume("run-5")
    assert result.status == "completed" and calls == ["d"]
    assert result["d"]["key"] == "run-5:d"  # idempotency key: stable across sessions
    await fresh.close()


async def test_cached_results_are_reused_across_runs(store_url) -> None:
    calls: list[str] = []
    orch = podium.Orchestrator(store=store_url)

    @orch.agent(name="worker", capabilities=["work"])
    async def work(ctx):
        calls.append(ctx.task_id)
        return {"input": ctx.input, "id": ctx.task_id}

    def flow(q: str) -> podium.Workflow:
        wf = podium.Workflow("cached")
        wf.task("fetch", capability="work", input={"q": q}, cache=True)
        wf.task("keyed", capability="work", input={"t": time.time()}, cache_key="v1")
        wf.task("plain", capability="work", input={"q": q})
        wf.task("after", capability="work", depends_on=["fetch"], cache=True)
        return wf

    first = await orch.run(flow("x"), run_id="c1")
    assert sorted(calls) == ["after", "fetch", "keyed", "plain"]
    calls.clear()
    second = await orch.run(flow("x"), run_id="c2")
    assert calls == ["plain"]  # everything cacheable came from the store
    assert second["fetch"] == first["fetch"] and second["keyed"] == first["keyed"]
    assert second.tasks["fetch"].attempts == 0
    ts = await orch.store.transitions("c2")
    note = next(t.note for t in ts if t.task_id == "fetch")
    assert note == "cached: the result of task 'fetch' in run c1"
    calls.clear()
    await orch.run(flow("y"), run_id="c3")  # another input: another key
    assert sorted(calls) == ["fetch", "plain"]
    await orch.close()


async def test_resume_refuses_a_run_whose_process_is_alive(store: Store) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        await store.create_run(record("busy"))
        await store.update_run("busy", status="running", owner=f"{socket.gethostname()}:{proc.pid}")
        orch = podium.Orchestrator(store=store)
        with pytest.raises(podium.StoreError, match=f"still running \\(process .*:{proc.pid}\\)"):
            await orch.resume("busy")
    finally:
        proc.kill()
        proc.wait()


async def test_resume_of_an_unknown_run_names_it(store: Store) -> None:
    orch = podium.Orchestrator(store=store)
    with pytest.raises(podium.StoreError, match="no run with id 'ghost'"):
        await orch.resume("ghost")


async def test_bad_run_ids_are_refused(store: Store) -> None:
    orch = counting_orch(store, [], set())
    with pytest.raises(podium.ValidationError, match="run id 'a b/c' is not valid"):
        await orch.run(diamond(), run_id="a b/c")


async def test_resume_needs_a_store() -> None:
    with pytest.raises(podium.ValidationError, match="resume needs a store"):
        await podium.Orchestrator().resume("x")


def test_a_code_definition_round_trips() -> None:
    wf = podium.Workflow("rt", on_failure="continue", max_concurrency=3)
    wf.task("a", capability="c", input=0)
    wf.task("b", agent="pinned", input={"k": [1, 2]}, depends_on=["a"], priority=9, timeout=2.5)
    wf.task("c", capability="c", input="", retry={"max_attempts": 4, "backoff": "fixed"})
    wf.task("d", capability="c", cache=True, pattern="consensus", options={"agents": 3})
    wf.task("e", capability="c", cache_key="k", input=[])
    back = rebuild(describe(wf), run_id="x")
    assert (back.name, back.on_failure, back.max_concurrency) == ("rt", "continue", 3)
    fields = [s for s in podium.Task.__slots__]
    for tid, t in wf.tasks.items():
        b = back.tasks[tid]
        assert [getattr(b, f) for f in fields] == [getattr(t, f) for f in fields], tid


def test_an_unreadable_definition_says_how_to_resume() -> None:
    with pytest.raises(podium.StoreError, match=r"orch.resume\(run_id, workflow=wf\)"):
        rebuild(None, run_id="r")


# -- what `podium serve` keeps -------------------------------------------------------------------


async def test_list_runs_filters_and_pages(store: Store) -> None:
    t0 = 1_000_000.0
    for i in range(5):
        await store.create_run(
            RunRecord(run_id=f"r{i}", workflow="a" if i % 2 else "b", started_at=t0 + i)
        )
    await store.update_run("r3", status="completed", finished_at=t0 + 9)
    assert [r.run_id for r in await store.list_runs(2, offset=1)] == ["r3", "r2"]
    assert [r.run_id for r in await store.list_runs(offset=3)] == ["r1", "r0"]
    assert [r.run_id for r in await store.list_runs(workflow="a")] == ["r3", "r1"]
    assert [r.run_id for r in await store.list_runs(status="completed")] == ["r3"]
    got = await store.list_runs(since=t0 + 1, until=t0 + 3)
    assert [r.run_id for r in got] == ["r2", "r1"]


async def test_api_keys_are_kept_and_revoked(store: Store) -> None:
    from podium.stores.service import ApiKey

    await store.create_key(ApiKey("k1", "admin", "scrypt$x", name="ops", created_at=1.0))
    await store.create_key(ApiKey("k2", "viewer", "scrypt$y", rate_limit=5.0, created_at=2.0))
    got = await store.get_key("k2")
    assert got is not None and (got.role, got.rate_limit, got.revoked_at) == ("viewer", 5.0, None)
    assert await store.get_key("nope") is None
    assert await store.revoke_key("k1", 3.0) is True
    assert await store.revoke_key("k1", 4.0) is True  # revoked once: the first time stays
    assert await store.revoke_key("nope", 4.0) is False
    keys = await store.list_keys()
    assert [(k.key_id, k.revoked_at) for k in keys] == [("k1", 3.0), ("k2", None)]


async def test_an_idempotency_key_ties_to_the_first_run(store: Store) -> None:
    assert await store.claim_idempotency("op:abc", "run-1", 1.0) == "run-1"
    assert await store.claim_idempotency("op:abc", "run-2", 2.0) == "run-1"
    got = await asyncio.gather(*(store.claim_idempotency("op:x", f"r{i}", 1.0) for i in range(20)))
    assert len(set(got)) == 1


async def test_registered_agents_are_kept(store: Store) -> None:
    await store.save_agent("a", {"name": "a", "url": "http://x"}, 1.0)
    await store.save_agent("b", {"name": "b"}, 2.0)
    await store.save_agent("a", {"name": "a", "url": "http://y"}, 3.0)
    assert await store.list_agents() == {
        "a": {"name": "a", "url": "http://y"},
        "b": {"name": "b"},
    }
    assert await store.delete_agent("a") is True
    assert await store.delete_agent("a") is False
    assert list(await store.list_agents()) == ["b"]


async def test_run_leases_pass_from_a_dead_owner_to_one_claimant(store: Store) -> None:
    store.lease_ttl = 30.0
    try:
        await store.create_run(record("mine", owner="server-a"))
        await store.create_run(record("done", owner="server-a"))
    finally:
        store.lease_ttl = None
    await store.update_run("done", status="completed", finished_at=time.time())
    now = time.time()
    assert await store.orphans(now) == []  # leased for 30 s
    assert await store.renew_leases("server-a", now - 1) == ["mine"]  # expired a second ago
    [orphan] = await store.orphans(now)
    assert (orphan.run_id, orphan.owner) == ("mine", "server-a")
    claims = await asyncio.gather(
        *(
            store.claim_run("mine", f"server-{i}", now + 30, now=now, from_owner="server-a")
            for i in "bcd"
        )
    )
    assert sorted(claims) == [False, False, True]
    winner = (await store.get_run("mine")).owner
    assert winner in ("server-b", "server-c", "server-d")
    assert await store.orphans(now) == []
    assert await store.renew_leases("server-a", now + 60) == []  # not its run any more
    assert await store.renew_leases(winner, now + 60) == ["mine"]
    assert await store.cancel_requests(winner) == []
    await store.request_cancel("mine")
    assert await store.cancel_requests(winner) == ["mine"]
    with pytest.raises(podium.StoreError, match="no run with id 'ghost'"):
        await store.request_cancel("ghost")


async def test_a_run_without_a_lease_is_an_orphan(store: Store) -> None:
    await store.create_run(record("cli"))  # recorded by `podium run --db`: no lease
    [orphan] = await store.orphans(time.time())
    assert (orphan.run_id, orphan.lease_expires) == ("cli", None)
    now = time.time()
    assert not await store.claim_run("cli", "srv", now + 5, now=now, from_owner="x:1")
    assert await store.claim_run("cli", "srv", now + 5, now=now, from_owner="host:1")
