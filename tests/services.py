"""Where the test services are, and whether they answer."""

from __future__ import annotations

import asyncio
import os

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS


_checked: dict[str, str | None] = {}

_NAMES = {"postgresql": "PostgreSQL", "redis": "Redis"}


async def require(kind: str, url: str) -> str:
    """``url`` when the service answers; otherwise the test is skipped with
    the reason, or fails where services are required (``REQUIRE_SERVICES=1``,
    as in CI)."""
    import pytest

    reason = await service_missing(kind, url)
    if reason:
        name = _NAMES.get(kind, kind)
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{name} is required (REQUIRE_SERVICES=1): {reason}")
        pytest.skip(f"{name} not available: {reason}")
    return url


async def service_missing(kind: str, url: str) -> str | None:
    """None when the service answers, else why not (cached per run)."""
    key = f"{kind}:{url}"
    if key not in _checked:
        _checked[key] = await _probe(kind, url)
    return _checked[key]


async def _probe(kind: str, url: str) -> str | None:
    try:
        if kind == "postgresql":
            import asyncpg

            conn = await asyncio.wait_for(
                asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql")), 5
            )
            await conn.close()
        else:
            import redis.asyncio as redis

            client = redis.Redis.from_url(url)
            try:
                await asyncio.wait_for(client.ping(), 5)
            finally:
                await client.aclose()
    except Exception as exc:
        return f"{type(exc).__name__}: cannot reach {kind} at the configured address"
    return None
