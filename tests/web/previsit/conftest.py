"""The patient pages' app (local ID-porten in-process, both engines), the
visit world, and browsers for patients and staff."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette

from core.db import Database
from tests.apps import BASE_URL
from tests.databases import world_from_template
from tests.web.auth.helpers import browser, build_app, local_login, login
from tests.web.patient.world import Person
from tests.web.previsit.world import VisitWorld, build_visit_world

Browser = Callable[..., Awaitable[httpx.AsyncClient]]
StaffBrowser = Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def app(db: Database) -> AsyncIterator[Starlette]:
    async with local_login(build_app(db=db)) as application:
        yield application


@pytest.fixture
async def world(app: Starlette) -> VisitWorld:
    return await world_from_template(app.state.db, "previsit",
                                     lambda: build_visit_world(app))


@pytest.fixture
async def clients(app: Starlette) -> AsyncIterator[list[httpx.AsyncClient]]:
    opened: list[httpx.AsyncClient] = []
    yield opened
    for client in opened:
        await client.aclose()


@pytest.fixture
def logged_in(app: Starlette, clients: list[httpx.AsyncClient]) -> Browser:
    """``await logged_in(person)``: a browser with that person logged in."""

    async def make(person: Person, language: str = "en") -> httpx.AsyncClient:
        client = browser(BASE_URL, httpx.ASGITransport(app=app), language=language)
        clients.append(client)
        response = await login(client, person.pid)
        assert response.status_code == 303, response.text
        return client

    return make


@pytest.fixture
def staff(app: Starlette, clients: list[httpx.AsyncClient]) -> StaffBrowser:
    """``await staff("reception-grunerlokka")``: a staff browser."""

    async def make(user: str) -> httpx.AsyncClient:
        client = browser(BASE_URL, httpx.ASGITransport(app=app))
        clients.append(client)
        response = await login(client, user, path="/staff/auth/login")
        assert response.status_code == 303, response.text
        return client

    return make
