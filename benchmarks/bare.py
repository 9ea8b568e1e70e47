"""The baselines of the HTTP benchmarks, served by uvicorn exactly as
``tanntid serve`` serves the service (same server, same number of worker
processes), so a page's or a booking's numbers can be read against what the
server and the machine manage at all:

- ``benchmarks.bare:app``: a bare Starlette endpoint that answers "hello";
- ``benchmarks.bare:update_app``: a bare Starlette endpoint that runs one
  ``UPDATE bench_counter SET n = n + 1 WHERE id = :id`` transaction through
  the service's own database layer (``core.db``, the same pool settings) on
  ``$BENCH_UPDATE_DATABASE_URL`` (``POST /update/{id}``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


app = Starlette(routes=[Route("/", hello)])


async def update(request: Request) -> Response:
    async with request.app.state.db.write() as session:
        await session.execute(text("UPDATE bench_counter SET n = n + 1 WHERE id = :id"),
                              {"id": int(request.path_params["row"])})
    return PlainTextResponse("updated")


@asynccontextmanager
async def _database(application: Starlette) -> AsyncIterator[None]:
    from core.db import create_database
    from core.settings import Settings

    defaults = Settings  # the service's pool: DATABASE_POOL_SIZE etc. or their defaults
    application.state.db = create_database(
        os.environ["BENCH_UPDATE_DATABASE_URL"],
        pool_size=int(os.environ.get("DATABASE_POOL_SIZE", defaults.database_pool_size)),
        max_overflow=int(os.environ.get("DATABASE_MAX_OVERFLOW",
                                        defaults.database_max_overflow)),
        pool_timeout=float(os.environ.get("DATABASE_POOL_TIMEOUT",
                                          defaults.database_pool_timeout)))
    try:
        yield
    finally:
        await application.state.db.dispose()


update_app = Starlette(routes=[Route("/", hello), Route("/update/{row:int}", update,
                                                        methods=["POST"])],
                       lifespan=_database)
