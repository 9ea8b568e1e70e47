"""Fixtures for the profile and information pages: the app of
:mod:`tests.web.info.helpers` on the ``db`` fixture's database, a
browser-like client, and the synthetic adult logged in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from core.db import Database
from tests.web.auth.helpers import build_app, local_login
from tests.web.info.helpers import log_in, new_browser, wire


@pytest.fixture
async def app(db: Database) -> AsyncIterator[Starlette]:
    async with local_login(wire(build_app(db=db))) as application:
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with new_browser(app) as c:
        yield c


@pytest.fixture
async def patient_id(client: httpx.AsyncClient) -> int:
    """The synthetic adult, logged in (in English: the browser asks for it)."""
    return await log_in(client)
