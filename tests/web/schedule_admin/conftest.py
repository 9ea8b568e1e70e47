"""An app with the staff login on both database engines, and a small world:
Majorstuen (the demo clinic admin's clinic) with two chairs and a week of
blocks, Grünerløkka (another clinic of Oslo) and Stavanger (Rogaland)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from booking import schedule
from booking.models import AuditEntry, Slot
from core.db import Database, utcnow
from core.locale import OSLO
from tests import factories
from tests.apps import BASE_URL
from tests.databases import world_from_template
from tests.web.auth.helpers import browser, build_app, local_login, login

StaffBrowser = Callable[[str], Awaitable[httpx.AsyncClient]]
ADMIN = "clinic-admin-majorstuen"


@dataclass(frozen=True)
class WeekWorld:
    clinic_id: int
    chair_id: int
    other_chair_id: int
    template_id: int
    type_id: int
    patient_id: int
    oslo_other_chair_id: int
    rogaland_chair_id: int
    today: date

    @property
    def next_monday(self) -> date:
        return self.today + timedelta(days=7 - self.today.weekday())


@pytest.fixture
async def app(db: Database) -> AsyncIterator[Starlette]:
    async with local_login(build_app(db=db)) as application:
        yield application


@pytest.fixture
async def world(app: Starlette) -> WeekWorld:
    db: Database = app.state.db
    return await world_from_template(db, "schedule_admin", lambda: _build_world(db))


async def _build_world(db: Database) -> WeekWorld:
    async with db.write() as session:
        oslo = await factories.county(session, code="03", name="Oslo")
        rogaland = await factories.county(session, code="11", name="Rogaland")
        majorstuen = await factories.clinic(session, oslo, name="Tannklinikken Majorstuen",
                                            slug="tannklinikken-majorstuen")
        grunerlokka = await factories.clinic(session, oslo, name="Tannklinikken Grünerløkka",
                                             slug="tannklinikken-grunerlokka")
        stavanger = await factories.clinic(session, rogaland, name="Tannklinikken Stavanger",
                                           slug="tannklinikken-stavanger-sentrum")
        chair = await factories.chair(session, majorstuen, name="Stol 1")
        other = await factories.chair(session, majorstuen, name="Stol 2")
        oslo_other = await factories.chair(session, grunerlokka, name="Stol 1")
        rogaland_chair = await factories.chair(session, stavanger, name="Stol 1")
        kind = await factories.appointment_type(session, oslo.id)
        template = await factories.template(session, chair, [kind], weekday=0,
                                            starts_at=time(8), ends_at=time(12),
                                            slot_minutes=30)
        patient = await factories.patient(session, date(1980, 5, 17), given_name="Kari")
    today = utcnow().astimezone(OSLO).date()
    await schedule.generate_slots(db, start=today, weeks=12)
    return WeekWorld(majorstuen.id, chair.id, other.id, template.id, kind.id, patient.id,
                     oslo_other.id, rogaland_chair.id, today)


@pytest.fixture
async def staff(app: Starlette) -> AsyncIterator[StaffBrowser]:
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
async def admin(staff: StaffBrowser, world: WeekWorld) -> httpx.AsyncClient:
    return await staff(ADMIN)


async def audit_actions(db: Database, action: str) -> list[AuditEntry]:
    async with db.read() as session:
        return list((await session.execute(
            select(AuditEntry).where(AuditEntry.action == action)
            .order_by(AuditEntry.id))).scalars())


async def slot_at(db: Database, chair_id: int, when: datetime) -> Slot:
    async with db.read() as session:
        return (await session.execute(select(Slot).where(
            Slot.chair_id == chair_id, Slot.starts_at == when))).scalar_one()
