"""An app with the login routes and the booking pages on the ``db`` fixture's
database (SQLite and PostgreSQL), a browser-like client that has logged in
through the local test ID-porten, and a small world to book in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from core.db import Database
from tests.apps import BASE_URL
from tests.web.auth.helpers import browser, build_app, local_login
from tests.web.booking_flow.world import World, make_world
from web.views import booking
from web.views.patient import appointments

BASE = BASE_URL


@pytest.fixture
async def app(db: Database) -> AsyncIterator[Starlette]:
    application = build_app(db=db)
    # Routes web/routes.py already wires; appended again they change nothing.
    application.router.routes.extend(booking.routes())
    application.router.routes.extend(_appointment_page())
    async with local_login(application):
        yield application


def _appointment_page() -> list[BaseRoute]:
    """``/timer/{id}``, which the receipt links to (another view module)."""
    return [Route("/timer/{appointment_id}", appointments.detail)]


@pytest.fixture
async def world(app: Starlette) -> World:
    return await make_world(app)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Not logged in; English pages (the msgids), so texts can be compared."""
    async with browser(BASE, httpx.ASGITransport(app=app)) as c:
        c.headers["Accept-Language"] = "en"
        yield c
