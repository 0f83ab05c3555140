"""SQLite store specifics: files that are not podium stores, URLs, WAL, migrations, and two
processes sharing one file."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import podium
from podium import migrations
from podium.result import TaskStatus
from podium.stores import RunRecord, open_store
from podium.stores.base import redact
from podium.stores.memory import MemoryStore
from podium.stores.sqlite import SQLiteStore


async def opened(path: Path | str) -> SQLiteStore:
    store = open_store(str(path))
    await store.open()
    return store  # type: ignore[return-value]


# -- files that are not podium stores -----------------------------------------------------------


async def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(podium.StoreError) as info:
        await opened(bad)
    msg = str(info.value)
    assert msg.startswith(f"{bad}: is not a podium store") and "file is not a database" in msg
    assert bad.read_bytes().startswith(b"these are my notes")  # left untouched


async def test_a_store_whose_wal_file_cannot_be_made_says_why(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    store = await opened(db)
    await store.close()
    for extra in ("runs.db-wal", "runs.db-shm"):
        (tmp_path / extra).unlink(missing_ok=True)
    (tmp_path / "runs.db-wal").mkdir()  # as good as a folder SQLite may not write in
    with pytest.raises(podium.StoreError) as info:
        await opened(db)
    msg = str(info.value)
    assert msg.startswith(f"{db}: cannot open it") and "-wal and -shm files" in msg


async def test_a_damaged_podium_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    store = await opened(db)
    await store.close()
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # scribble over the schema page
    db.write_bytes(bytes(data))
    with pytest.raises(podium.StoreError, match=f"{db}: is not a podium store"):
        await opened(db)


async def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "app.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(podium.StoreError) as info:
        await opened(foreign)
    assert str(info.value) == (
        f"{foreign}: is a SQLite database of another application (tables: users), not a "
        "podium store. Point --db at a new file or at a podium database."
    )


async def test_a_missing_folder_or_a_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(podium.StoreError, match=r"the folder '.*nowhere' does not exist"):
        await opened(tmp_path / "nowhere" / "runs.db")
    with pytest.raises(podium.StoreError, match=r"is a directory\. Give a file name"):
        await opened(tmp_path)


async def test_a_store_from_a_newer_podium_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    store = await opened(db)
    await store.close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE podium_version SET version_num='9999'")
    conn.commit()
    conn.close()
    with pytest.raises(podium.StoreError, match="written by a newer podium \\(schema '9999'"):
        await opened(db)


# -- URLs ---------------------------------------------------------------------------------------


def test_store_urls() -> None:
    assert isinstance(open_store("memory"), MemoryStore)
    assert open_store("runs.db").path == "runs.db"  # type: ignore[attr-defined]
    assert open_store("sqlite:///rel/runs.db").path == "rel/runs.db"  # type: ignore[attr-defined]
    assert open_store("sqlite:////abs/runs.db").path == "/abs/runs.db"  # type: ignore[attr-defined]
    pg = open_store("postgresql://u:secret@h:5433/db?schema=s")
    assert (pg.schema, pg.database) == ("s", "db")  # type: ignore[attr-defined]
    assert "secret" not in repr(pg)
    assert redact("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
    store = MemoryStore()
    assert open_store(store) is store


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/db", "unknown store URL scheme 'mysql'"),
        ("sqlite://", "a SQLite URL looks like sqlite:///runs.db"),
        ("", "the store URL is empty"),
    ],
)
def test_bad_store_urls_say_what_works(url: str, message: str) -> None:
    with pytest.raises(podium.StoreError, match=message) as info:
        open_store(url)
    if url:
        assert "postgresql://USER@HOST/DB" in str(info.value) or "sqlite:///" in str(info.value)


# -- the file itself ----------------------------------------------------------------------------


async def test_the_file_is_in_wal_mode_and_migrated_to_head(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    store = await opened(db)
    await store.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version_num FROM podium_version").fetchall() == [
            (migrations.HEAD,)
        ]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"podium_runs", "podium_transitions", "podium_cache"} <= tables
    finally:
        conn.close()


def test_head_matches_the_migration_scripts() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrations.config())
    assert scripts.get_current_head() == migrations.HEAD
    assert [r.revision for r in scripts.walk_revisions()][::-1] == list(migrations.REVISIONS)


async def test_a_failed_batch_leaves_nothing_behind(tmp_path: Path) -> None:
    """A batch is one transaction: when it cannot be written whole, none of it is."""
    db = tmp_path / "runs.db"
    one, two = await opened(db), await opened(db)
    C = TaskStatus.COMPLETED
    try:
        await one.create_run(RunRecord("r", "wf", started_at=1.0, total=3))
        await one.append("r", [("a", C, 1, "x", 1.0, 2.0, None, None)])
        await two.append("r", [("b", C, 1, "x", 1.0, 2.0, None, None)])  # seq 2, from disk
        # `one` still believes seq 1 was the last: its next batch collides half way
        with pytest.raises(podium.StoreError, match="written by another process"):
            await one.append(
                "r",
                [("c", C, 1, "x", 1.0, 2.0, None, None), ("d", C, 1, "x", 1.0, 2.0, None, None)],
            )
        assert [t.task_id for t in await one.transitions("r")] == ["a", "b"]
        # it re-reads the sequence after the collision and carries on
        await one.append("r", [("c", C, 1, "x", 1.0, 2.0, None, None)])
        assert [t.task_id for t in await two.transitions("r")] == ["a", "b", "c"]
    finally:
        await one.close()
        await two.close()


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    import podium

    async def main(db, tag):
        orch = podium.Orchestrator(store=db)

        @orch.agent(name="w", capabilities=["w"], capacity=8)
        async def work(ctx):
            await asyncio.sleep(0)
            return ctx.task_id

        for n in range(3):
            wf = podium.Workflow("shared")
            for i in range(300):
                wf.task(f"t{i}", capability="w", depends_on=[f"t{i - 1}"] if i % 10 else [])
            result = await orch.run(wf, run_id=f"{tag}-{n}")
            assert result.status == "completed", result.status
        await orch.close()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def test_two_processes_share_one_file(tmp_path: Path) -> None:
    """Both create the schema at once (one waits for the other) and then record runs side by
    side; the file stays whole and every run is complete."""
    db = tmp_path / "shared.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(db), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("p1", "p2")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err

    async def check() -> None:
        store = await opened(db)
        try:
            runs = await store.list_runs()
            assert sorted(r.run_id for r in runs) == sorted(
                f"{tag}-{n}" for tag in ("p1", "p2") for n in range(3)
            )
            for r in runs:
                assert r.status == "completed" and r.counts["completed"] == 300
                states = await store.task_states(r.run_id)
                assert len(states) == 300
                assert all(s.status == "completed" for s in states.values())
        finally:
            await store.close()

    asyncio.run(check())
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
