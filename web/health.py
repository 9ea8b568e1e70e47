"""Liveness and readiness for the platform's probes."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse


async def healthz(request: Request) -> JSONResponse:
    """The process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """The database answers, and Redis too when one is configured."""
    checks: dict[str, str] = {}
    try:
        async with request.app.state.db.read() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), 5)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    redis_url = request.app.state.settings.redis_url
    if redis_url:
        import redis.asyncio as redis

        client = redis.Redis.from_url(redis_url)
        try:
            await asyncio.wait_for(client.ping(), 2)
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unavailable: {type(exc).__name__}"
        finally:
            await client.aclose()
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)
