"""Pure ASGI middleware: correlation ids and access logs, security headers,
and cross-site request forgery protection for every state change."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("tanntid.access")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CorrelationIdMiddleware:
    """Give each request an id, bind it to every log line, return it in
    ``X-Correlation-ID`` (error pages show it so support can find the logs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Correlation-ID"] = correlation_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # The path only: query strings may carry search words.
            log.info("request", method=scope["method"], path=loggable_path(scope),
                     status=status, ms=round((time.perf_counter() - started) * 1000, 1))
            structlog.contextvars.clear_contextvars()


def loggable_path(scope: Scope) -> str:
    """The request's path for the access log: the route's template instead
    (``/kalender/{token}.ics``) where the path carries a link token, which
    is a key to someone's appointment."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str) and "{token" in template:
        return template
    return str(scope["path"])


class SecurityHeadersMiddleware:
    """No inline script, no framing (except where a route opts in by setting
    its own ``frame-ancestors``), no sniffing, minimal referrers, HSTS in
    production."""

    def __init__(self, app: ASGIApp, *, hsts: bool, form_targets: tuple[str, ...] = ()) -> None:
        self.app = app
        self.hsts = hsts
        # Chrome applies form-action to the redirects after a form POST, so the
        # logout form must be allowed to end up at the identity provider.
        self.form_action = " ".join(("'self'", *form_targets))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    # A route that sets its own policy (frame-ancestors for the
                    # provider's logout iframe) must not be undone by this header.
                    headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault(
                    "Content-Security-Policy",
                    "default-src 'self'; script-src 'self'; style-src 'self'; "
                    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
                    f"form-action {self.form_action}; base-uri 'none'; object-src 'none'; "
                    "frame-ancestors 'none'",
                )
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Permissions-Policy",
                                   "camera=(), microphone=(), geolocation=(), payment=()")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security",
                                       "max-age=31536000; includeSubDomains")
            await send(message)

        await self.app(scope, receive, send_with_headers)


Refuse = Callable[[Request], Awaitable[Response]]


class CrossSiteRequestMiddleware:
    """Refuse state-changing requests that a browser made for another site.

    Browsers send ``Sec-Fetch-Site`` (and ``Origin``) on every POST; a request
    whose ``Sec-Fetch-Site`` is not ``same-origin``/``none``, or whose
    ``Origin`` is not ours, is refused. A request with neither header did not
    come from a modern browser page and is refused too, except on the paths
    that authenticate themselves (provider webhooks with signatures, the
    token endpoint of the local test login).
    """

    def __init__(self, app: ASGIApp, *, public_url: str, refuse: Refuse,
                 exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        parts = urlsplit(public_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.refuse = refuse
        self.exempt_prefixes = exempt_prefixes

    def allowed(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        fetch_site = headers.get("sec-fetch-site")
        origin = headers.get("origin")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return False
        if origin is not None:
            # PUBLIC_URL alone says what our origin is: the Host header is
            # the client's to choose.
            return origin == self.origin
        return fetch_site is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] in SAFE_METHODS
                or scope["path"].startswith(self.exempt_prefixes) or self.allowed(scope)):
            await self.app(scope, receive, send)
            return
        log.warning("cross_site_request_refused", path=loggable_path(scope))
        response = await self.refuse(Request(scope, receive))
        await response(scope, receive, send)


class BodyTooLarge(HTTPException):
    """A request body over the limit: refused as it is read (400, like any
    other input only a hand-made request sends)."""

    def __init__(self) -> None:
        super().__init__(400)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` while they are read, whether
    or not a ``Content-Length`` announced them (a chunked body has none):
    the handler reading the form gets :class:`BodyTooLarge` as soon as the
    limit is passed, so no more than ``max_bytes`` plus one chunk is ever
    held. Paths that receive bigger bodies and prove themselves (provider
    webhooks, the local test login's back channel) are exempt."""

    def __init__(self, app: ASGIApp, *, max_bytes: int,
                 exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] in SAFE_METHODS
                or scope["path"].startswith(self.exempt_prefixes)):
            await self.app(scope, receive, send)
            return
        announced = Headers(scope=scope).get("content-length")
        too_long = announced is not None and (
            not announced.isdigit() or int(announced) > self.max_bytes)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if too_long:
                raise BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited_receive, send)


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class ServerErrorPageMiddleware:
    """Turn an unhandled exception into the translated error page *inside*
    the other middleware, so it carries the security headers and the
    correlation id like every other response. If the response had already
    started, there is nothing to replace: the exception goes on up."""

    def __init__(self, app: ASGIApp, *, handler: ErrorHandler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            response = await self.handler(Request(scope, receive), exc)
            await response(scope, receive, send)
