"""The profile and information pages' app (the login routes, the local
ID-porten and these pages, wired the way the lead wires them), and reading
the patient's row and audit entries."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from booking.models import AuditEntry, Patient
from core.db import Database
from tests.apps import BASE_URL
from tests.web.auth.helpers import ADULT_PID, browser, login
from web.views import info, profile

BASE = BASE_URL


def wire(app: Starlette) -> Starlette:
    """What web/routes.py and web/app.py get (see the report to the lead)."""
    app.router.routes.extend([*profile.routes(), *info.routes()])
    app.add_middleware(profile.PreferredLocaleMiddleware)
    return app


def new_browser(app: Starlette, language: str = "en") -> httpx.AsyncClient:
    """A fresh browser whose Accept-Language is ``language``."""
    client = browser(BASE, httpx.ASGITransport(app=app))
    client.headers["Accept-Language"] = language
    return client


async def log_in(client: httpx.AsyncClient, pid: str = ADULT_PID) -> int:
    """Log in through the local ID-porten; the patient's id."""
    response = await login(client, pid)
    assert response.status_code == 303, response.text
    me = await client.get("/test/me")
    assert me.status_code == 200
    return int(me.json()["patient_id"])


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
