"""What the clinic admin's schedule tests share: the week's and the
stranded list's addresses, the form that shrinks the Monday block, a booking
in the world's week, and an appointment stranded by saving that change."""

from __future__ import annotations

from datetime import datetime, time

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from booking import service
from booking.audit import Actor
from booking.models import ScheduleStranding
from core.db import Database
from core.locale import OSLO
from tests.pages import html
from tests.web.schedule_admin.conftest import WeekWorld, slot_at

WEEK = "/staff/klinikk/tannklinikken-majorstuen/uke"
PREVIEW = f"{WEEK}/forhandsvis"
SAVE = f"{WEEK}/lagre"
LIST = "/staff/klinikk/tannklinikken-majorstuen/strandet"


def shrink(world: WeekWorld, **extra: str) -> dict[str, str]:
    return {"kind": "edit", "chair": str(world.chair_id), "block": str(world.template_id),
            "weekday": "0", "starts_at": "08:00", "ends_at": "10:00", "slot_minutes": "30",
            "valid_from": "2020-01-01", "valid_to": "", "released": "1",
            "type": str(world.type_id), **extra}


async def book(app: Starlette, world: WeekWorld, hour: int, minute: int = 0, *,
               patient_id: int | None = None) -> int:
    db: Database = app.state.db
    when = datetime.combine(world.next_monday, time(hour, minute), OSLO)
    slot = await slot_at(db, world.chair_id, when)
    patient_id = patient_id or world.patient_id
    out = await service.book(db, Actor.patient(patient_id), patient_id=patient_id,
                             slot_id=slot.id, appointment_type_id=world.type_id)
    return out.appointment.id


async def strand(app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> list[int]:
    """Book next Monday at 10:30 and save the shrunk block (08:00-10:00), so
    that the appointment is stranded: the ids of the strandings."""
    await book(app, world, 10, 30)
    soup = html(await admin.post(PREVIEW, data=shrink(world)))
    fields = {i["name"]: i["value"] for i in soup.select("#save-form input[type=hidden]")}
    assert (await admin.post(SAVE, data=fields)).status_code == 303
    async with app.state.db.read() as session:
        return list((await session.execute(select(ScheduleStranding.id))).scalars())
