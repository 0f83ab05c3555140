"""What the SQL stores (SQLite, PostgreSQL) share: both keep the same tables (see
`podium.migrations`), so a row maps to a record, and a record to a row, the same way in each.
Each store keeps its own SQL (placeholders and dialects differ) and its own connections.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import StoreError
from .base import CacheEntry, RunRecord, Transition, decode, encode

RUN_COLS = (
    "run_id, workflow, status, started_at, finished_at, total, counts, stats, definition, "
    "owner, sessions"
)
TRANSITION_COLS = (
    "seq, task_id, status, attempt, agent, started_at, finished_at, result, error, note"
)
CACHE_COLS = "key, route, result, run_id, task_id, agent, created_at"


KEY_COLS = "key_id, role, hash, name, rate_limit, created_at, revoked_at"


def runs_query(
    limit: int | None,
    mark: Callable[[int], str] = lambda i: "?",
    *,
    offset: int = 0,
    status: str | None = None,
    workflow: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> tuple[str, list[Any]]:
    """The runs, newest first (at most ``limit``, after ``offset``), filtered; and the
    parameters. ``mark(i)`` writes the i-th placeholder (``?`` or ``$i``)."""
    where: list[str] = []
    params: list[Any] = []
    for col, op, value in (
        ("status", "=", status),
        ("workflow", "=", workflow),
        ("started_at", ">=", since),
        ("started_at", "<", until),
    ):
        if value is not None:
            params.append(value)
            where.append(f"{col} {op} {mark(len(params))}")
    sql = f"SELECT {RUN_COLS} FROM podium_runs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY started_at DESC, run_id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if offset:
        if limit is None:  # OFFSET needs a LIMIT on SQLite: -1 there, ALL on PostgreSQL
            sql += " LIMIT -1" if mark(1) == "?" else " LIMIT ALL"
        sql += f" OFFSET {int(offset)}"
    return sql, params


def key_record(r: Any) -> Any:
    """A row of `KEY_COLS` as an `ApiKey`."""
    from .service import ApiKey

    return ApiKey(
        key_id=r[0],
        role=r[1],
        hash=r[2],
        name=r[3],
        rate_limit=r[4],
        created_at=r[5],
        revoked_at=r[6],
    )


def run_row(run: RunRecord) -> tuple[Any, ...]:
    """The values of `RUN_COLS` for ``run``."""
    return (
        run.run_id,
        run.workflow,
        run.status,
        run.started_at,
        run.finished_at,
        run.total,
        encode(run.counts),
        encode(run.stats),
        encode(run.definition),
        run.owner,
        run.sessions,
    )


def run_record(r: Any) -> RunRecord:
    """A row of `RUN_COLS` as a `RunRecord`."""
    return RunRecord(
        run_id=r[0],
        workflow=r[1],
        status=r[2],
        started_at=r[3],
        finished_at=r[4],
        total=r[5],
        counts=json.loads(r[6]) if r[6] else None,
        stats=json.loads(r[7]) if r[7] else None,
        definition=json.loads(r[8]) if r[8] else None,
        owner=r[9],
        sessions=r[10],
    )


def transition_rows(run_id: str, seq: int, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows of ``run_id, seq, task_id, ...`` for `normalize`'s ``rows``, numbered after ``seq``."""
    return [
        (run_id, seq + i, r[0], r[1], r[2], r[3], r[4], r[5], encode(r[6]), r[7], r[8])
        for i, r in enumerate(rows, 1)
    ]


def transitions_of(rows: Iterable[Any]) -> list[Transition]:
    """Rows of `TRANSITION_COLS` as `Transition` objects."""
    return [
        Transition(r[0], r[1], r[2], r[3], r[4], r[5], r[6], decode(r[7]), r[8], r[9]) for r in rows
    ]


def cache_row(c: CacheEntry) -> tuple[Any, ...]:
    """The values of `CACHE_COLS` for ``c`` (stamped now when it has no time)."""
    return (
        c.key,
        c.route,
        encode(c.result),
        c.run_id,
        c.task_id,
        c.agent,
        c.created_at or time.time(),
    )


def cache_entries(rows: Iterable[Any]) -> dict[str, CacheEntry]:
    """Rows of `CACHE_COLS` as cache entries by key."""
    return {r[0]: CacheEntry(r[0], r[1], decode(r[2]), r[3], r[4], r[5], r[6]) for r in rows}


def up_to_date(version: str | None, error: Callable[[str], StoreError]) -> bool:
    """Whether a database at schema ``version`` needs no migration; ``error(...)`` is raised
    when a newer podium wrote it."""
    from .. import migrations

    if version == migrations.HEAD:
        return True
    if version is not None and version not in migrations.REVISIONS:
        raise error(
            f"was written by a newer podium (schema {version!r}; this podium knows up to "
            f"{migrations.HEAD!r}). Upgrade podium to use it."
        )
    return False


def run_exists(run_id: str, url: str) -> str:
    """Why a new run cannot take ``run_id`` in the store at ``url`` (as shown to the user)."""
    return (
        f"a run with id {run_id!r} exists already. Resume it with "
        f"`podium resume {run_id} --db {url}`, or choose another id."
    )


def written_concurrently(run_id: str) -> str:
    """Why a batch of ``run_id`` clashed with another process's."""
    return (
        f"run {run_id!r} was written by another process at the same time. Run or "
        "resume a run from one process at a time."
    )
