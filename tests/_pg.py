"""The PostgreSQL these tests use: a fresh schema per test, dropped afterwards.

PODIUM_TEST_PG_URL overrides the server (default: trust auth on 127.0.0.1:5432, database
`test`). Tests skip when it is unreachable, and fail instead under PODIUM_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

PG_URL = os.environ.get("PODIUM_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")


def skip_or_fail(reason: str) -> None:
    if os.environ.get("PODIUM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"PODIUM_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


async def _connect():
    try:
        import asyncpg
    except ImportError:
        skip_or_fail("asyncpg is not installed (pip install -e '.[test]')")
    try:
        return await asyncpg.connect(PG_URL, timeout=3)
    except Exception as exc:
        skip_or_fail(f"PostgreSQL at {PG_URL} is not reachable: {type(exc).__name__}: {exc}")


@asynccontextmanager
async def pg_schema() -> AsyncIterator[str]:
    """A store URL for a new schema of the test database; the schema is dropped on exit."""
    conn = await _connect()
    schema = f"podium_test_{uuid.uuid4().hex[:10]}"
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
