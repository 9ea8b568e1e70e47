"""Error pages in the reader's language, with the correlation id that lets
support find the request in the logs. Never a stack trace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from web.templating import render

log = structlog.get_logger("tanntid.errors")

Handler = Callable[[Request, Any], Awaitable[Response]]

#: Statuses with their own wording; any other error uses the general page.
KNOWN_STATUSES = frozenset({400, 403, 404, 405, 500})


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
              error=type(exc).__name__, path=request.url.path)
    try:
        return error_page(request, 500)
    except Exception:  # the error page itself failed: say as little as possible
        log.exception("error_page_failed", correlation_id=correlation_id)
        return PlainTextResponse(f"Internal Server Error\n{correlation_id}", status_code=500)


def exception_handlers() -> dict[Any, Handler]:
    return {HTTPException: http_exception, Exception: server_error}
