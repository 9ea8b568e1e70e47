"""The composition root: ``create_app(settings)`` wires settings, database,
templates, routes and middleware. Nothing below ``web/`` imports from here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import jwt
from starlette.applications import Starlette
from starlette.middleware import Middleware

from booking.relations import CachedRelations
from core.db import database_for
from core.identity import IdentityVault
from core.oauth import SigningKey
from core.settings import Settings, SettingsError
from notifications import outbox
from notifications.contacts import contact_register
from notifications.runner import notifications_in_web_process
from registers.person_api import (
    PersonApiClient,
    PersonApiRegister,
    PersonApiRelations,
    helseid_tokens,
)
from web import errors, ratelimits
from web.auth import routes as auth_routes
from web.auth import services as auth_services
from web.auth.access import LiveSessionMiddleware
from web.health import begin_shutdown
from web.logs import configure_logging
from web.middleware import (
    BodyLimitMiddleware,
    CorrelationIdMiddleware,
    CrossSiteRequestMiddleware,
    SecurityHeadersMiddleware,
    ServerErrorPageMiddleware,
)
from web.routes import build_routes
from web.templating import create_templates
from web.views.profile import PreferredLocaleMiddleware

#: Paths whose POSTs prove themselves (signatures, client authentication).
CSRF_EXEMPT = ("/webhooks/", "/dev/idporten/token", "/dev/idporten/par")
#: The most any form of ours sends (bigger bodies are refused as they are read).
MAX_FORM_BYTES = 4096


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


def person_api_client(settings: Settings, vault: IdentityVault) -> PersonApiClient | None:
    """The Person API client (the population register) when it is configured
    (always in production), with its own HTTP client and a HelseID token
    source. HelseID's issuer, and so its discovery document, is the origin of
    ``HELSEID_TOKEN_URL``."""
    if not settings.person_api_configured:
        return None
    assert settings.person_api_url and settings.helseid_token_url
    assert settings.helseid_client_id and settings.helseid_client_jwk
    try:
        key = SigningKey.from_jwk(settings.helseid_client_jwk)
    except (ValueError, TypeError, jwt.PyJWTError):
        raise SettingsError("HELSEID_CLIENT_JWK is not a private JSON Web Key") from None
    token_url = httpx.URL(settings.helseid_token_url)
    http = httpx.AsyncClient(timeout=15.0)
    tokens = helseid_tokens(authority=str(token_url.copy_with(path="/", query=None)),
                            token_url=str(token_url), client_id=settings.helseid_client_id,
                            key=key, scope=settings.person_api_scope, http=http)
    return PersonApiClient(base_url=settings.person_api_url, tokens=tokens, http=http,
                           vault=vault)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    settings.check()
    configure_logging(json=settings.log_json, level=settings.log_level)
    outbox.subscribe()  # bookings write their notifications in their own transaction
    db = database_for(settings.database)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with notifications_in_web_process(app, settings.notifications):
                yield
                # Shutting down (uvicorn gets here once in-flight requests are
                # done; SIGTERM already did this in web.asgi): not ready, and
                # the runner finishes its pass before it is stopped.
                begin_shutdown(app)
        finally:
            await auth_services.shutdown(app)
            if app.state.krr is not None:
                await app.state.krr.aclose()
            if app.state.person_api is not None:
                await app.state.person_api.aclose()
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
            Middleware(LiveSessionMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=MAX_FORM_BYTES,
                       exempt_prefixes=CSRF_EXEMPT),
        ],
        exception_handlers={**errors.exception_handlers(),
                            **auth_routes.exception_handlers(),
                            **ratelimits.exception_handlers()},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.stopping = False  # web.health.begin_shutdown
    app.state.vault = IdentityVault.from_secret(settings.secret_key)
    app.state.templates = create_templates()
    app.state.krr = contact_register(settings.notifications)
    # The population register: names at first login (web.auth.patients) and,
    # briefly cached, each guardian's children (web.acting). Without it, the
    # local guardianships table answers (web.acting.relations_source).
    # Each fresh answer also reconciles the local guardianships (who gets a
    # child's SMS), and each login asks afresh (PersonApiRegister.refresh_relations).
    app.state.person_api = person_api_client(settings, app.state.vault)
    if app.state.person_api is not None:
        relations = CachedRelations(PersonApiRelations(db, app.state.person_api),
                                    ttl=float(settings.relations_cache_ttl))
        app.state.relations = relations
        app.state.population_register = PersonApiRegister(app.state.person_api,
                                                          relations=relations)
    return app
