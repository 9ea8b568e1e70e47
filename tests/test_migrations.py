"""Migrations: one head, and upgrading an empty database gives exactly the
schema the models describe (triggers included), on both engines."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import web.schema  # noqa: F401
from core.db import Base, create_database
from core.settings import ROOT
from tests.services import postgres_url


def alembic_config() -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


def test_one_head():
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def _upgrade_and_diff(connection) -> list:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def _check(database) -> None:
    async with database.engine.begin() as conn:
        diff = await conn.run_sync(_upgrade_and_diff)
    assert diff == []
    async with database.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO audit_log (occurred_at, actor_kind, actor_id, action, purpose, detail,"
            " prev_hash, entry_hash) VALUES (CURRENT_TIMESTAMP, 'system', 'system:t', 'a', 'b',"
            " '{}', 'p', 'e')"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.engine.begin() as conn:
            await conn.execute(text("UPDATE audit_log SET purpose = 'x'"))


async def test_upgrade_matches_models_sqlite(tmp_path: Path):
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")
    try:
        await _check(database)
    finally:
        await database.dispose()


@pytest.mark.postgres
async def test_upgrade_matches_models_postgres(pg_db):
    # pg_db has the models' tables already; migrate a second, empty schema.
    schema = f"m_{uuid.uuid4().hex[:12]}"
    async with pg_db.engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    database = create_database(postgres_url(), pool_size=1, max_overflow=0,
                               connect_args={"server_settings": {"search_path": schema}})
    try:
        await _check(database)
    finally:
        await database.dispose()
        async with pg_db.engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
