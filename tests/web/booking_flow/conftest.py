"""An app with the login routes and the booking pages on the ``db`` fixture's
database (SQLite and PostgreSQL), a browser-like client that has logged in
through the local test ID-porten, and a small world to book in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from core.db import Database
from tests.web.auth.helpers import browser, build_app
from tests.web.booking_flow.world import World, make_world
from web.auth.services import install
from web.views import booking
from web.views.patient import appointments

BASE = "http://127.0.0.1:8000"


@pytest.fixture
async def app(tmp_path: Path, db: Database) -> AsyncIterator[Starlette]:
    application = build_app(tmp_path, BASE)
    await application.state.db.dispose()
    application.state.db = db
    # What the lead wires into web/routes.py.
    application.router.routes.extend(booking.routes())
    application.router.routes.extend(_appointment_page())
    transport = httpx.ASGITransport(app=application)
    backchannel = httpx.AsyncClient(transport=transport)
    install(application, http=backchannel)
    yield application
    await backchannel.aclose()


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
