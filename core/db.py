"""Database plumbing shared by every package: the declarative base, a UTC
timestamp type, and the engine pair used for reads and writes.

SQLite serialises writers. A deferred transaction that reads and then writes
can fail with "database is locked" when another writer got there first, so
writing units of work begin with ``BEGIN IMMEDIATE`` on SQLite (they wait for
the write lock instead). PostgreSQL needs nothing special: its row locks and
compare-and-swap updates do the work.

Round trips are most of what a page costs, so on PostgreSQL reads run without
a transaction of their own (``AUTOCOMMIT``: no ``BEGIN`` and ``ROLLBACK``
around them; under PostgreSQL's default READ COMMITTED every statement takes
its own snapshot either way), and a pooled connection is pinged before use
only when it has lain idle for :data:`PING_AFTER_IDLE` seconds (one used a
moment ago is alive; one the server dropped meanwhile is replaced before use).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event, exc
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from core.settings import DatabaseSettings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: A 64-bit key on PostgreSQL; SQLite's INTEGER PRIMARY KEY is its rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def check_constraint(column: str, enum: type[StrEnum]) -> str:
    """SQL that allows only the values of a closed vocabulary in ``column``."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every engine (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Database:
    """One engine, and a write view of it that takes SQLite's write lock up front."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    write_sessions: async_sessionmaker[AsyncSession]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits on success, rolls back on any exception."""
        async with self.write_sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    if conn.get_execution_options().get("tanntid_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


#: Seconds a pooled PostgreSQL connection may lie idle before it is pinged at
#: checkout (SQLAlchemy's ``pool_pre_ping`` pings every time: a round trip per
#: request and per read).
PING_AFTER_IDLE = 2.0
_IDLE_SINCE = "tanntid_idle_since"


def _mark_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dialect: Dialect) -> Any:
    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is not None and time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            if dialect.is_disconnect(error, dbapi_connection, None):  # type: ignore[arg-type]
                # The pool discards this connection and checks out another.
                raise exc.DisconnectionError() from error
            raise
    return checkout


class ReadSession(Session):
    """The ORM session behind :meth:`Database.read` on PostgreSQL. Without a
    transaction each statement would commit on its own, so an ORM write
    through it is refused before anything is sent."""


class ReadAsyncSession(AsyncSession):
    """:meth:`Database.read` on PostgreSQL: statements without a transaction,
    except a stream (a server-side cursor needs one), which runs on a
    connection of the engine's own transactional kind, rolled back at the
    end like any read."""

    sync_session_class = ReadSession

    async def stream(self, statement: Any, params: Any = None, *,
                     execution_options: Any = None, bind_arguments: Any = None,
                     **kw: Any) -> Any:
        bind_arguments = {**(bind_arguments or {}), "bind": self.info[_TRANSACTIONAL]}
        return await super().stream(statement, params,
                                    execution_options=execution_options or {},
                                    bind_arguments=bind_arguments, **kw)


_TRANSACTIONAL = "tanntid_transactional_engine"


@event.listens_for(ReadSession, "before_flush")
def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read session (Database.read) does not write; use Database.write")


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4()}__"


def database_for(settings: DatabaseSettings) -> Database:
    """The database of a service process, with the pool the settings size."""
    return create_database(settings.url, pool_size=settings.pool_size,
                           max_overflow=settings.max_overflow,
                           pool_timeout=settings.pool_timeout,
                           pgbouncer=settings.pgbouncer)


def create_database(url: str, *, pool_size: int = 10, max_overflow: int = 20,
                    pool_timeout: float = 30.0, pgbouncer: bool = False,
                    connect_args: dict[str, Any] | None = None) -> Database:
    """Build the engine for ``url``. Statement parameters are never put in
    error messages or logs (``hide_parameters``): they can hold personal data.

    On PostgreSQL each process holds at most ``pool_size + max_overflow``
    connections and a request waits ``pool_timeout`` seconds for one before
    SQLAlchemy raises ``sqlalchemy.exc.TimeoutError`` (the web answers 503).
    ``pgbouncer``: the server is PgBouncer in transaction pooling mode, where
    consecutive statements may reach different server connections, so
    asyncpg must neither cache prepared statements (``statement_cache_size``,
    SQLAlchemy's ``prepared_statement_cache_size``) nor reuse their names.
    ``?pgbouncer=1`` in the URL does the same."""
    kwargs: dict[str, Any] = {"hide_parameters": True, "connect_args": dict(connect_args or {})}
    parsed = make_url(url)
    if "pgbouncer" in parsed.query:
        pgbouncer = pgbouncer or str(parsed.query["pgbouncer"]).lower() in ("1", "true", "on")
        url = parsed.difference_update_query(["pgbouncer"]).render_as_string(hide_password=False)
    parsed = make_url(url)
    schema = parsed.query.get("schema")
    if schema and parsed.get_backend_name() == "postgresql":
        # ``?schema=name``: the service's tables live in that schema.
        url = parsed.difference_update_query(["schema"]).render_as_string(hide_password=False)
        settings = kwargs["connect_args"].setdefault("server_settings", {})
        settings.setdefault("search_path", str(schema))
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
            raise ValueError("use a file database; an in-memory one is private to one connection")
        kwargs["poolclass"] = NullPool
        kwargs["connect_args"].setdefault("timeout", 30)
    else:
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = max_overflow
        kwargs["pool_timeout"] = pool_timeout
        if pgbouncer:
            url = make_url(url).update_query_dict(
                {"prepared_statement_cache_size": "0"}).render_as_string(hide_password=False)
            kwargs["connect_args"].setdefault("statement_cache_size", 0)
            kwargs["connect_args"].setdefault("prepared_statement_name_func",
                                              _unique_statement_name)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    read_engine = engine
    if engine.dialect.name == "postgresql":
        event.listen(engine.sync_engine.pool, "checkin", _mark_idle)
        event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle(engine.dialect))
        read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    write_engine = engine.execution_options(tanntid_write=True)
    if read_engine is engine:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
    else:
        sessions = async_sessionmaker(read_engine, class_=ReadAsyncSession,
                                      expire_on_commit=False,
                                      info={_TRANSACTIONAL: engine.sync_engine})
    return Database(
        engine=engine,
        sessions=sessions,
        write_sessions=async_sessionmaker(write_engine, expire_on_commit=False),
    )
