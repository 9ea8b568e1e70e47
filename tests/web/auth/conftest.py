"""Fixtures: an app with the login routes, served in-process (ASGITransport) on
both database engines; its OIDC client reaches the local provider through the
same transport, over the same HTTP interface it uses for ID-porten."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from core.db import Database
from tests.apps import BASE_URL
from tests.web.auth.helpers import browser, build_app, local_login

BASE = BASE_URL


@pytest.fixture
async def app(db: Database) -> AsyncIterator[Starlette]:
    async with local_login(build_app(db=db)) as application:
        yield application


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
