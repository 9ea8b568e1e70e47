"""Chairs (add, rename, deactivate after the list, activate) and opening or
withdrawing days for online booking."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette

from booking.models import Chair, ScheduleStranding, Slot
from booking.statuses import SlotStatus
from core.db import Database
from tests import factories
from tests.pages import html
from tests.web.schedule_admin.conftest import WeekWorld, audit_actions
from tests.web.schedule_admin.helpers import book

CHAIRS = "/staff/klinikk/tannklinikken-majorstuen/stoler"
RELEASE = "/staff/klinikk/tannklinikken-majorstuen/uke/apne"


async def chair(db: Database, chair_id: int) -> Chair:
    async with db.read() as session:
        row = await session.get(Chair, chair_id)
        assert row is not None
        return row


async def test_add_and_rename(app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    db: Database = app.state.db
    assert (await admin.post(f"{CHAIRS}/ny", data={"name": "Rom 3"})).status_code == 303
    assert (await admin.post(f"{CHAIRS}/ny", data={"name": "rom 3"})).status_code == 422
    assert (await admin.post(f"{CHAIRS}/ny", data={"name": "  "})).status_code == 422
    response = await admin.post(f"{CHAIRS}/{world.chair_id}/navn", data={"name": "Stol 2"})
    assert response.status_code == 422
    assert html(response).select_one("#error-summary") is not None
    response = await admin.post(f"{CHAIRS}/{world.chair_id}/navn", data={"name": "Barnerommet"})
    assert response.status_code == 303
    assert (await chair(db, world.chair_id)).name == "Barnerommet"
    assert await audit_actions(db, "chair.add") and await audit_actions(db, "chair.rename")


async def test_deactivate_lists_appointments_first(app: Starlette, admin: httpx.AsyncClient,
                                                   world: WeekWorld) -> None:
    db: Database = app.state.db
    await book(app, world, 9)
    response = await admin.post(f"{CHAIRS}/{world.chair_id}/deaktiver")
    assert response.status_code == 200
    soup = html(response)
    assert len(soup.select("#confirm-list tbody tr")) == 1
    assert (await chair(db, world.chair_id)).active
    seen = soup.select_one("#confirm input[name=seen]")["value"]  # type: ignore[index]
    async with db.write() as session:
        other = await factories.patient(session, date(1990, 2, 3), given_name="Per")
    await book(app, world, 10, patient_id=other.id)  # booked after the list was shown
    stale = await admin.post(f"{CHAIRS}/{world.chair_id}/deaktiver", data={"seen": seen})
    assert stale.status_code == 409
    assert len(html(stale).select("#confirm-list tbody tr")) == 2
    assert (await chair(db, world.chair_id)).active
    seen = html(stale).select_one("#confirm input[name=seen]")["value"]  # type: ignore[index]
    done = await admin.post(f"{CHAIRS}/{world.chair_id}/deaktiver", data={"seen": seen})
    assert done.status_code == 303
    assert not (await chair(db, world.chair_id)).active
    async with db.read() as session:
        assert len((await session.execute(select(ScheduleStranding))).scalars().all()) == 2
        free = await session.scalar(select(func.count()).select_from(Slot).where(
            Slot.chair_id == world.chair_id, Slot.status == SlotStatus.FREE))
    assert free == 0
    assert (await admin.post(f"{CHAIRS}/{world.chair_id}/aktiver")).status_code == 303
    assert (await chair(db, world.chair_id)).active


async def test_another_clinics_chair_is_404(app: Starlette, admin: httpx.AsyncClient,
                                           world: WeekWorld) -> None:
    for action, data in (("navn", {"name": "X"}), ("deaktiver", {}), ("aktiver", {})):
        response = await admin.post(f"{CHAIRS}/{world.oslo_other_chair_id}/{action}", data=data)
        assert response.status_code == 404
    assert len(await audit_actions(app.state.db, "staff.out_of_scope")) == 3
    assert (await chair(app.state.db, world.oslo_other_chair_id)).name == "Stol 1"


async def test_withdraw_and_release_days(app: Starlette, admin: httpx.AsyncClient,
                                         world: WeekWorld) -> None:
    db: Database = app.state.db
    monday = world.next_monday.isoformat()
    form = {"chair": str(world.chair_id), "scope": "chair", "action": "withdraw",
            "first": monday, "last": monday}
    response = await admin.post(RELEASE, data=form)
    assert response.status_code == 303
    assert "withdraw=8" in response.headers["location"]
    async with db.read() as session:
        withdrawn = await session.scalar(select(func.count()).select_from(Slot).where(
            Slot.chair_id == world.chair_id, Slot.released.is_(False)))
    assert withdrawn == 8
    response = await admin.post(RELEASE, data={**form, "action": "release"})
    assert "release=8" in response.headers["location"]
    yesterday = (world.today - timedelta(days=1)).isoformat()
    for bad in ({"first": yesterday, "last": yesterday}, {"first": monday, "last": yesterday},
                {"first": "x"}):
        assert (await admin.post(RELEASE, data={**form, **bad})).status_code == 422
    other = {**form, "chair": str(world.rogaland_chair_id)}
    assert (await admin.post(RELEASE, data=other)).status_code == 404
    page = html(await admin.get(f"{CHAIRS}"))
    assert page.select_one(f"#chair-{world.chair_id}") is not None
