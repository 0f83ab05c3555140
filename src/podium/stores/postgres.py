"""The PostgreSQL store, for production: many processes and machines share one database.

Hot writes go through asyncpg: each batch is one transaction that COPYs its transitions in
(binary COPY is several times faster than INSERTs) and upserts its cache entries. Schema
migrations run through Alembic on a short-lived psycopg connection, only when the database is
behind. ``?schema=name`` in the URL keeps podium's tables in their own schema (created when
missing); otherwise they go where the role's search_path says, next to other applications'.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import StoreError, StoreUnavailable
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
from .base import (
    CacheEntry,
    RunRecord,
    Store,
    Transition,
    decode,
    encode,
    normalize,
    redact,
    tally,
)
from .service import ApiKey, Orphan

__all__ = ["PostgresStore"]

_T_COLS = ["run_id", *TRANSITION_COLS.split(", ")]
_UPSERT_CACHE = (
    f"INSERT INTO podium_cache ({CACHE_COLS}) "
    "VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (key) DO UPDATE SET route=excluded.route, "
    "result=excluded.result, run_id=excluded.run_id, task_id=excluded.task_id, "
    "agent=excluded.agent, created_at=excluded.created_at"
)
_LAST_STATES = (
    "SELECT status, count(*) FROM (SELECT DISTINCT ON (task_id) status FROM podium_transitions "
    "WHERE run_id=$1 AND task_id IS NOT NULL ORDER BY task_id, seq DESC) AS last GROUP BY status"
)


class PostgresStore(Store):
    """A store in a PostgreSQL database.

    >>> orch = podium.Orchestrator(store="postgresql://app@db.internal/podium")
    """

    def __init__(self, url: str) -> None:
        self.url = url
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.schema = next((v for k, v in query if k == "schema"), None) or None
        rest = urlencode([(k, v) for k, v in query if k != "schema"])
        self._dsn = urlunsplit(("postgresql", parts.netloc, parts.path, rest, ""))
        self._sa_url = urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, rest, ""))
        self.database = parts.path.lstrip("/") or None
        self._pool: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Future[None] | None = None
        self._seq: dict[str, int] = {}

    def _error(self, what: str) -> StoreError:
        return StoreError(f"{redact(self.url)}: {what}", file=redact(self.url), field="store")

    # -- connection --------------------------------------------------------------------------

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._loop is loop:
            return
        # runs started together each open the store: one pool, opened once, for all of them
        opening = self._opening
        if opening is None or opening.get_loop() is not loop:
            opening = self._opening = asyncio.ensure_future(self._open_once(loop))
        try:
            await asyncio.shield(opening)
        finally:
            if opening.done() and self._opening is opening:
                self._opening = None

    async def _open_once(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._pool is not None and self._loop is loop:
            return
        if self._pool is not None:  # opened on another loop (run_sync twice): start over
            _abandon(self._pool)
            self._pool = None
        try:
            import asyncpg
        except ImportError:
            raise self._error(
                "PostgreSQL support needs asyncpg and psycopg: pip install 'podium[postgres]'."
            ) from None
        settings = {"application_name": "podium"}
        if self.schema:
            settings["search_path"] = self._search_path()
        try:
            pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=4, timeout=10, server_settings=settings
            )
        except Exception as exc:
            raise self._connect_error(exc) from None
        try:
            await self._check_schema(pool)
        except BaseException:
            pool.terminate()
            raise
        self._pool, self._loop = pool, loop

    def _failed(self, exc: BaseException, what: str) -> StoreError:
        """The error for a failed statement: `StoreUnavailable` when the server went away."""
        if _is_outage(exc):
            return StoreUnavailable(
                f"{redact(self.url)}: the PostgreSQL server went away ({what}: "
                f"{str(exc) or type(exc).__name__}).",
                file=redact(self.url),
                field="store",
            )
        return self._error(f"{what}: {exc}.")

    def _connect_error(self, exc: BaseException) -> StoreError:
        import asyncpg

        if isinstance(exc, asyncpg.InvalidCatalogNameError):
            return self._error(
                f"database {self.database!r} does not exist. Create it (createdb "
                f"{self.database}) or fix the URL."
            )
        if isinstance(
            exc,
            asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError,
        ):
            return self._error(f"PostgreSQL refused the login: {exc}. Check the user/password.")
        if _is_outage(exc):
            reason = str(exc) or type(exc).__name__
            return StoreUnavailable(
                f"{redact(self.url)}: cannot connect to PostgreSQL ({reason}). Is the server "
                "running, and are the host and port right?",
                file=redact(self.url),
                field="store",
            )
        if isinstance(exc, asyncpg.PostgresError):
            return self._error(f"PostgreSQL error: {exc}.")
        return self._error(f"cannot connect: {type(exc).__name__}: {exc}.")

    async def _check_schema(self, pool: Any) -> None:
        import asyncpg

        from .. import migrations

        try:
            version = await pool.fetchval(f"SELECT version_num FROM {migrations.VERSION_TABLE}")
        except asyncpg.UndefinedTableError:
            version = None
        except asyncpg.PostgresError as exc:
            raise self._error(f"PostgreSQL error: {exc}.") from None
        if up_to_date(version, self._error):
            return
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise self._error(
                "creating the podium schema needs psycopg: pip install 'podium[postgres]'."
            ) from None
        # libpq options: a space or backslash in a value is escaped with a backslash
        escaped = self._search_path().replace("\\", "\\\\").replace(" ", "\\ ")
        args = {"options": f"-csearch_path={escaped}"} if self.schema else {}
        try:
            await asyncio.to_thread(
                migrations.upgrade, self._sa_url, connect_args=args, schema=self.schema
            )
        except Exception as exc:
            cause = getattr(exc, "orig", None) or exc
            if _is_outage(cause):
                raise self._failed(cause, "creating the podium schema") from None
            raise self._error(f"cannot create the podium schema: {cause}") from None

    def _search_path(self) -> str:
        """The schema as a quoted identifier: kept as written (capitals, hyphens, spaces), as
        the migration creates it."""
        return '"' + (self.schema or "").replace('"', '""') + '"'

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self._loop is asyncio.get_running_loop():
            await pool.close()
        else:
            _abandon(pool)

    async def _ready(self) -> Any:
        if self._pool is None or self._loop is not asyncio.get_running_loop():
            await self.open()
        return self._pool

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        import asyncpg

        pool = await self._ready()
        try:
            return await pool.fetch(sql, *args)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            raise self._failed(exc, "PostgreSQL error") from None

    # -- runs --------------------------------------------------------------------------------

    async def create_run(self, run: RunRecord) -> None:
        import asyncpg

        pool = await self._ready()
        lease = time.time() + self.lease_ttl if self.lease_ttl else None
        try:
            await pool.execute(
                f"INSERT INTO podium_runs ({RUN_COLS}, lease_expires) "
                "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
                *run_row(run),
                lease,
            )
        except asyncpg.UniqueViolationError:
            raise self._error(run_exists(run.run_id, redact(self.url))) from None
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            raise self._failed(exc, "PostgreSQL error") from None
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
        sql = (
            "UPDATE podium_runs SET status=$2, finished_at=$3, counts=$4, stats=$5, "
            "owner=coalesce($6, owner), "
            "lease_expires=CASE WHEN $6::text IS NULL THEN lease_expires ELSE $8 END"
        )
        if new_session:
            sql += ", sessions=sessions+1"
        sql += " WHERE run_id=$1 AND ($7::integer IS NULL OR sessions=$7) RETURNING 1"
        lease = time.time() + self.lease_ttl if self.lease_ttl and owner is not None else None
        rows = await self._fetch(
            sql, run_id, status, finished_at, encode(counts), encode(stats), owner, session, lease
        )
        if not rows:
            if await self._fetch("SELECT 1 FROM podium_runs WHERE run_id=$1", run_id):
                raise self.claimed(run_id)  # it exists: another resume claimed it first
            raise self.unknown_run(run_id)

    async def get_run(self, run_id: str) -> RunRecord:
        rows = await self._fetch(f"SELECT {RUN_COLS} FROM podium_runs WHERE run_id=$1", run_id)
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
            limit,
            lambda i: f"${i}",
            offset=offset,
            status=status,
            workflow=workflow,
            since=since,
            until=until,
        )
        runs = [run_record(r) for r in await self._fetch(sql, *params)]
        for r in runs:
            if r.counts is None:
                r.counts = tally(await self._fetch(_LAST_STATES, r.run_id), r.total)
        return runs

    # -- transitions -------------------------------------------------------------------------

    async def append(
        self, run_id: str, entries: list[Any], cache: list[CacheEntry] | None = None
    ) -> None:
        import asyncpg

        pool = await self._ready()
        rows = normalize(entries)
        try:
            async with pool.acquire() as conn:
                seq = self._seq.get(run_id)
                if seq is None:
                    seq = await conn.fetchval(
                        "SELECT coalesce(max(seq), 0) FROM podium_transitions WHERE run_id=$1",
                        run_id,
                    )
                records = transition_rows(run_id, seq, rows)
                async with conn.transaction():
                    await conn.copy_records_to_table(
                        "podium_transitions",
                        records=records,
                        columns=_T_COLS,
                        schema_name=self.schema,
                    )
                    if cache:
                        await conn.executemany(_UPSERT_CACHE, [cache_row(c) for c in cache])
        except asyncpg.UniqueViolationError:
            self._seq.pop(run_id, None)
            raise self._error(written_concurrently(run_id)) from None
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            self._seq.pop(run_id, None)
            raise self._failed(exc, "PostgreSQL error while recording") from None
        self._seq[run_id] = seq + len(rows)

    async def transitions(self, run_id: str) -> list[Transition]:
        if not await self._fetch("SELECT 1 FROM podium_runs WHERE run_id=$1", run_id):
            raise self.unknown_run(run_id)
        rows = await self._fetch(
            f"SELECT {TRANSITION_COLS} FROM podium_transitions WHERE run_id=$1 ORDER BY seq",
            run_id,
        )
        return transitions_of(rows)

    # -- cache -------------------------------------------------------------------------------

    async def cache_get(self, keys: list[str]) -> dict[str, CacheEntry]:
        if not keys:
            return {}
        rows = await self._fetch(
            f"SELECT {CACHE_COLS} FROM podium_cache WHERE key = ANY($1::text[])", list(keys)
        )
        return cache_entries(rows)

    # -- the service -------------------------------------------------------------------------

    async def create_key(self, key: ApiKey) -> None:
        await self._fetch(
            f"INSERT INTO podium_keys ({KEY_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7)",
            key.key_id,
            key.role,
            key.hash,
            key.name,
            key.rate_limit,
            key.created_at or time.time(),
            key.revoked_at,
        )

    async def get_key(self, key_id: str) -> ApiKey | None:
        rows = await self._fetch(f"SELECT {KEY_COLS} FROM podium_keys WHERE key_id=$1", key_id)
        return key_record(rows[0]) if rows else None

    async def list_keys(self) -> list[ApiKey]:
        rows = await self._fetch(f"SELECT {KEY_COLS} FROM podium_keys ORDER BY created_at, key_id")
        return [key_record(r) for r in rows]

    async def revoke_key(self, key_id: str, at: float) -> bool:
        rows = await self._fetch(
            "UPDATE podium_keys SET revoked_at=coalesce(revoked_at, $1) WHERE key_id=$2 "
            "RETURNING 1",
            at,
            key_id,
        )
        return bool(rows)

    async def claim_idempotency(self, key: str, run_id: str, at: float) -> str:
        rows = await self._fetch(
            "INSERT INTO podium_idempotency (key, run_id, created_at) VALUES ($1,$2,$3) "
            "ON CONFLICT (key) DO NOTHING RETURNING run_id",
            key,
            run_id,
            at,
        )
        if rows:
            return rows[0][0]
        rows = await self._fetch("SELECT run_id FROM podium_idempotency WHERE key=$1", key)
        return rows[0][0]

    async def save_agent(self, name: str, spec: dict[str, Any], at: float) -> None:
        await self._fetch(
            "INSERT INTO podium_agents (name, spec, created_at) VALUES ($1,$2,$3) "
            "ON CONFLICT (name) DO UPDATE SET spec=excluded.spec",
            name,
            encode(spec),
            at,
        )

    async def delete_agent(self, name: str) -> bool:
        rows = await self._fetch("DELETE FROM podium_agents WHERE name=$1 RETURNING 1", name)
        return bool(rows)

    async def list_agents(self) -> dict[str, dict[str, Any]]:
        rows = await self._fetch("SELECT name, spec FROM podium_agents ORDER BY created_at, name")
        return {r[0]: decode(r[1]) for r in rows}

    async def renew_leases(self, owner: str, expires: float) -> list[str]:
        rows = await self._fetch(
            "UPDATE podium_runs SET lease_expires=$1 WHERE owner=$2 AND status='running' "
            "RETURNING run_id",
            expires,
            owner,
        )
        return [r[0] for r in rows]

    async def orphans(self, now: float, limit: int = 100) -> list[Orphan]:
        rows = await self._fetch(
            "SELECT run_id, owner, lease_expires FROM podium_runs WHERE status='running' "
            "AND (lease_expires IS NULL OR lease_expires < $1) ORDER BY started_at LIMIT $2",
            now,
            int(limit),
        )
        return [Orphan(r[0], r[1], r[2]) for r in rows]

    async def claim_run(
        self, run_id: str, owner: str, expires: float, *, now: float, from_owner: str | None
    ) -> bool:
        rows = await self._fetch(
            "UPDATE podium_runs SET owner=$1, lease_expires=$2 WHERE run_id=$3 AND "
            "status='running' AND owner IS NOT DISTINCT FROM $4 "
            "AND (lease_expires IS NULL OR lease_expires < $5) RETURNING 1",
            owner,
            expires,
            run_id,
            from_owner,
            now,
        )
        return bool(rows)

    async def request_cancel(self, run_id: str) -> None:
        rows = await self._fetch(
            "UPDATE podium_runs SET cancel_requested=1 WHERE run_id=$1 RETURNING 1", run_id
        )
        if not rows:
            raise self.unknown_run(run_id)

    async def cancel_requests(self, owner: str) -> list[str]:
        rows = await self._fetch(
            "SELECT run_id FROM podium_runs WHERE owner=$1 AND status='running' "
            "AND cancel_requested=1",
            owner,
        )
        return [r[0] for r in rows]


def _abandon(pool: Any) -> None:
    """Drop a pool that belongs to another event loop (possibly closed already)."""
    try:
        pool.terminate()
    except RuntimeError:  # its loop is closed: the connections went with it
        pass


_GONE = ("connection is closed", "connection was closed", "connection refused", "connection failed")


def _is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the server is away (refused, closed, shut down, timed out), as
    opposed to a statement or a setting being wrong."""
    if isinstance(exc, OSError | ConnectionError | TimeoutError | asyncio.TimeoutError):
        return True
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - the store needs it
        return False
    gone = (
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,
        asyncpg.AdminShutdownError,
        asyncpg.CrashShutdownError,
        asyncpg.ConnectionDoesNotExistError,
    )
    if isinstance(exc, gone):
        return True
    text = str(exc).lower()
    if isinstance(exc, asyncpg.InterfaceError):
        return any(g in text for g in _GONE)
    # psycopg (creating the schema): OperationalError for a connection that failed
    return type(exc).__name__ == "OperationalError" and any(g in text for g in _GONE)
