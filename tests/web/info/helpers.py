"""The profile and information pages' app (the login routes, the local
ID-porten and these pages, wired as web/routes.py and web/app.py wire them), and reading
the patient's row and audit entries."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from booking.models import AuditEntry, Patient
from core.db import Database
from notifications import number_check
from notifications.models import NumberCheck
from notifications.templates import link_key
from tests.apps import BASE_URL
from tests.web.auth.helpers import ADULT_PID, browser, login
from web.views import info, profile

BASE = BASE_URL


def wire(app: Starlette) -> Starlette:
    """These pages and the locale middleware, as web/routes.py and web/app.py add them."""
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


async def code_sent(app: Starlette, db: Database, patient_id: int) -> str:
    """The code of the patient's newest number check, as the SMS carries it."""
    async with db.read() as tx:
        nonce = (await tx.execute(
            select(NumberCheck.nonce).where(NumberCheck.patient_id == patient_id)
            .order_by(NumberCheck.id.desc()).limit(1))).scalar_one()
    key = number_check.check_key(link_key(app.state.settings.secret_key))
    return number_check.code_for(key, nonce)


async def give_mobile(app: Starlette, client: httpx.AsyncClient, db: Database,
                      patient_id: int, typed: str) -> httpx.Response:
    """Enter ``typed`` on the profile and type back the code sent to it."""
    asked = await client.post(profile.MOBILE_PATH, data={profile.MOBILE_FIELD: typed})
    assert asked.status_code == 303, asked.text
    assert asked.headers["location"] == profile.CODE_PATH
    code = await code_sent(app, db, patient_id)
    return await client.post(profile.CODE_PATH, data={profile.CODE_FIELD: code})
