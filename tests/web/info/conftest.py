"""Fixtures for the profile and information pages: an app with the login
routes and the local ID-porten (as ``tests/web/auth``), these pages' routes
and the language middleware added the way the lead wires them, on the ``db``
fixture's database; a browser-like client; and helpers to log in and read
the patient's row and audit entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from booking.models import AuditEntry, Patient
from core.db import Database
from tests.web.auth.helpers import ADULT_PID, browser, build_app, login
from web.auth.services import install
from web.views import info, profile

BASE = "http://127.0.0.1:8000"


def wire(app: Starlette) -> Starlette:
    """What web/routes.py and web/app.py get (see the report to the lead)."""
    app.router.routes.extend([*profile.routes(), *info.routes()])
    app.add_middleware(profile.PreferredLocaleMiddleware)
    return app


@pytest.fixture
async def app(tmp_path: Path, db: Database) -> AsyncIterator[Starlette]:
    application = wire(build_app(tmp_path, BASE))
    await application.state.db.dispose()
    application.state.db = db
    backchannel = httpx.AsyncClient(transport=httpx.ASGITransport(app=application))
    install(application, http=backchannel)
    yield application
    await backchannel.aclose()


def new_browser(app: Starlette, language: str = "en") -> httpx.AsyncClient:
    """A fresh browser whose Accept-Language is ``language``."""
    client = browser(BASE, httpx.ASGITransport(app=app))
    client.headers["Accept-Language"] = language
    return client


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with new_browser(app) as c:
        yield c


async def log_in(client: httpx.AsyncClient, pid: str = ADULT_PID) -> int:
    """Log in through the local ID-porten; the patient's id."""
    response = await login(client, pid)
    assert response.status_code == 303, response.text
    me = await client.get("/test/me")
    assert me.status_code == 200
    return int(me.json()["patient_id"])


@pytest.fixture
async def patient_id(client: httpx.AsyncClient) -> int:
    """The synthetic adult, logged in (in English: the browser asks for it)."""
    return await log_in(client)


async def patient_row(db: Database, patient_id: int) -> Patient:
    async with db.read() as tx:
        row = await tx.get(Patient, patient_id)
        assert row is not None
        return row


async def set_patient(db: Database, patient_id: int, **values: object) -> None:
    async with db.write() as tx:
        row = await tx.get(Patient, patient_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


async def audit_entries(db: Database, action_prefix: str = "profile.") -> list[AuditEntry]:
    async with db.read() as tx:
        return list((await tx.execute(
            select(AuditEntry).where(AuditEntry.action.startswith(action_prefix))
            .order_by(AuditEntry.id))).scalars())
