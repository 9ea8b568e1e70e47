"""Fixtures: an app with the login routes, served in-process (ASGITransport) on
both database engines; its OIDC client reaches the local provider through the
same transport, over the same HTTP interface it uses for ID-porten."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from core.db import Database
from tests.web.auth.helpers import browser, build_app
from web.auth.services import install

BASE = "http://127.0.0.1:8000"


@pytest.fixture
async def app(tmp_path: Path, db: Database) -> AsyncIterator[Starlette]:
    application = build_app(tmp_path, BASE)
    await application.state.db.dispose()
    application.state.db = db
    transport = httpx.ASGITransport(app=application)
    backchannel = httpx.AsyncClient(transport=transport)
    install(application, http=backchannel)
    yield application
    await backchannel.aclose()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(BASE, httpx.ASGITransport(app=app)) as c:
        yield c


@pytest.fixture
def quiet_browser_log() -> Iterator[None]:
    """The stand-in browser's request lines would carry ``id_token_hint`` (whose
    payload holds the pid, base64-encoded) at logout. The app never logs query
    strings; the test's browser must not either. (Used by the logout tests.)"""
    logger = logging.getLogger("httpx")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)
