"""PostgreSQL store specifics: connection errors that name the URL, schemas, migrations run once
by concurrent openers, atomic batches, and a store used from two event loops."""

from __future__ import annotations

import asyncio
import socket

import pytest

import podium
from _pg import PG_URL, pg_schema
from podium import migrations
from podium.result import TaskStatus
from podium.stores import RunRecord, open_store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_an_unreachable_server_is_named() -> None:
    url = f"postgresql://someone:secret@127.0.0.1:{free_port()}/test"
    store = open_store(url)
    with pytest.raises(podium.StoreError) as info:
        await store.open()
    msg = str(info.value)
    assert msg.startswith(f"postgresql://someone:***@127.0.0.1:{url.split(':')[3]}")
    assert "cannot connect to PostgreSQL" in msg and "Is the server running" in msg
    assert "secret" not in msg


async def test_a_missing_database_is_named() -> None:
    async with pg_schema():  # skips when the server is down
        base = PG_URL.rsplit("/", 1)[0]
        store = open_store(f"{base}/podium_no_such_db")
        with pytest.raises(podium.StoreError) as info:
            await store.open()
        assert "database 'podium_no_such_db' does not exist" in str(info.value)
        assert "createdb podium_no_such_db" in str(info.value)


async def test_schemas_keep_stores_apart() -> None:
    async with pg_schema() as one_url, pg_schema() as two_url:
        one, two = open_store(one_url), open_store(two_url)
        await one.open()
        await two.open()
        try:
            await one.create_run(RunRecord("same-id", "wf", started_at=1.0))
            await two.create_run(RunRecord("same-id", "other", started_at=2.0))
            assert (await one.get_run("same-id")).workflow == "wf"
            assert (await two.get_run("same-id")).workflow == "other"
        finally:
            await one.close()
            await two.close()


async def test_a_schema_name_needing_quotes_works() -> None:
    async with pg_schema() as url:  # skips when the server is down; its schema stays unused
        import asyncpg

        name = f"Podium-Test {url.rsplit('_', 1)[1]}"  # capitals, a hyphen and a space
        store = open_store(f"{url.split('?')[0]}?schema={name}")
        try:
            await store.open()
            await store.create_run(RunRecord("r", "wf", started_at=1.0))
            await store.append("r", [("a", TaskStatus.COMPLETED, 1, "x", 1.0, 2.0, "ok", None)])
            assert (await store.get_run("r")).workflow == "wf"
            assert (await store.task_states("r"))["a"].result == "ok"
        finally:
            await store.close()
            conn = await asyncpg.connect(PG_URL)
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            await conn.close()


async def test_concurrent_openers_migrate_once() -> None:
    async with pg_schema() as url:
        stores = [open_store(url) for _ in range(3)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            import asyncpg

            schema = url.rsplit("=", 1)[1]
            conn = await asyncpg.connect(PG_URL)
            try:
                version = await conn.fetch(f'SELECT version_num FROM "{schema}".podium_version')
            finally:
                await conn.close()
            assert [r[0] for r in version] == [migrations.HEAD]
        finally:
            for s in stores:
                await s.close()


async def test_a_failed_batch_leaves_nothing_behind() -> None:
    C = TaskStatus.COMPLETED
    async with pg_schema() as url:
        one, two = open_store(url), open_store(url)
        await one.open()
        await two.open()
        try:
            await one.create_run(RunRecord("r", "wf", started_at=1.0, total=3))
            await one.append("r", [("a", C, 1, "x", 1.0, 2.0, None, None)])
            await two.append("r", [("b", C, 1, "x", 1.0, 2.0, None, None)])
            with pytest.raises(podium.StoreError, match="written by another process"):
                await one.append(
                    "r",
                    [
                        ("c", C, 1, "x", 1.0, 2.0, {"big": "x" * 1000}, None),
                        ("d", C, 1, "x", 1.0, 2.0, None, None),
                    ],
                )
            assert [t.task_id for t in await two.transitions("r")] == ["a", "b"]
        finally:
            await one.close()
            await two.close()


def test_run_sync_twice_with_one_postgres_store() -> None:
    """asyncpg connections belong to one event loop: a second run_sync (a new loop) must
    reconnect rather than fail."""

    async def probe() -> None:
        async with pg_schema():
            pass

    asyncio.run(probe())  # skips when the server is down
    import uuid

    # a schema that outlives one event loop, dropped at the end

    schema = f"podium_test_{uuid.uuid4().hex[:10]}"
    url = f"{PG_URL}?schema={schema}"
    orch = podium.Orchestrator(store=url)
    orch.register(lambda ctx: ctx.task_id, name="w", capabilities=["w"], executor="inline")
    try:
        for n in range(2):
            wf = podium.Workflow("twice")
            wf.task("a", capability="w")
            assert orch.run_sync(wf, run_id=f"sync-{n}").status == "completed"
    finally:

        async def cleanup() -> None:
            import asyncpg

            await orch.close()
            conn = await asyncpg.connect(PG_URL)
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()

        asyncio.run(cleanup())
