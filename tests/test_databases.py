"""The test databases themselves (:mod:`tests.databases`): a PostgreSQL
schema a test is done with goes to the next test only as good as new."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from booking.models import County
from core.db import create_database
from tests.databases import (
    POSTGRES_SETTINGS,
    give_back_postgres_schema,
    take_postgres_schema,
)

pytestmark = pytest.mark.postgres


def _open(url: str, schema: str):
    return create_database(url, connect_args={
        "server_settings": {"search_path": schema, **POSTGRES_SETTINGS}})


async def _schemas(url: str, name: str) -> int:
    db = _open(url, "public")
    try:
        async with db.read() as session:
            return int((await session.execute(text(
                "SELECT count(*) FROM pg_namespace WHERE nspname = :n"), {"n": name}
            )).scalar_one())
    finally:
        await db.dispose()


async def test_a_schema_is_reused_empty_with_its_sequences_restarted() -> None:
    url, schema = await take_postgres_schema()
    db = _open(url, schema)
    try:
        async with db.write() as session:
            session.add_all([County(code="03", name="Oslo"), County(code="11", name="Rogaland")])
        # The append-only audit log is emptied too.
        async with db.write() as session:
            await session.execute(text(
                "INSERT INTO audit_log (occurred_at, actor_kind, actor_id, action, purpose,"
                " detail, prev_hash, entry_hash) VALUES (CURRENT_TIMESTAMP, 'system',"
                " 'system:t', 'a', 'b', '{}', 'p', 'e')"))
    finally:
        await db.dispose()
    await give_back_postgres_schema(url, schema)

    again_url, again = await take_postgres_schema()
    assert (again_url, again) == (url, schema)
    db = _open(url, schema)
    try:
        async with db.read() as session:
            assert (await session.execute(text("SELECT count(*) FROM counties"))).scalar_one() == 0
            assert (await session.execute(text("SELECT count(*) FROM audit_log"))).scalar_one() == 0
        async with db.write() as session:
            county = County(code="03", name="Oslo")
            session.add(county)
            await session.flush()
            assert county.id == 1
    finally:
        await db.dispose()
    await give_back_postgres_schema(url, schema)


async def test_a_schema_whose_structure_a_test_changed_is_dropped() -> None:
    url, schema = await take_postgres_schema()
    db = _open(url, schema)
    try:
        async with db.write() as session:
            await session.execute(text(
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update"))
    finally:
        await db.dispose()
    await give_back_postgres_schema(url, schema)
    assert await _schemas(url, schema) == 0
    other = await take_postgres_schema()
    assert other != (url, schema)
    await give_back_postgres_schema(*other)
