"""``DATABASE_URL``'s ``?schema=name`` puts the service in a PostgreSQL schema
of its own: the engine, the migrations and every process built from it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from core.db import create_database
from tests.databases import drop_postgres_schema, new_postgres_schema
from web.cli import migrate


@pytest.fixture
async def schema_url():
    url, schema = await new_postgres_schema()
    separator = "&" if "?" in url else "?"
    try:
        yield schema, f"{url}{separator}schema={schema}"
    finally:
        await drop_postgres_schema(url, schema)


async def test_the_schema_in_the_url_is_where_the_service_lives(schema_url):
    schema, url = schema_url
    await _migrate(url)
    db = create_database(url, pool_size=1, max_overflow=0)
    try:
        async with db.read() as session:
            assert (await session.execute(text("SELECT current_schema()"))).scalar_one() == schema
            tables = set((await session.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema})).scalars())
    finally:
        await db.dispose()
    assert {"appointments", "notifications", "alembic_version"} <= tables


async def _migrate(url: str) -> None:
    # Alembic's env runs its own event loop: off this one.
    await asyncio.to_thread(migrate, url)


def test_a_sqlite_url_is_left_as_it_is(tmp_path):
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    assert db.engine.url.database == str(tmp_path / "x.sqlite3")
