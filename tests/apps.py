"""The app under test, built the one way, and in-process clients for it.

:func:`make_app` builds the app as ``create_app`` does from test settings,
on a test's database; :func:`client_for` (or the ``app_client`` fixture,
which closes its clients after the test) talks to any ASGI app in-process,
without a socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp

from core.db import Database
from core.settings import Settings

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

    app = create_app(app_settings(**settings))
    if db is not None:
        # Its own engine has never connected: there is nothing to close.
        app.state.db = db
    return app


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
