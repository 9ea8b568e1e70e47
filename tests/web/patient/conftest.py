"""An app with the patient pages and the local ID-porten, served in-process
(the OIDC client reaches the provider through the same ASGI transport), on
both database engines; a browser-like client per person; the test world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette

from core.db import Database
from tests.apps import BASE_URL
from tests.databases import world_from_template
from tests.web.auth.helpers import browser, build_app, local_login, login
from tests.web.patient.world import Person, World, build_world
from web.views import patient

BASE = BASE_URL

Browser = Callable[[Person], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def app(db: Database) -> AsyncIterator[Starlette]:
    application = build_app(db=db)
    # Routes web/routes.py already wires; appended again they change nothing.
    application.router.routes.extend(patient.routes())
    async with local_login(application):
        yield application


@pytest.fixture
async def world(app: Starlette) -> World:
    return await world_from_template(app.state.db, "patient", lambda: build_world(app))


@pytest.fixture
async def logged_in(app: Starlette) -> AsyncIterator[Browser]:
    """``await logged_in(person)``: a browser with that person logged in."""
    clients: list[httpx.AsyncClient] = []

    async def make(person: Person) -> httpx.AsyncClient:
        client = browser(BASE, httpx.ASGITransport(app=app))
        clients.append(client)
        response = await login(client, person.pid)
        assert response.status_code == 303, response.text
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def anonymous(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(BASE, httpx.ASGITransport(app=app)) as client:
        yield client
