"""The Redis these tests use: a fresh key namespace per test, deleted afterwards.

PODIUM_TEST_REDIS_URL overrides the server (default redis://127.0.0.1:6379/0). Tests skip
when it is unreachable, and fail instead under PODIUM_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

REDIS_URL = os.environ.get("PODIUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def skip_or_fail(reason: str) -> None:
    if os.environ.get("PODIUM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"PODIUM_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@asynccontextmanager
async def redis_namespace() -> AsyncIterator[str]:
    """A key namespace no other test uses; its keys are deleted on exit."""
    try:
        import redis.asyncio as aioredis
    except ImportError:
        skip_or_fail("the redis package is not installed (pip install -e '.[test]')")
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        skip_or_fail(f"Redis at {REDIS_URL} is not reachable: {type(exc).__name__}: {exc}")
    namespace = f"podium-test-{secrets.token_hex(5)}"
    try:
        yield namespace
    finally:
        keys = [k async for k in client.scan_iter(match=f"{namespace}:*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
