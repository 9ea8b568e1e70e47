"""The rate limits of the web process (:mod:`core.ratelimit`): one limiter
per app, on Redis with ``REDIS_URL`` and in memory otherwise, and the page a
limited request gets: 429 in the reader's language, with ``Retry-After``.

Logins are limited per client address (``LOGIN_RATE_LIMIT``; behind a
proxy, the address it forwards) and per browser session
(``LOGIN_SESSION_RATE_LIMIT``; the session or login cookie, hashed), held
times per person acting (``HOLD_RATE_LIMIT``, :mod:`booking.holds`), and
refused requests for another patient's data per person and patient
(:data:`REFUSED_ACCESS`; :func:`web.acting.refuse`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Final

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from core.ratelimit import Limiter, RateLimited, Rule, hashed
from core.settings import Settings
from web.errors import error_page

log = structlog.get_logger("tanntid.ratelimits")

#: Refused requests for another patient's data, per person and patient: a
#: mistyped link is refused a few times, a script is slowed down.
REFUSED_ACCESS: Final = "10/minute;100/day"


@dataclass(frozen=True)
class Limits:
    """The app's limiter and its rules, from the settings."""

    limiter: Limiter
    login_per_address: Rule
    login_per_session: Rule
    holds: Rule
    #: Refused ``?for=`` requests per person and requested patient (each is audited).
    refused: Rule

    @classmethod
    def of(cls, settings: Settings, *, prefix: str | None = None) -> Limits:
        limiter = (Limiter(settings.redis_url, prefix) if prefix is not None
                   else Limiter(settings.redis_url))
        return cls(limiter,
                   Rule.parse("login-address", settings.login_rate_limit),
                   Rule.parse("login-session", settings.login_session_rate_limit),
                   Rule.parse("hold", settings.hold_rate_limit),
                   Rule.parse("refused", REFUSED_ACCESS))


def install(app: Starlette, *, prefix: str | None = None) -> Limits:
    limits = Limits.of(app.state.settings, prefix=prefix)
    app.state.limits = limits
    return limits


def limits(app: Starlette) -> Limits:
    found = getattr(app.state, "limits", None)
    return found if isinstance(found, Limits) else install(app)


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


#: A random id for the browser that starts logins, so logins are counted per
#: browser session before there is a login session (the login cookie itself
#: is encrypted afresh at every start).
BROWSER_COOKIE: Final = "tanntid-login-browser"
BROWSER_SECONDS: Final = 3600
_BROWSER_ID: Final = re.compile(r"[A-Za-z0-9_-]{22}")


async def check_login(request: Request, session_cookie: str) -> str:
    """Count a login start from this address and this browser session (its
    login session, else its login-browser id), or raise :class:`RateLimited`.
    Returns the login-browser id to keep in :data:`BROWSER_COOKIE`."""
    found = limits(request.app)
    await found.limiter.hit(found.login_per_address, client_address(request))
    browser = request.cookies.get(BROWSER_COOKIE, "")
    if not _BROWSER_ID.fullmatch(browser):
        browser = ""
    session = request.cookies.get(session_cookie, "")
    if session or browser:
        await found.limiter.hit(found.login_per_session, hashed(session or browser))
    return browser or secrets.token_urlsafe(16)


async def too_many_requests(request: Request, exc: RateLimited) -> Response:
    """429 with ``Retry-After``: never a 500."""
    headers = {"Retry-After": str(exc.retry_after)}
    log.info("too_many_requests", rule=exc.rule, path=request.url.path,
             correlation_id=getattr(request.state, "correlation_id", ""))
    try:
        return error_page(request, 429, headers=headers)
    except Exception:
        return PlainTextResponse("Too Many Requests", status_code=429,
                                 headers={**headers, "Cache-Control": "no-store"})


def exception_handlers() -> dict[Any, Any]:
    return {RateLimited: too_many_requests}


async def check_refused(request: Request, actor_id: str, subject_id: int) -> None:
    """Count a refused request of ``actor_id`` for ``subject_id``'s data, or
    raise :class:`RateLimited`."""
    found = limits(request.app)
    await found.limiter.hit(found.refused, actor_id, str(subject_id))
