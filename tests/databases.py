"""Empty databases for tests, made cheaply.

Every test gets an empty database of its own, dropped afterwards:

* SQLite: a copy of a template file that has every table. The template is
  built once per process (per xdist worker) with ``create_all``.
* PostgreSQL: a schema of its own with every table. Making one (a script
  of the DDL that ``create_all`` would run, compiled once per process) and
  dropping it cost the server far more than the average test, so each
  process keeps the schemas its tests are done with: after a test the rows
  are deleted and the sequences restarted (one transaction, triggers off),
  and the schema goes to the next test, empty as new. A schema whose
  structure a test changed (a table added, a trigger disabled, ...), or
  that held many rows, is dropped instead. The test connections do not
  wait for the disk at commit (``synchronous_commit = off``): a test
  database need not survive a crash of the server.
"""

from __future__ import annotations

import asyncio
import atexit
import copy
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_mock_engine

import web.schema  # noqa: F401  (every table, for create_all)
from core.db import Base, Database, create_database
from tests.services import postgres_url, require

_sqlite_template: Path | None = None
_postgres_ddl: str | None = None

#: What the test connections to PostgreSQL set (with the ``search_path``).
POSTGRES_SETTINGS = {"synchronous_commit": "off"}
#: Clean schemas with every table, ready for the next test: (server URL, name).
_spare_schemas: list[tuple[str, str]] = []
#: Kept at most; more are dropped.
SPARE_SCHEMAS = 4
#: A schema whose tests left more rows than this is dropped, not reused (its
#: tables would carry the dead rows on).
REUSE_MAX_ROWS = 5000


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

    conn = await asyncpg.connect(_asyncpg_dsn(url), server_settings=POSTGRES_SETTINGS)
    try:
        await conn.execute(script)
    finally:
        await asyncio.shield(conn.close())


#: The structure of a schema: its relations (with their number of columns),
#: columns, constraints, triggers (and whether they are enabled), functions
#: and types, as one text to compare.
_STRUCTURE = """
SELECT string_agg(item, E'\n' ORDER BY item) FROM (
    SELECT 'rel ' || c.relname || ' ' || c.relkind::text || ' ' || c.relnatts
      FROM pg_class c WHERE c.relnamespace = $1::regnamespace
    UNION ALL
    SELECT 'col ' || c.relname || '.' || a.attname || ' ' || a.atttypid::regtype
           || ' ' || a.attnotnull || ' ' || a.atthasdef || ' ' || a.attisdropped
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = $1::regnamespace AND a.attnum > 0
    UNION ALL
    SELECT 'con ' || conname || ' ' || contype::text
      FROM pg_constraint WHERE connamespace = $1::regnamespace
    UNION ALL
    -- Foreign keys' internal triggers are named by object id: by function instead.
    SELECT 'trg ' || c.relname || '.'
           || CASE WHEN t.tgisinternal THEN t.tgfoid::regproc::text ELSE t.tgname END
           || ' ' || t.tgenabled::text
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = $1::regnamespace
    UNION ALL
    SELECT 'fn ' || proname || ' ' || md5(prosrc)
      FROM pg_proc WHERE pronamespace = $1::regnamespace
    UNION ALL
    SELECT 'typ ' || typname FROM pg_type WHERE typnamespace = $1::regnamespace
) AS structure(item)
"""


class _Layout:
    """The structure of a schema made by :func:`postgres_ddl`, and how to
    empty one: learnt once per process from the first such schema."""

    def __init__(self, structure: str, tables: list[str], sequences: list[str]) -> None:
        self.structure = structure
        self.tables = tables
        self.sequences = sequences


_layout: _Layout | None = None


async def _learn_layout(conn: Any, schema: str) -> _Layout:
    structure = await conn.fetchval(_STRUCTURE, schema)
    tables = [row[0] for row in await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", schema)]
    sequences = [row[0] for row in await conn.fetch(
        "SELECT sequencename FROM pg_sequences WHERE schemaname = $1 ORDER BY sequencename",
        schema)]
    return _Layout(structure, tables, sequences)


async def _empty_for_reuse(url: str, schema: str) -> bool:
    """Delete every row of the schema and restart its sequences, if the
    schema still has the structure it was made with and not too many rows;
    True if it is now as a new one."""
    global _layout
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url), server_settings=POSTGRES_SETTINGS)
    try:
        if _layout is None:
            return False
        if await conn.fetchval(_STRUCTURE, schema) != _layout.structure:
            return False
        quoted = '"' + schema + '"'
        deletes = ", ".join(
            f'd{i} AS (DELETE FROM {quoted}."{table}" RETURNING 1)'  # noqa: S608
            for i, table in enumerate(_layout.tables))
        counts = " + ".join(
            f"(SELECT count(*) FROM d{i})" for i in range(len(_layout.tables)))  # noqa: S608
        async with conn.transaction():
            # As a replica applies rows: no triggers (the audit log's
            # append-only guard) and no foreign-key checks.
            await conn.execute("SET LOCAL session_replication_role = replica")
            deleted = await conn.fetchval(f"WITH {deletes} SELECT {counts}")
            if deleted > REUSE_MAX_ROWS:
                raise _TooBig
            await conn.execute(
                "SELECT setval(name::regclass, 1, false) FROM unnest($1::text[]) AS name",
                [f'{quoted}."{sequence}"' for sequence in _layout.sequences])
        return True
    except _TooBig:
        return False
    finally:
        await asyncio.shield(conn.close())


class _TooBig(Exception):
    """The schema held too many rows to be reused (rolls the deletes back)."""


def _schema_name() -> str:
    return f"t_{worker_id()}_{uuid.uuid4().hex[:12]}"


async def new_postgres_schema(*, tables: bool = False) -> tuple[str, str]:
    """(server URL, name) of a new schema, empty or (``tables``) with every
    table; skips (or, in CI, fails) without PostgreSQL. Drop it with
    :func:`drop_postgres_schema`."""
    global _layout
    import asyncpg

    url = await _require_postgres()
    schema = _schema_name()
    script = f'CREATE SCHEMA "{schema}";\n'
    if tables:
        script += f'SET search_path TO "{schema}";\n' + postgres_ddl()
    conn = await asyncpg.connect(_asyncpg_dsn(url), server_settings=POSTGRES_SETTINGS)
    try:
        await conn.execute(script)
        if tables and _layout is None:
            _layout = await _learn_layout(conn, schema)
    finally:
        await asyncio.shield(conn.close())
    return url, schema


async def take_postgres_schema() -> tuple[str, str]:
    """(server URL, name) of a schema with every table and no rows: a spare
    one of this process's (see the module's docstring) or a new one. Give it
    back with :func:`give_back_postgres_schema`."""
    url = await _require_postgres()
    while _spare_schemas:
        spare_url, schema = _spare_schemas.pop()
        if spare_url == url:
            return url, schema
        await drop_postgres_schema(spare_url, schema)
    return await new_postgres_schema(tables=True)


async def give_back_postgres_schema(url: str, schema: str) -> None:
    """Keep the schema for the next test if it can be emptied to as new;
    drop it otherwise."""
    try:
        reusable = await _empty_for_reuse(url, schema)
    except Exception:
        reusable = False
    if not reusable:
        await drop_postgres_schema(url, schema)
        return
    # The next test takes the last one given back; beyond the limit the
    # oldest spare goes.
    _spare_schemas.append((url, schema))
    while len(_spare_schemas) > SPARE_SCHEMAS:
        await drop_postgres_schema(*_spare_schemas.pop(0))


async def drop_spare_postgres_schemas() -> None:
    """Drop the schemas kept for reuse (at the end of the run)."""
    while _spare_schemas:
        url, schema = _spare_schemas.pop()
        await drop_postgres_schema(url, schema)
    while _world_templates:
        (url, _key), (schema, _world) = _world_templates.popitem()
        await drop_postgres_schema(url, schema)


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
    url, schema = await take_postgres_schema()
    database = create_database(
        url, pool_size=pool_size, max_overflow=max_overflow,
        connect_args={"server_settings": {"search_path": schema, **POSTGRES_SETTINGS}},
    )
    _schema_of[id(database)] = (url, schema)
    try:
        yield database
    finally:
        del _schema_of[id(database)]
        await database.dispose()
        await give_back_postgres_schema(url, schema)


# --- worlds built once per process --------------------------------------------

#: (server URL, schema) of each live database :func:`postgres_database` made.
_schema_of: dict[int, tuple[str, str]] = {}
#: A world's rows, kept in a schema of their own, and the world: by (URL, key).
_world_templates: dict[tuple[str, str], tuple[str, Any]] = {}

W = TypeVar("W")


async def world_from_template(db: Database, key: str, build: Callable[[], Awaitable[W]]) -> W:
    """The world ``build`` makes in ``db``, built once per process: on
    PostgreSQL the first test's rows are kept in a schema of their own, and
    every later test with the same ``key`` gets a copy of them (one round
    trip, instead of the many of building it) and a copy of the world
    object. Builders depend only on the suite's clock, which starts every
    test at the same moment, so the copy is what building would have made.
    On SQLite ``build`` runs every time."""
    where = _schema_of.get(id(db))
    if where is None or _layout is None:
        return await build()
    url, schema = where
    template = _world_templates.get((url, key))
    if template is not None:
        await _run_script(url, _copy_rows(template[0], schema))
        return copy.deepcopy(template[1])
    world = await build()
    original = copy.deepcopy(world)  # before the schema: a world that cannot be copied leaks none
    _, kept = await new_postgres_schema(tables=True)
    _world_templates[(url, key)] = (kept, original)
    await _run_script(url, _copy_rows(schema, kept))
    return world


def _copy_rows(source: str, target: str) -> str:
    """A script that copies every row and sequence position of schema
    ``source`` into the empty schema ``target`` of the same layout."""
    assert _layout is not None
    lines = ["BEGIN;", "SET LOCAL session_replication_role = replica;"]
    # Names of our own schemas and tables, never input.
    lines += [f'INSERT INTO "{target}"."{table}" SELECT * FROM "{source}"."{table}";'  # noqa: S608
              for table in _layout.tables]
    lines += [f"""SELECT setval('"{target}"."{sequence}"', last_value, is_called) """  # noqa: S608
              f'FROM "{source}"."{sequence}";' for sequence in _layout.sequences]
    lines.append("COMMIT;")
    return "\n".join(lines)
