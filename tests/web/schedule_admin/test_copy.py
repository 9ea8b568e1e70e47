"""Copying a chair's week to other chairs: the preview changes nothing, the
save copies once (saving again changes nothing), overlaps and bad input are
refused with a reason, and chairs outside the admin's clinics are 404."""

from __future__ import annotations

from datetime import time, timedelta

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette

from booking.models import ScheduleTemplate, Slot
from booking.statuses import SlotStatus
from core.db import Database
from core.locale import OSLO
from tests import factories
from tests.pages import html
from tests.web.schedule_admin.conftest import StaffBrowser, WeekWorld, audit_actions

BASE = "/staff/klinikk/tannklinikken-majorstuen/uke/kopier"


def copying(world: WeekWorld, *targets: int, **extra: str) -> dict[str, object]:
    return {"source": str(world.chair_id),
            "target": [str(t) for t in targets or (world.other_chair_id,)],
            "valid_from": world.today.isoformat(), **extra}


async def templates_of(db: Database, chair_id: int) -> list[ScheduleTemplate]:
    async with db.read() as session:
        return list((await session.execute(select(ScheduleTemplate).where(
            ScheduleTemplate.chair_id == chair_id))).scalars())


async def free_slots(db: Database, chair_id: int) -> list[Slot]:
    async with db.read() as session:
        return list((await session.execute(select(Slot).where(
            Slot.chair_id == chair_id, Slot.status == SlotStatus.FREE))).scalars())


async def template_count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(ScheduleTemplate))
                   or 0)


def save_fields(response: httpx.Response) -> dict[str, object]:
    fields: dict[str, object] = {"target": []}
    for i in html(response).select("#copy-save-form input[type=hidden]"):
        name, value = str(i["name"]), str(i["value"])
        if name == "target":
            fields["target"].append(value)  # type: ignore[attr-defined]
        else:
            fields[name] = value
    return fields


async def test_the_form_lists_the_admins_chairs_only(admin: httpx.AsyncClient,
                                                     world: WeekWorld) -> None:
    response = await admin.get(f"{BASE}?stol={world.chair_id}")
    assert response.status_code == 200
    choices = {str(i["value"]) for i in html(response).select("input[name=target]")}
    assert choices == {str(world.chair_id), str(world.other_chair_id)}


async def test_preview_changes_nothing_then_save_copies_once(
        app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    db: Database = app.state.db
    response = await admin.post(f"{BASE}/forhandsvis", data=copying(world))
    assert response.status_code == 200, response.text
    row = html(response).select_one(f"#copy-target-{world.other_chair_id}")
    assert row is not None and "Stol 2" in row.get_text()
    assert await templates_of(db, world.other_chair_id) == []
    assert await free_slots(db, world.other_chair_id) == []
    fields = save_fields(response)
    saved = await admin.post(f"{BASE}/lagre", data=fields)
    assert saved.status_code == 303, saved.text
    (copied,) = await templates_of(db, world.other_chair_id)
    assert (copied.weekday, copied.starts_at, copied.ends_at, copied.slot_minutes) == (
        0, time(8), time(12), 30)
    assert copied.valid_from == world.today
    slots = await free_slots(db, world.other_chair_id)
    assert slots
    # Oslo wall-clock time on every Monday, on either side of a DST change.
    for slot in slots:
        local = slot.starts_at.astimezone(OSLO)
        assert local.weekday() == 0 and time(8) <= local.time() < time(12), local
    assert len(await audit_actions(db, "schedule.week.copy")) == 1
    # The same form sent again: nothing more is made.
    before = (await template_count(db), len(slots))
    again = await admin.post(f"{BASE}/lagre", data=fields)
    assert again.status_code == 303
    assert (await template_count(db), len(await free_slots(db, world.other_chair_id))) == before
    assert len(await audit_actions(db, "schedule.week.copy")) == 1


async def test_an_overlapping_block_refuses_with_the_chair_named(
        app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    db: Database = app.state.db
    async with db.write() as session:
        from booking.models import AppointmentType, Chair

        other = await session.get(Chair, world.other_chair_id)
        kind = await session.get(AppointmentType, world.type_id)
        assert other is not None and kind is not None
        await factories.template(session, other, [kind], weekday=0, starts_at=time(11),
                                 ends_at=time(13))
    before = await template_count(db)
    for step in ("forhandsvis", "lagre"):
        response = await admin.post(f"{BASE}/{step}", data=copying(world))
        assert response.status_code == 422, step
        summary = html(response).select_one("#error-summary")
        assert summary is not None
        assert "Stol 2" in summary.get_text() and "11:00" in summary.get_text()
    assert await template_count(db) == before


async def test_bad_input_is_refused_and_nothing_changes(
        app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    db: Database = app.state.db
    before = await template_count(db)
    yesterday = (world.today - timedelta(days=1)).isoformat()
    for data in (copying(world, valid_from=yesterday), copying(world, valid_from="not a day"),
                 copying(world, world.chair_id), {"source": str(world.chair_id),
                                                  "valid_from": world.today.isoformat()},
                 copying(world, source="x"), copying(world, target="abc"),
                 copying(world, fingerprint="forged")):
        for step in ("forhandsvis", "lagre"):
            response = await admin.post(f"{BASE}/{step}", data=data)
            if step == "forhandsvis" and "fingerprint" in data:
                continue
            assert response.status_code in (409, 422), (data, step, response.status_code)
            assert html(response).select_one("#error-summary") is not None
    assert await template_count(db) == before


async def test_chairs_outside_the_admins_clinics_are_404_and_audited(
        app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    db: Database = app.state.db
    before = await template_count(db)
    for data in (copying(world, world.oslo_other_chair_id),
                 copying(world, world.rogaland_chair_id),
                 copying(world, source=str(world.oslo_other_chair_id))):
        response = await admin.post(f"{BASE}/forhandsvis", data=data)
        assert response.status_code == 404
    assert len(await audit_actions(db, "staff.out_of_scope")) == 3
    assert await template_count(db) == before


async def test_a_county_admin_copies_to_another_clinic_of_the_county(
        app: Starlette, staff: StaffBrowser, world: WeekWorld) -> None:
    db: Database = app.state.db
    county = await staff("county-admin-oslo")
    response = await county.post(f"{BASE}/forhandsvis",
                                 data=copying(world, world.oslo_other_chair_id))
    assert response.status_code == 200, response.text
    saved = await county.post(f"{BASE}/lagre", data=save_fields(response))
    assert saved.status_code == 303
    assert len(await templates_of(db, world.oslo_other_chair_id)) == 1
    assert await free_slots(db, world.oslo_other_chair_id)
    refused = await county.post(f"{BASE}/forhandsvis",
                                data=copying(world, world.rogaland_chair_id))
    assert refused.status_code == 404


async def test_a_target_changed_since_the_preview_refuses_the_save(
        app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    from datetime import datetime

    db: Database = app.state.db
    response = await admin.post(f"{BASE}/forhandsvis", data=copying(world))
    fields = save_fields(response)
    # Staff make a slot by hand on the target meanwhile: the copy would make one less.
    start = datetime.combine(world.next_monday, time(8), OSLO)
    async with db.write() as session:
        from booking.models import Chair

        other = await session.get(Chair, world.other_chair_id)
        assert other is not None
        session.add(Slot(clinic_id=other.clinic_id, chair_id=other.id, starts_at=start,
                         ends_at=start + timedelta(minutes=30), status=SlotStatus.FREE,
                         released=True, version=0))
    stale = await admin.post(f"{BASE}/lagre", data=fields)
    assert stale.status_code == 409
    assert html(stale).select_one("#copy-preview") is not None
    assert await templates_of(db, world.other_chair_id) == []
