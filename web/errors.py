"""Error pages in the reader's language, with the correlation id that lets
support find the request in the logs. Never a stack trace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import sqlalchemy.exc
import structlog
from asyncpg.exceptions import TooManyConnectionsError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from web.middleware import loggable_path
from web.templating import render

log = structlog.get_logger("tanntid.errors")

Handler = Callable[[Request, Any], Awaitable[Response]]

#: Statuses with their own wording; any other error uses the general page.
KNOWN_STATUSES = frozenset({400, 403, 404, 405, 429, 500, 503})

#: Seconds a client is asked to wait when the database has no connection to spare.
RETRY_AFTER = 5

#: PostgreSQL's "too many connections" (SQLSTATE 53300).
TOO_MANY_CONNECTIONS = "53300"


def error_page(request: Request, status_code: int,
               headers: Mapping[str, str] | None = None) -> Response:
    shown = status_code if status_code in KNOWN_STATUSES else 500 if status_code >= 500 else 400
    response = render(request, "error.html", {"status": shown}, status_code=status_code,
                      headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


async def refuse_cross_site(request: Request) -> Response:
    """The answer to a state-changing request another site made the browser send."""
    return error_page(request, 403)


async def http_exception(request: Request, exc: HTTPException) -> Response:
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return error_page(request, exc.status_code, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    """Runs outside the other middleware (Starlette's ServerErrorMiddleware),
    after which the server logs the exception itself."""
    correlation_id = getattr(request.state, "correlation_id", "")
    log.error("unhandled_exception", correlation_id=correlation_id,
              error=type(exc).__name__, path=loggable_path(request.scope))
    try:
        return error_page(request, 500)
    except Exception:  # the error page itself failed: say as little as possible
        log.exception("error_page_failed", correlation_id=correlation_id)
        return PlainTextResponse(f"Internal Server Error\n{correlation_id}", status_code=500)


def database_exhausted(exc: BaseException) -> bool:
    """The database had no connection to give: this process's pool stayed
    empty for ``DATABASE_POOL_TIMEOUT`` (``sqlalchemy.exc.TimeoutError``), or
    PostgreSQL refused a new one (``max_connections``; asyncpg's
    ``TooManyConnectionsError``, also when SQLAlchemy wraps it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlalchemy.exc.TimeoutError | TooManyConnectionsError):
            return True
        if getattr(current, "sqlstate", None) == TOO_MANY_CONNECTIONS:
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.orig is not None:
            current = current.orig
        else:
            current = current.__cause__
    return False


async def service_busy(request: Request, exc: Exception) -> Response:
    """503 with ``Retry-After`` when the database is out of connections: a
    moment of overload, not a fault, so never a 500. Any other database
    error goes on to :func:`server_error`."""
    if not database_exhausted(exc):
        raise exc
    log.warning("database_exhausted", correlation_id=getattr(request.state, "correlation_id", ""),
                error=type(exc).__name__, path=loggable_path(request.scope))
    headers = {"Retry-After": str(RETRY_AFTER)}
    try:
        return error_page(request, 503, headers=headers)
    except Exception:
        return PlainTextResponse("Service Unavailable", status_code=503,
                                 headers={**headers, "Cache-Control": "no-store"})


def exception_handlers() -> dict[Any, Handler]:
    return {HTTPException: http_exception,
            sqlalchemy.exc.TimeoutError: service_busy,
            sqlalchemy.exc.DBAPIError: service_busy,
            TooManyConnectionsError: service_busy,
            Exception: server_error}
