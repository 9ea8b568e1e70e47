"""Alembic environment: async engines, the URL from the caller or the settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import web.schema  # noqa: F401  (registers every table)
from core.db import Base, UTCDateTime, create_database

target_metadata = Base.metadata


def _url() -> str:
    url = context.config.attributes.get("database_url")
    if url:
        return str(url)
    from core.settings import Settings

    return Settings.from_env().database_url


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Write our column types as plain SQLAlchemy ones, so migrations never
    import application code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    db = create_database(_url(), pool_size=1, max_overflow=0)
    try:
        async with db.engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await db.dispose()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `tanntid migrate`")
run()
