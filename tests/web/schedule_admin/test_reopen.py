"""Removing a closure: listed while it has not begun, previewed with the
slots it gives back (nothing changes), removed once on confirmation; begun
closures and other clinics' closures are refused."""

from __future__ import annotations

from datetime import datetime, time

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from booking import schedule_changes
from booking.audit import Actor
from booking.models import ScheduleException, Slot
from booking.statuses import SlotStatus
from core.db import Database, utcnow
from core.locale import OSLO
from tests.pages import html
from tests.web.schedule_admin.conftest import WeekWorld, audit_actions

BASE = "/staff/klinikk/tannklinikken-majorstuen/stenginger"
ACTOR = Actor.staff("test", {1})


async def close(app: Starlette, world: WeekWorld, clinic_id: int | None = None,
                chair_id: int | None = None, *, day: object = None,
                starts: time | None = time(8), ends: time | None = time(10)) -> int:
    db: Database = app.state.db
    clinic_id = clinic_id or world.clinic_id
    closure = schedule_changes.closure_of(day or world.next_monday, starts, ends,  # type: ignore[arg-type]
                                          chair_id=chair_id, reason="Kurs", now=utcnow())
    plan = await schedule_changes.preview_closure(db, clinic_id=clinic_id, closure=closure)
    await schedule_changes.apply_closure(db, ACTOR, clinic_id=clinic_id, closure=closure,
                                         fingerprint=plan.fingerprint)
    async with db.read() as session:
        return int(await session.scalar(select(ScheduleException.id).where(
            ScheduleException.clinic_id == clinic_id).order_by(ScheduleException.id.desc()))
            or 0)


async def statuses(db: Database, world: WeekWorld) -> list[str]:
    start = datetime.combine(world.next_monday, time(8), OSLO)
    end = datetime.combine(world.next_monday, time(10), OSLO)
    async with db.read() as session:
        return [str(s) for s in (await session.execute(select(Slot.status).where(
            Slot.chair_id == world.chair_id, Slot.starts_at >= start, Slot.starts_at < end)
            .order_by(Slot.starts_at))).scalars()]


async def exception_ids(db: Database) -> list[int]:
    async with db.read() as session:
        return list((await session.execute(select(ScheduleException.id))).scalars())


async def test_preview_changes_nothing_then_remove_gives_the_slots_back(
        app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    db: Database = app.state.db
    closure_id = await close(app, world, chair_id=world.chair_id)
    blocked = await statuses(db, world)
    assert blocked == [str(SlotStatus.BLOCKED)] * 4
    listing = html(await admin.get(BASE))
    assert listing.select_one(f"#closure-{closure_id}") is not None
    response = await admin.post(f"{BASE}/{closure_id}/fjern/forhandsvis")
    assert response.status_code == 200, response.text
    soup = html(response)
    assert "4" in soup.select_one("#reopen-count").get_text()  # type: ignore[union-attr]
    assert len(soup.select("#reopen-slots tbody tr")) == 4
    assert await statuses(db, world) == blocked
    assert await exception_ids(db) == [closure_id]
    fingerprint = str(soup.select_one("#reopen-save-form input[name=fingerprint]")["value"])  # type: ignore[index]
    saved = await admin.post(f"{BASE}/{closure_id}/fjern/lagre",
                             data={"fingerprint": fingerprint})
    assert saved.status_code == 303
    assert await exception_ids(db) == []
    assert await statuses(db, world) == [str(SlotStatus.FREE)] * 4
    assert len(await audit_actions(db, "schedule.closure.remove")) == 1
    # Sent again: refused with a reason, nothing changes.
    again = await admin.post(f"{BASE}/{closure_id}/fjern/lagre",
                             data={"fingerprint": fingerprint})
    assert again.status_code == 422
    assert html(again).select_one("#error-summary") is not None
    assert len(await audit_actions(db, "schedule.closure.remove")) == 1
    assert await statuses(db, world) == [str(SlotStatus.FREE)] * 4


async def test_a_forged_fingerprint_or_a_begun_closure_changes_nothing(
        app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    db: Database = app.state.db
    closure_id = await close(app, world)
    response = await admin.post(f"{BASE}/{closure_id}/fjern/lagre",
                                data={"fingerprint": "forged"})
    assert response.status_code == 409
    assert html(response).select_one("#reopen-preview") is not None
    begun = await close(app, world, day=world.today, starts=None, ends=None)
    listing = html(await admin.get(BASE))
    assert listing.select_one(f"#closure-{begun}") is None
    for step in ("forhandsvis", "lagre"):
        refused = await admin.post(f"{BASE}/{begun}/fjern/{step}", data={"fingerprint": "x"})
        assert refused.status_code == 422
        assert html(refused).select_one("#error-summary") is not None
    missing = await admin.post(f"{BASE}/999999/fjern/forhandsvis")
    assert missing.status_code == 422
    assert sorted(await exception_ids(db)) == sorted([closure_id, begun])


async def test_another_clinics_closure_is_404_and_audited(
        app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    db: Database = app.state.db
    async with db.read() as session:
        from booking.models import Chair

        other_clinic = (await session.get(Chair, world.oslo_other_chair_id)).clinic_id  # type: ignore[union-attr]
    closure_id = await close(app, world, clinic_id=other_clinic)
    for step in ("forhandsvis", "lagre"):
        response = await admin.post(f"{BASE}/{closure_id}/fjern/{step}",
                                    data={"fingerprint": "x"})
        assert response.status_code == 404
    assert len(await audit_actions(db, "staff.out_of_scope")) == 2
    assert await exception_ids(db) == [closure_id]


async def test_a_booked_appointment_in_the_closure_stays_booked_and_listed(
        app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    from booking.models import Appointment, ScheduleStranding
    from tests.web.schedule_admin.helpers import book

    db: Database = app.state.db
    appointment_id = await book(app, world, 9)
    closure_id = await close(app, world, chair_id=world.chair_id)
    response = await admin.post(f"{BASE}/{closure_id}/fjern/forhandsvis")
    assert len(html(response).select("#reopen-slots tbody tr")) == 3
    fingerprint = str(html(response).select_one(  # type: ignore[index]
        "#reopen-save-form input[name=fingerprint]")["value"])
    saved = await admin.post(f"{BASE}/{closure_id}/fjern/lagre",
                             data={"fingerprint": fingerprint})
    assert saved.status_code == 303
    async with db.read() as session:
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None and appointment.status == "booked"
        (stranding,) = (await session.execute(select(ScheduleStranding))).scalars()
        assert stranding.appointment_id == appointment_id
    assert sorted(await statuses(db, world)) == sorted(
        [str(SlotStatus.FREE)] * 3 + [str(SlotStatus.BOOKED)])
