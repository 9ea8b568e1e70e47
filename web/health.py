"""Liveness and readiness for the platform's probes.

``/readyz`` answers 503 while this process should get no new requests: the
database or Redis does not answer, the database's schema is older than the
code (``tanntid migrate`` has not run yet), or the process is shutting down
(SIGTERM received; in-flight requests are still finishing)."""

from __future__ import annotations

import asyncio
import signal
import threading
from functools import cache
from types import FrameType
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from core.settings import ROOT


async def healthz(request: Request) -> JSONResponse:
    """The process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """The database answers with the schema this code expects, Redis too
    when one is configured, and the process is not shutting down."""
    checks: dict[str, str] = {}
    if getattr(request.app.state, "stopping", False):
        checks["process"] = "shutting down"
    try:
        async with request.app.state.db.read() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), 5)
            checks["database"] = "ok"
            checks["migrations"] = await _migrations(session)
    except Exception as exc:
        checks.setdefault("database", f"unavailable: {type(exc).__name__}")
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
                        status_code=200 if ready else 503,
                        headers={"Cache-Control": "no-store"})


@cache
def code_revisions() -> tuple[str, frozenset[str]]:
    """The migration head this code expects, and every revision it knows.
    Cached for the life of the process, correct per process by design: the
    code (and its ``migrations/``) does not change under a running process."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    assert head is not None, "migrations/ has no head"
    return head, frozenset(script.revision for script in scripts.walk_revisions())


async def _migrations(session: Any) -> str:
    """``ok`` when the database is at this code's head, or past it (a newer
    release migrated while this one still runs: migrations are additive, so
    the older code keeps serving during a rolling deploy); else how far behind."""
    head, known = code_revisions()
    try:
        rows = (await session.execute(text("SELECT version_num FROM alembic_version"))).all()
    except Exception:
        await session.rollback()
        return f"behind: the database is not migrated (code at {head})"
    revisions = {row[0] for row in rows}
    if head in revisions or not revisions <= known:
        return "ok"
    return f"behind: database at {', '.join(sorted(revisions)) or 'none'}, code at {head}"


def begin_shutdown(app: Starlette) -> None:
    """The process is stopping: readiness fails from now on, and the
    in-process notification runner takes no new work. Safe to call from a
    signal handler (it only sets flags and schedules a wake-up)."""
    app.state.stopping = True
    stop_claiming = getattr(getattr(app.state, "notification_queue", None), "stop_claiming",
                            None)
    if callable(stop_claiming):
        stop_claiming()


def drain_on_signals(app: Starlette) -> None:
    """Put :func:`begin_shutdown` in front of the server's own SIGTERM and
    SIGINT handlers (uvicorn's graceful shutdown, which then lets in-flight
    requests finish). Call it where the server imports the app
    (``web.asgi``): uvicorn has installed its handlers by then."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if not callable(previous):
            continue

        def handler(number: int, frame: FrameType | None, previous: Any = previous) -> None:
            begin_shutdown(app)  # no logging here: a signal handler must not write
            previous(number, frame)

        signal.signal(signum, handler)
