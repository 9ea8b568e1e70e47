"""An app with the staff login (the local ID-porten in-process) on both
database engines, the reception world, and browsers logged in as staff."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette

from core.db import Database
from tests.apps import BASE_URL
from tests.databases import world_from_template
from tests.web.auth.helpers import browser, build_app, local_login, login
from tests.web.clinic.world import ClinicWorld, build_clinic_world

StaffBrowser = Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def app(db: Database) -> AsyncIterator[Starlette]:
    async with local_login(build_app(db=db)) as application:
        yield application


@pytest.fixture
async def world(app: Starlette) -> ClinicWorld:
    return await world_from_template(app.state.db, "clinic", lambda: build_clinic_world(app))


@pytest.fixture
async def staff(app: Starlette) -> AsyncIterator[StaffBrowser]:
    """``await staff("reception-grunerlokka")``: a browser with that staff user logged in."""
    clients: list[httpx.AsyncClient] = []

    async def make(user: str) -> httpx.AsyncClient:
        client = browser(BASE_URL, httpx.ASGITransport(app=app))
        clients.append(client)
        response = await login(client, user, path="/staff/auth/login")
        assert response.status_code == 303, response.text
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def reception(staff: StaffBrowser, world: ClinicWorld) -> httpx.AsyncClient:
    return await staff("reception-grunerlokka")
