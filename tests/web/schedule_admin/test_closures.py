"""Closing the clinic or a chair from the week page: preview, save, refusals."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from booking.models import ScheduleException, ScheduleStranding
from core.db import Database
from tests.pages import html
from tests.web.schedule_admin.conftest import WeekWorld, audit_actions
from tests.web.schedule_admin.helpers import book

BASE = "/staff/klinikk/tannklinikken-majorstuen/stenging"


def closing(world: WeekWorld, **extra: str) -> dict[str, str]:
    return {"chair": str(world.chair_id), "scope": "chair",
            "day": world.next_monday.isoformat(), "from": "08:00", "to": "10:00",
            "reason": "Service på stolen", **extra}


async def exceptions(db: Database) -> list[ScheduleException]:
    async with db.read() as session:
        return list((await session.execute(select(ScheduleException))).scalars())


async def test_preview_then_save_a_closure(app: Starlette, admin: httpx.AsyncClient,
                                           world: WeekWorld) -> None:
    db: Database = app.state.db
    await book(app, world, 9)
    response = await admin.post(f"{BASE}/forhandsvis", data=closing(world))
    assert response.status_code == 200
    soup = html(response)
    assert "3" in soup.select_one("#closure-blocked").get_text()  # type: ignore[union-attr]
    assert soup.select_one("#closure-stranded-list") is not None
    assert await exceptions(db) == []
    fields = {str(i["name"]): str(i["value"])
              for i in soup.select("#closure-save-form input[type=hidden]")}
    saved = await admin.post(f"{BASE}/lagre", data=fields)
    assert saved.status_code == 303
    (row,) = await exceptions(db)
    assert row.chair_id == world.chair_id and row.reason == "Service på stolen"
    async with db.read() as session:
        assert (await session.execute(select(ScheduleStranding))).scalars().all()
    assert await audit_actions(db, "schedule.closure.add")
    week = html(await admin.get(saved.headers["location"]))
    assert "Service på stolen" in week.select_one("#day-0").get_text()  # type: ignore[union-attr]


async def test_closures_in_the_past_or_backwards_are_refused(
        app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    db: Database = app.state.db
    yesterday = (world.today - timedelta(days=1)).isoformat()
    for data in (closing(world, day=yesterday), closing(world, **{"from": "10:00", "to": "09:00"}),
                 closing(world, day="not a day"), closing(world, to="25:99")):
        for step in ("forhandsvis", "lagre"):
            response = await admin.post(f"{BASE}/{step}", data=data)
            assert response.status_code == 422, (data, step)
            assert html(response).select_one("#error-summary") is not None
    assert await exceptions(db) == []


async def test_another_clinics_chair_is_404(app: Starlette, admin: httpx.AsyncClient,
                                           world: WeekWorld) -> None:
    response = await admin.post(f"{BASE}/forhandsvis",
                                data=closing(world, chair=str(world.oslo_other_chair_id)))
    assert response.status_code == 404
    response = await admin.post("/staff/klinikk/tannklinikken-grunerlokka/stenging/lagre",
                                data=closing(world))
    assert response.status_code == 404
    assert len(await audit_actions(app.state.db, "staff.out_of_scope")) == 2
    assert await exceptions(app.state.db) == []
