"""The login machinery of one app, built from its settings on first use and
kept on ``app.state.auth``: the HTTP client, the two OIDC clients (patients,
staff), the session manager and the cookie policies.

Tests call :func:`install` to inject an HTTP transport or a clock; the app
calls :func:`shutdown` when it stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from cryptography.fernet import Fernet
from starlette.applications import Starlette

from core.db import Database, utcnow
from core.settings import Settings
from idporten.client import OIDCClient
from idporten.metadata import JwksCache, MetadataCache
from web.auth.config import Audience, client_config, discovery_url
from web.auth.sessions import (
    CookiePolicy,
    DatabaseSessionStore,
    RedisSessionStore,
    SessionManager,
    SessionStore,
    derive_fernet,
)

HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass
class AuthServices:
    settings: Settings
    http: httpx.AsyncClient
    sessions: SessionManager
    patient: OIDCClient
    staff: OIDCClient
    patient_cookie: CookiePolicy
    staff_cookie: CookiePolicy
    #: Encrypts the short-lived login and logout cookies.
    transient: Fernet
    redis: Any | None = None

    def client(self, audience: Audience) -> OIDCClient:
        return self.patient if audience == "patient" else self.staff

    def cookie(self, audience: Audience) -> CookiePolicy:
        return self.patient_cookie if audience == "patient" else self.staff_cookie

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.sessions.clock


def install(app: Starlette, *, http: httpx.AsyncClient | None = None,
            clock: Callable[[], datetime] = utcnow, redis_prefix: str = "tanntid:"
            ) -> AuthServices:
    settings: Settings = app.state.settings
    db: Database = app.state.db
    http = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False,
                                     headers={"User-Agent": "tanntid"})
    token_fernet = derive_fernet(settings.secret_key, "session-id-token")
    redis = None
    store: SessionStore
    if settings.redis_url:
        import redis.asyncio as redis_asyncio

        redis = redis_asyncio.Redis.from_url(settings.redis_url)
        store = RedisSessionStore(redis, token_fernet, prefix=redis_prefix)
    else:
        store = DatabaseSessionStore(db, token_fernet)

    def oidc(audience: Audience) -> OIDCClient:
        metadata = MetadataCache(discovery_url(settings, audience), http)
        return OIDCClient(client_config(settings, audience), metadata, JwksCache(metadata), http)

    services = AuthServices(
        settings=settings, http=http,
        sessions=SessionManager(store, idle=timedelta(minutes=settings.session_idle_minutes),
                                absolute=timedelta(minutes=settings.session_max_minutes),
                                clock=clock),
        patient=oidc("patient"), staff=oidc("staff"),
        patient_cookie=CookiePolicy.for_app("tanntid-session", env=settings.env,
                                            public_url=settings.public_url),
        staff_cookie=CookiePolicy.for_app("tanntid-staff-session", env=settings.env,
                                          public_url=settings.public_url),
        transient=derive_fernet(settings.secret_key, "login-cookie"),
        redis=redis,
    )
    app.state.auth = services
    return services


def services(app: Starlette) -> AuthServices:
    found = getattr(app.state, "auth", None)
    return found if isinstance(found, AuthServices) else install(app)


async def shutdown(app: Starlette) -> None:
    found = getattr(app.state, "auth", None)
    if isinstance(found, AuthServices):
        await found.http.aclose()
        if found.redis is not None:
            await found.redis.aclose()
        del app.state.auth
