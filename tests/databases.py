"""Empty databases for tests, made cheaply.

Every test gets an empty database of its own, dropped afterwards:

* SQLite: a copy of a template file that has every table. The template is
  built once per process (per xdist worker) with ``create_all``.
* PostgreSQL: a new schema, made in one round trip by a script of the DDL
  that ``create_all`` would run (compiled once per process), without the
  per-table existence checks ``create_all`` makes.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_mock_engine

import web.schema  # noqa: F401  (every table, for create_all)
from core.db import Base, Database, create_database
from tests.services import postgres_url, require

_sqlite_template: Path | None = None
_postgres_ddl: str | None = None


def worker_id() -> str:
    """``gw0``, ``gw1``, … under pytest-xdist; ``main`` without it."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


async def _build_sqlite_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"tanntid-template-{worker_id()}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "template.sqlite3"
    database = create_database(f"sqlite+aiosqlite:///{path}")
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    finally:
        await database.dispose()
    return path


async def new_sqlite_file(path: Path) -> Path:
    """An SQLite file at ``path`` with every table and no rows."""
    global _sqlite_template
    if _sqlite_template is None:
        _sqlite_template = await _build_sqlite_template()
    shutil.copyfile(_sqlite_template, path)
    return path


def postgres_ddl() -> str:
    """The statements ``Base.metadata.create_all`` runs on an empty
    PostgreSQL schema, as one script (unqualified names: they land in the
    ``search_path``)."""
    global _postgres_ddl
    if _postgres_ddl is None:
        statements: list[str] = []

        def collect(sql: Any, *multiparams: Any, **params: Any) -> None:
            statements.append(str(sql.compile(dialect=engine.dialect)).strip())

        engine = create_mock_engine("postgresql+asyncpg://", collect)  # type: ignore[arg-type]
        Base.metadata.create_all(engine, checkfirst=False)  # type: ignore[arg-type]
        _postgres_ddl = ";\n".join(statements) + ";\n"
    return _postgres_ddl


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _require_postgres() -> str:
    return await require("postgresql", postgres_url())


async def _run_script(url: str, script: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await conn.execute(script)
    finally:
        await asyncio.shield(conn.close())


def _schema_name() -> str:
    return f"t_{worker_id()}_{uuid.uuid4().hex[:12]}"


async def new_postgres_schema(*, tables: bool = False) -> tuple[str, str]:
    """(server URL, name) of a new schema, empty or (``tables``) with every
    table; skips (or, in CI, fails) without PostgreSQL. Drop it with
    :func:`drop_postgres_schema`."""
    url = await _require_postgres()
    schema = _schema_name()
    script = f'CREATE SCHEMA "{schema}";\n'
    if tables:
        script += f'SET search_path TO "{schema}";\n' + postgres_ddl()
    await _run_script(url, script)
    return url, schema


async def drop_postgres_schema(url: str, schema: str) -> None:
    await _run_script(url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def sqlite_database(folder: Path) -> AsyncIterator[Database]:
    path = await new_sqlite_file(folder / "test.sqlite3")
    database = create_database(f"sqlite+aiosqlite:///{path}")
    try:
        yield database
    finally:
        await database.dispose()


async def postgres_database(pool_size: int = 10, max_overflow: int = 20
                            ) -> AsyncIterator[Database]:
    url, schema = await new_postgres_schema(tables=True)
    database = create_database(
        url, pool_size=pool_size, max_overflow=max_overflow,
        connect_args={"server_settings": {"search_path": schema}},
    )
    try:
        yield database
    finally:
        await database.dispose()
        await drop_postgres_schema(url, schema)
