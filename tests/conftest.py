"""Shared fixtures.

``db`` is parametrised over the two engines the service runs on: a fresh
SQLite file, and a fresh schema in the PostgreSQL named by
``TEST_DATABASE_URL`` (default: the local ``test`` database). Without a
reachable server the PostgreSQL cases skip with the reason, unless
``REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import web.schema  # noqa: F401  (every table, for create_all)
from booking import events
from core.db import Base, Database, create_database
from notifications import outbox
from tests.services import postgres_url, redis_url, service_missing

pytest_plugins = ["tests.logcheck"]


@pytest.fixture(autouse=True, scope="session")
def appointment_events() -> Iterator[None]:
    """Bookings write their notifications through the outbox, as every
    composition root wires it (``tests/test_wiring.py`` checks the roots)."""
    previous = outbox.subscribe()
    yield
    events.set_listener(previous)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}")
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield database
        await database.dispose()
        return
    async for database in _postgres_schema():
        yield database


@pytest.fixture
async def pg_db() -> AsyncIterator[Database]:
    """PostgreSQL only, for tests about real concurrency."""
    async for database in _postgres_schema(pool_size=30, max_overflow=30):
        yield database


async def new_postgres_schema() -> tuple[str, str]:
    """(server URL, name) of a new empty schema; skips (or, in CI, fails)
    without PostgreSQL. Drop it with :func:`drop_postgres_schema`."""
    url = postgres_url()
    reason = await service_missing("postgresql", url)
    if reason:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"PostgreSQL is required (REQUIRE_SERVICES=1): {reason}")
        pytest.skip(f"PostgreSQL not available: {reason}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_database(url, pool_size=1, max_overflow=0)
    async with admin.engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    await admin.dispose()
    return url, schema


async def drop_postgres_schema(url: str, schema: str) -> None:
    admin = create_database(url, pool_size=1, max_overflow=0)
    async with admin.engine.begin() as conn:
        await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    await admin.dispose()


async def _postgres_schema(pool_size: int = 10, max_overflow: int = 20
                           ) -> AsyncIterator[Database]:
    url, schema = await new_postgres_schema()
    database = create_database(
        url, pool_size=pool_size, max_overflow=max_overflow,
        connect_args={"server_settings": {"search_path": schema}},
    )
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield database
    finally:
        await database.dispose()
        await drop_postgres_schema(url, schema)


@pytest.fixture
def redis_prefix() -> str:
    return f"tanntid-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis_server_url() -> str:
    url = redis_url()
    reason = await service_missing("redis", url)
    if reason:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis is required (REQUIRE_SERVICES=1): {reason}")
        pytest.skip(f"Redis not available: {reason}")
    return url
