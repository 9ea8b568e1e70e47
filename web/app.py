"""The composition root: ``create_app(settings)`` wires settings, database,
templates, routes and middleware. Nothing below ``web/`` imports from here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware

import idporten.routes
import idporten.services
from booking.db import create_database
from booking.identity import IdentityVault
from notifications.channels.krr import KrrClient
from notifications.runner import notifications_in_web_process
from web import errors
from web.logs import configure_logging
from web.middleware import (
    CorrelationIdMiddleware,
    CrossSiteRequestMiddleware,
    SecurityHeadersMiddleware,
    ServerErrorPageMiddleware,
)
from web.routes import build_routes
from web.settings import Settings
from web.templating import create_templates
from web.views.profile import PreferredLocaleMiddleware

#: Paths whose POSTs prove themselves (signatures, client authentication).
CSRF_EXEMPT = ("/webhooks/", "/dev/idporten/token", "/dev/idporten/par")


def identity_provider_origins(settings: Settings) -> tuple[str, ...]:
    """Where the logout form's redirect may lead: each configured provider's
    origin and its ``login.`` host (ID-porten serves end-session there)."""
    origins: list[str] = []
    for url in (settings.idporten_discovery_url, settings.staff_oidc_discovery_url):
        if url:
            parts = urlsplit(url)
            origins += [f"{parts.scheme}://{parts.netloc}",
                        f"{parts.scheme}://login.{parts.netloc}"]
    return tuple(dict.fromkeys(origins))


def contact_register(settings: Settings) -> KrrClient | None:
    """The KRR client when the register is configured (always in production)."""
    if not settings.krr_configured:
        return None
    assert settings.krr_api_url and settings.maskinporten_token_url
    assert settings.maskinporten_client_id and settings.maskinporten_client_jwk
    return KrrClient(
        api_url=settings.krr_api_url, token_url=settings.maskinporten_token_url,
        audience=settings.maskinporten_audience
        or str(httpx.URL(settings.maskinporten_token_url).copy_with(path="/", query=None)),
        client_id=settings.maskinporten_client_id,
        client_jwk=settings.maskinporten_client_jwk, cache_ttl=float(settings.krr_cache_ttl))


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    settings.check()
    configure_logging(json=settings.log_json, level=settings.log_level)
    db = create_database(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with notifications_in_web_process(app, settings):
                yield
        finally:
            await idporten.services.shutdown(app)
            if app.state.krr is not None:
                await app.state.krr.aclose()
            await db.dispose()

    app = Starlette(
        debug=False,
        routes=build_routes(settings),
        middleware=[
            Middleware(CorrelationIdMiddleware),
            Middleware(PreferredLocaleMiddleware),
            Middleware(SecurityHeadersMiddleware, hsts=settings.is_production,
                       form_targets=identity_provider_origins(settings)),
            Middleware(CrossSiteRequestMiddleware, public_url=settings.public_url,
                       refuse=errors.refuse_cross_site, exempt_prefixes=CSRF_EXEMPT),
            Middleware(ServerErrorPageMiddleware, handler=errors.server_error),
        ],
        exception_handlers={**errors.exception_handlers(),
                            **idporten.routes.exception_handlers()},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.vault = IdentityVault.from_secret(settings.secret_key)
    app.state.templates = create_templates()
    app.state.krr = contact_register(settings)
    return app
