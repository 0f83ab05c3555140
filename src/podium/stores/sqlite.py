"""The SQLite store: one file, no server; the default of ``podium run --db``.

Every call runs on one dedicated writer thread with its own connection, so the event loop never
blocks on the disk and batches are written in order. The file is in WAL mode (readers do not
block the writer) with ``synchronous=FULL`` (a committed batch survives power loss; the cost is
one fsync per transaction, paid off the loop). Each transaction is ``BEGIN IMMEDIATE`` and
other processes wait on ``busy_timeout``, so two processes sharing a file never corrupt it.

Writes are group-committed across calls too: every write queued while the writer thread is
busy goes into its next transaction, each in a savepoint of its own (one write failing leaves
the others alone), and all of them learn the outcome when it commits. One fsync costs a few
milliseconds, so a server that starts a thousand runs a second (each one a few writes) would
otherwise spend its disk on fsyncs; this way the transactions grow with the load.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ._sql import (
    CACHE_COLS,
    KEY_COLS,
    RUN_COLS,
    TRANSITION_COLS,
    cache_entries,
    cache_row,
    key_record,
    run_exists,
    run_record,
    run_row,
    runs_query,
    transition_rows,
    transitions_of,
    up_to_date,
    written_concurrently,
)
from .base import CacheEntry, RunRecord, Store, Transition, decode, encode, normalize, tally
from .service import ApiKey, Orphan

__all__ = ["SQLiteStore"]

BUSY_TIMEOUT = 30.0  # seconds another process's transaction may hold the write lock
_INSERT_T = (
    f"INSERT INTO podium_transitions (run_id, {TRANSITION_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
# SQLite takes a bare column next to max() from the row holding the max: the last transition
_LAST_STATES = (
    "SELECT status, count(*) FROM (SELECT status, max(seq) FROM podium_transitions "
    "WHERE run_id=? AND task_id IS NOT NULL GROUP BY task_id) GROUP BY status"
)
_UPSERT_CACHE = (
    f"INSERT INTO podium_cache ({CACHE_COLS}) "
    "VALUES (?,?,?,?,?,?,?) ON CONFLICT (key) DO UPDATE SET route=excluded.route, "
    "result=excluded.result, run_id=excluded.run_id, task_id=excluded.task_id, "
    "agent=excluded.agent, created_at=excluded.created_at"
)


class SQLiteStore(Store):
    """A store in a SQLite file.

    >>> orch = podium.Orchestrator(store="runs.db")   # or "sqlite:///runs.db"
    """

    def __init__(self, path: str | os.PathLike[str], *, url: str | None = None) -> None:
        self.path = os.fspath(path)
        self.url = url or self.path
        self._conn: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._seq: dict[str, int] = {}
        self._writes: deque[tuple[Any, tuple[Any, ...], asyncio.Future[Any]]] = deque()
        self._draining = False
        self._lock = threading.Lock()
        self._opening: asyncio.Future[None] | None = None

    # -- plumbing ----------------------------------------------------------------------------

    async def _call(self, fn: Any, *args: Any) -> Any:
        if self._thread is None:
            await self.open()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, fn, *args)

    async def _write(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the writer thread in the next group-committed transaction."""
        if self._thread is None:
            await self.open()
        fut = asyncio.get_running_loop().create_future()
        with self._lock:
            self._writes.append((fn, args, fut))
            start = not self._draining
            self._draining = True
        if start:
            self._thread.submit(self._drain)  # type: ignore[union-attr]
        return await fut

    def _drain(self) -> None:
        """On the writer thread: commit what is queued, as one transaction, until none is."""
        while True:
            with self._lock:
                if not self._writes:
                    self._draining = False
                    return
                batch = list(self._writes)
                self._writes.clear()
            outcomes = self._commit(batch)
            for (_, _, fut), (ok, value) in zip(batch, outcomes, strict=True):
                fut.get_loop().call_soon_threadsafe(_settle, fut, ok, value)

    def _commit(self, batch: list[Any]) -> list[tuple[bool, Any]]:
        conn = self._conn
        if conn is None:
            err = self._error("the store is closed.")
            return [(False, err)] * len(batch)
        outcomes: list[tuple[bool, Any]] = []
        alone = len(batch) == 1
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for fn, args, _ in batch:
                    if alone:
                        outcomes.append((True, fn(*args)))
                        continue
                    conn.execute("SAVEPOINT w")
                    try:
                        outcomes.append((True, fn(*args)))
                    except Exception as exc:
                        conn.execute("ROLLBACK TO w")
                        outcomes.append((False, exc))
                    conn.execute("RELEASE w")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except Exception as exc:
            self._seq.clear()  # counted for rows that were not written: read them again
            if isinstance(exc, sqlite3.DatabaseError):
                exc = self._corrupt(exc)
            return [(False, exc)] * len(batch)
        return outcomes

    async def open(self) -> None:
        # Runs started together each open the store: the first opens it, the others wait for
        # that (two writer threads on one connection would nest transactions).
        if self._thread is not None:
            return
        opening = self._opening
        if opening is None or opening.get_loop() is not asyncio.get_running_loop():
            opening = self._opening = asyncio.ensure_future(self._open_once())
        try:
            await asyncio.shield(opening)
        finally:
            if opening.done() and self._opening is opening:
                self._opening = None

    async def _open_once(self) -> None:
        if self._thread is not None:
            return
        thread = ThreadPoolExecutor(1, thread_name_prefix="podium-sqlite")
        try:
            await asyncio.get_running_loop().run_in_executor(thread, self._open_sync)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        self._thread = thread

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(thread, conn.close)
        thread.shutdown(wait=True)

    def _where(self) -> str:
        return self.url if self.url == self.path else f"{self.url} ({self.path})"

    def _error(self, what: str) -> StoreError:
        return StoreError(f"{self._where()}: {what}", file=self.path, field="store")

    def _open_sync(self) -> None:
        path = Path(self.path)
        if path.is_dir():
            raise self._error("is a directory. Give a file name such as runs.db.")
        folder = path.parent
        if not folder.exists():
            raise self._error(
                f"the folder {str(folder)!r} does not exist. Create it or choose another path."
            )
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._error(f"cannot open it as a SQLite database: {exc}.") from None
        try:
            _when_unlocked(lambda: self._check_and_migrate(conn))
            _when_unlocked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._corrupt(exc) from None
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _corrupt(self, exc: Exception) -> StoreError:
        if "not a database" in str(exc) or "malformed" in str(exc):
            return self._error(
                f"is not a podium store: the file is not a SQLite database or is damaged "
                f"({exc}). Point --db at a new file or at a podium database."
            )
        if "readonly" in str(exc) or "read-only" in str(exc):
            return self._error(f"cannot write to it ({exc}). Check its permissions.")
        if "unable to open" in str(exc):
            return self._error(
                f"cannot open it ({exc}). SQLite writes its -wal and -shm files next to the "
                "database, so the folder must be writable too; copy a store from a read-only "
                "place to a writable one first."
            )
        return self._error(f"SQLite error: {exc}.")

    def _check_and_migrate(self, conn: sqlite3.Connection) -> None:
        from .. import migrations

        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = None
        if migrations.VERSION_TABLE in tables:
            row = conn.execute(f"SELECT version_num FROM {migrations.VERSION_TABLE}").fetchone()
            version = row[0] if row else None
        elif tables:
            shown = ", ".join(sorted(tables)[:5])
            raise self._error(
                f"is a SQLite database of another application (tables: {shown}), not a podium "
                "store. Point --db at a new file or at a podium database."
            )
        if up_to_date(version, self._error):
            return
        try:
            if not tables and migrations.create_sqlite(conn):
                return  # a new store: made from the schema at HEAD, without Alembic
            migrations.upgrade(f"sqlite:///{os.path.abspath(self.path)}")
        except Exception as exc:
            cause = getattr(exc, "orig", None) or exc
            if isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause):
                raise cause from None  # another process is at it: _when_unlocked waits
            if isinstance(cause, sqlite3.DatabaseError):
                raise self._corrupt(cause) from None
            raise self._error(f"cannot create the podium schema: {cause}.") from None

    def _run_sql(self, sql: str, params: Any = ()) -> list[Any]:
        conn = self._conn
        if conn is None:
            raise self._error("the store is closed.")
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.IntegrityError:
            raise  # the caller knows what a duplicate means
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None

    # -- runs --------------------------------------------------------------------------------

    async def create_run(self, run: RunRecord) -> None:
        lease = time.time() + self.lease_ttl if self.lease_ttl else None
        await self._write(self._create_run, run, lease)

    def _create_run(self, run: RunRecord, lease: float | None) -> None:
        try:
            self._run_sql(
                f"INSERT INTO podium_runs ({RUN_COLS}, lease_expires) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (*run_row(run), lease),
            )
        except sqlite3.IntegrityError:
            raise self._error(run_exists(run.run_id, self.url)) from None
        self._seq[run.run_id] = 0

    async def update_run(
        self,
        run_id: str,
        *,
        status: str,
        finished_at: float | None = None,
        counts: dict[str, int] | None = None,
        stats: dict[str, Any] | None = None,
        owner: str | None = None,
        new_session: bool = False,
        session: int | None = None,
    ) -> None:
        sql = "UPDATE podium_runs SET status=?, finished_at=?, counts=?, stats=?"
        params: list[Any] = [status, finished_at, encode(counts), encode(stats)]
        if owner is not None:
            sql += ", owner=?"
            params.append(owner)
            if self.lease_ttl:
                sql += ", lease_expires=?"
                params.append(time.time() + self.lease_ttl)
        if new_session:
            sql += ", sessions=sessions+1"
        sql += " WHERE run_id=?"
        params.append(run_id)
        if session is not None:
            sql += " AND sessions=?"
            params.append(session)
        await self._write(self._update, sql, params, run_id)

    def _update(self, sql: str, params: list[Any], run_id: str) -> None:
        conn = self._conn
        if conn is None:
            raise self._error("the store is closed.")
        try:
            changed = conn.execute(sql, params).rowcount
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None
        if not changed:
            if self._run_sql("SELECT 1 FROM podium_runs WHERE run_id=?", (run_id,)):
                raise self.claimed(run_id)  # it exists: another resume claimed it first
            raise self.unknown_run(run_id)

    async def get_run(self, run_id: str) -> RunRecord:
        rows = await self._call(
            self._run_sql, f"SELECT {RUN_COLS} FROM podium_runs WHERE run_id=?", (run_id,)
        )
        if not rows:
            raise self.unknown_run(run_id)
        return run_record(rows[0])

    async def list_runs(
        self,
        limit: int | None = None,
        *,
        offset: int = 0,
        status: str | None = None,
        workflow: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[RunRecord]:
        sql, params = runs_query(
            limit, offset=offset, status=status, workflow=workflow, since=since, until=until
        )
        return await self._call(self._list_runs, sql, params)

    def _list_runs(self, sql: str, params: list[Any]) -> list[RunRecord]:
        runs = [run_record(r) for r in self._run_sql(sql, params)]
        for r in runs:
            if r.counts is None:  # unfinished: each task's last transition says where it is
                r.counts = tally(self._run_sql(_LAST_STATES, (r.run_id,)), r.total)
        return runs

    # -- transitions -------------------------------------------------------------------------

    async def append(
        self, run_id: str, entries: list[Any], cache: list[CacheEntry] | None = None
    ) -> None:
        await self._write(self._append, run_id, entries, cache)

    def _append(self, run_id: str, entries: list[Any], cache: list[CacheEntry] | None) -> None:
        conn = self._conn
        if conn is None:
            raise self._error("the store is closed.")
        seq = self._seq.get(run_id)
        if seq is None:
            row = self._run_sql(
                "SELECT coalesce(max(seq), 0) FROM podium_transitions WHERE run_id=?", (run_id,)
            )
            seq = row[0][0]
        rows = normalize(entries)
        params = transition_rows(run_id, seq, rows)
        try:
            conn.executemany(_INSERT_T, params)
            if cache:
                conn.executemany(_UPSERT_CACHE, [cache_row(c) for c in cache])
        except sqlite3.IntegrityError:
            self._seq.pop(run_id, None)
            raise self._error(written_concurrently(run_id)) from None
        except sqlite3.DatabaseError as exc:
            self._seq.pop(run_id, None)
            raise self._corrupt(exc) from None
        self._seq[run_id] = seq + len(rows)

    async def transitions(self, run_id: str) -> list[Transition]:
        return await self._call(self._transitions_checked, run_id)

    def _transitions_checked(self, run_id: str) -> list[Transition]:
        if not self._run_sql("SELECT 1 FROM podium_runs WHERE run_id=?", (run_id,)):
            raise self.unknown_run(run_id)
        return self._transitions(run_id)

    def _transitions(self, run_id: str) -> list[Transition]:
        rows = self._run_sql(
            f"SELECT {TRANSITION_COLS} FROM podium_transitions WHERE run_id=? ORDER BY seq",
            (run_id,),
        )
        return transitions_of(rows)

    # -- cache -------------------------------------------------------------------------------

    async def cache_get(self, keys: list[str]) -> dict[str, CacheEntry]:
        return await self._call(self._cache_get, keys)

    def _cache_get(self, keys: list[str]) -> dict[str, CacheEntry]:
        found: dict[str, CacheEntry] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._run_sql(
                f"SELECT {CACHE_COLS} FROM podium_cache WHERE key IN ({marks})", chunk
            )
            found.update(cache_entries(rows))
        return found

    # -- the service -------------------------------------------------------------------------

    async def create_key(self, key: ApiKey) -> None:
        await self._write(
            self._run_sql,
            f"INSERT INTO podium_keys ({KEY_COLS}) VALUES (?,?,?,?,?,?,?)",
            (
                key.key_id,
                key.role,
                key.hash,
                key.name,
                key.rate_limit,
                key.created_at or time.time(),
                key.revoked_at,
            ),
        )

    async def get_key(self, key_id: str) -> ApiKey | None:
        rows = await self._call(
            self._run_sql, f"SELECT {KEY_COLS} FROM podium_keys WHERE key_id=?", (key_id,)
        )
        return key_record(rows[0]) if rows else None

    async def list_keys(self) -> list[ApiKey]:
        rows = await self._call(
            self._run_sql, f"SELECT {KEY_COLS} FROM podium_keys ORDER BY created_at, key_id"
        )
        return [key_record(r) for r in rows]

    async def revoke_key(self, key_id: str, at: float) -> bool:
        rows = await self._write(
            self._run_sql,
            "UPDATE podium_keys SET revoked_at=coalesce(revoked_at, ?) WHERE key_id=? RETURNING 1",
            (at, key_id),
        )
        return bool(rows)

    async def claim_idempotency(self, key: str, run_id: str, at: float) -> str:
        return await self._write(self._claim_idempotency, key, run_id, at)

    def _claim_idempotency(self, key: str, run_id: str, at: float) -> str:
        self._run_sql(
            "INSERT INTO podium_idempotency (key, run_id, created_at) VALUES (?,?,?) "
            "ON CONFLICT (key) DO NOTHING",
            (key, run_id, at),
        )
        return self._run_sql("SELECT run_id FROM podium_idempotency WHERE key=?", (key,))[0][0]

    async def save_agent(self, name: str, spec: dict[str, Any], at: float) -> None:
        await self._write(
            self._run_sql,
            "INSERT INTO podium_agents (name, spec, created_at) VALUES (?,?,?) "
            "ON CONFLICT (name) DO UPDATE SET spec=excluded.spec",
            (name, encode(spec), at),
        )

    async def delete_agent(self, name: str) -> bool:
        rows = await self._write(
            self._run_sql, "DELETE FROM podium_agents WHERE name=? RETURNING 1", (name,)
        )
        return bool(rows)

    async def list_agents(self) -> dict[str, dict[str, Any]]:
        rows = await self._call(
            self._run_sql, "SELECT name, spec FROM podium_agents ORDER BY created_at, name"
        )
        return {r[0]: decode(r[1]) for r in rows}

    async def renew_leases(self, owner: str, expires: float) -> list[str]:
        rows = await self._write(
            self._run_sql,
            "UPDATE podium_runs SET lease_expires=? WHERE owner=? AND status='running' "
            "RETURNING run_id",
            (expires, owner),
        )
        return [r[0] for r in rows]

    async def orphans(self, now: float, limit: int = 100) -> list[Orphan]:
        rows = await self._call(
            self._run_sql,
            "SELECT run_id, owner, lease_expires FROM podium_runs WHERE status='running' "
            "AND (lease_expires IS NULL OR lease_expires < ?) ORDER BY started_at LIMIT ?",
            (now, int(limit)),
        )
        return [Orphan(*r) for r in rows]

    async def claim_run(
        self, run_id: str, owner: str, expires: float, *, now: float, from_owner: str | None
    ) -> bool:
        rows = await self._write(
            self._run_sql,
            "UPDATE podium_runs SET owner=?, lease_expires=? WHERE run_id=? AND "
            "status='running' AND owner IS ? AND (lease_expires IS NULL OR lease_expires < ?) "
            "RETURNING 1",
            (owner, expires, run_id, from_owner, now),
        )
        return bool(rows)

    async def request_cancel(self, run_id: str) -> None:
        rows = await self._write(
            self._run_sql,
            "UPDATE podium_runs SET cancel_requested=1 WHERE run_id=? RETURNING 1",
            (run_id,),
        )
        if not rows:
            raise self.unknown_run(run_id)

    async def cancel_requests(self, owner: str) -> list[str]:
        rows = await self._call(
            self._run_sql,
            "SELECT run_id FROM podium_runs WHERE owner=? AND status='running' "
            "AND cancel_requested=1",
            (owner,),
        )
        return [r[0] for r in rows]


def _when_unlocked(step: Any) -> Any:
    """``step()``, again while another process holds a lock SQLite does not wait for by
    itself (switching a new file to WAL, reading the schema while another process creates
    it), for up to BUSY_TIMEOUT seconds."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.005
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _settle(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():  # its caller was cancelled meanwhile
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)
