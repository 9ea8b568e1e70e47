"""The app under test, built the one way, and in-process clients for it.

:func:`make_app` builds the app as ``create_app`` does from test settings,
on a test's database; :func:`client_for` (or the ``app_client`` fixture,
which closes its clients after the test) talks to any ASGI app in-process,
without a socket.

Two parts of a new app cost more than most tests that use it, so the apps
:func:`make_app` builds in one process share them: the local ID-porten's
signing key (a new 2048-bit RSA key per app otherwise; outside dev every
*process* makes its own, and the tests of that, which build the provider
themselves, still get fresh keys) and the Jinja templates (compiled once
per process instead of once per app; the templates are files of the
release, as ``web/auth/pages.py`` already relies on).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp

from core.db import Database
from core.settings import Settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

BASE_URL = "http://127.0.0.1:8000"
SECRET_KEY = "t" * 40
#: Headers a browser sends with a form POST from one of our own pages.
SAME_ORIGIN = {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"}
#: Never opened: the app is given the test's database instead.
UNUSED_DATABASE = "sqlite+aiosqlite:///var/unused.sqlite3"


def app_settings(**overrides: Any) -> Settings:
    """Settings for the test environment; ``overrides`` win."""
    values: dict[str, Any] = {"env": "test", "secret_key": SECRET_KEY,
                              "database_url": UNUSED_DATABASE, "public_url": BASE_URL}
    values.update(overrides)
    return Settings(**values)


def make_app(db: Database | None = None, **settings: Any) -> Starlette:
    """``create_app`` on test settings (``settings`` override them). With
    ``db`` the app works on that database (the ``db`` fixture's schema or
    file) instead of the one its settings name."""
    from web.app import create_app

    with _shared_signing_key():
        app = create_app(app_settings(**settings))
    app.state.templates = _shared_templates()
    if db is not None:
        # Its own engine has never connected: there is nothing to close.
        app.state.db = db
    return app


@cache
def _process_signing_key() -> rsa.RSAPrivateKey:
    from idporten.local_provider import load_or_create_key

    return load_or_create_key(None)


@contextmanager
def _shared_signing_key() -> Iterator[None]:
    """While an app is built: the local ID-porten's new key (no key file) is
    this process's one test key."""
    from web.auth import local

    original = local.load_or_create_key

    def load_or_share(path: Path | None) -> rsa.RSAPrivateKey:
        return _process_signing_key() if path is None else original(path)

    with mock.patch.object(local, "load_or_create_key", load_or_share):
        yield


@cache
def _shared_templates() -> Any:
    from web.templating import create_templates

    return create_templates()


def client_for(app: ASGIApp, base_url: str = BASE_URL, *,
               raise_app_exceptions: bool = True, **options: Any) -> httpx.AsyncClient:
    """An httpx client that calls ``app`` in-process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url=base_url, **options)


@pytest.fixture
async def app_client() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """``app_client(app, base_url=..., **options)``: :func:`client_for`, closed
    after the test."""
    opened: list[httpx.AsyncClient] = []

    def make(app: ASGIApp, base_url: str = BASE_URL, **options: Any) -> httpx.AsyncClient:
        client = client_for(app, base_url, **options)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()
