"""The clinic admin's week: the grid, the preview that changes nothing, the
save, bad input, a booking racing the save, and scope on every route."""

from __future__ import annotations

from datetime import time

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette

from booking.models import ScheduleStranding, ScheduleTemplate, Slot
from booking.statuses import SlotStatus
from core.db import Database
from tests.pages import html
from tests.web.schedule_admin.conftest import (
    StaffBrowser,
    WeekWorld,
    audit_actions,
)
from tests.web.schedule_admin.helpers import PREVIEW, SAVE, WEEK, book, shrink


async def template_end(db: Database, world: WeekWorld) -> time:
    async with db.read() as session:
        row = await session.get(ScheduleTemplate, world.template_id)
        assert row is not None
        return row.ends_at


async def slot_count(db: Database, world: WeekWorld) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Slot).where(
            Slot.chair_id == world.chair_id, Slot.status == SlotStatus.FREE)) or 0)


async def test_the_week_grid_shows_the_chairs_blocks(admin: httpx.AsyncClient,
                                                     world: WeekWorld) -> None:
    response = await admin.get(WEEK)
    assert response.status_code == 200
    soup = html(response)
    block = soup.select_one(f"#block-{world.template_id}")
    assert block is not None and "08:00–12:00" in block.get_text()
    assert soup.select_one("#new-form") is not None
    assert soup.select_one(f"#b{world.template_id}-form") is not None
    # Forms work without JavaScript and carry htmx only as data-hx-*.
    form = soup.select_one("#new-form")
    assert form is not None and form["action"] == PREVIEW and form.get("data-hx-post") == PREVIEW


async def test_public_holidays_are_shown(admin: httpx.AsyncClient, world: WeekWorld) -> None:
    soup = html(await admin.get(f"{WEEK}?stol={world.chair_id}&fra=2026-12-21"))
    assert "Første juledag" in soup.select_one("#day-4").get_text()  # type: ignore[union-attr]


async def test_preview_changes_nothing_and_save_does(app: Starlette, admin: httpx.AsyncClient,
                                                    world: WeekWorld) -> None:
    db: Database = app.state.db
    appointment_id = await book(app, world, 11)
    before = await slot_count(db, world)
    response = await admin.post(PREVIEW, data=shrink(world))
    assert response.status_code == 200
    soup = html(response)
    assert soup.select_one("#preview-stranded-list") is not None
    assert "1" in soup.select_one("#preview-stranded").get_text()  # type: ignore[union-attr]
    assert await template_end(db, world) == time(12)
    assert await slot_count(db, world) == before
    fields = {i["name"]: i["value"] for i in soup.select("#save-form input[type=hidden]")}
    saved = await admin.post(SAVE, data=fields)
    assert saved.status_code == 303
    assert await template_end(db, world) == time(10)
    async with db.read() as session:
        stranding = (await session.execute(select(ScheduleStranding))).scalar_one()
    assert stranding.appointment_id == appointment_id
    assert await audit_actions(db, "schedule.block.edit")
    listed = html(await admin.get("/staff/klinikk/tannklinikken-majorstuen/strandet"))
    assert listed.select_one(f"#stranded-{stranding.id}") is not None


async def test_htmx_preview_is_a_fragment(admin: httpx.AsyncClient, world: WeekWorld) -> None:
    response = await admin.post(PREVIEW, data=shrink(world),
                                headers={"HX-Request": "true", "HX-Target": "week-preview"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert html(response).select_one("#save-form") is not None


async def test_bad_input_is_refused_with_a_reason(app: Starlette, admin: httpx.AsyncClient,
                                                  world: WeekWorld) -> None:
    db: Database = app.state.db
    cases = {"ends_at": "07:00", "slot_minutes": "45", "starts_at": "nonsense"}
    for name, value in cases.items():
        response = await admin.post(PREVIEW, data=shrink(world, **{name: value}))
        assert response.status_code == 422, name
        assert html(response).select_one("#error-summary") is not None
    overlap = {"kind": "add", "chair": str(world.chair_id), "weekday": "0",
               "starts_at": "11:00", "ends_at": "13:00", "slot_minutes": "30",
               "valid_from": world.today.isoformat(), "type": str(world.type_id)}
    response = await admin.post(PREVIEW, data=overlap)
    assert response.status_code == 422
    assert "overlaps" in html(response).select_one("#error-summary").get_text()  # type: ignore[union-attr]
    past = {**overlap, "starts_at": "13:00", "ends_at": "14:00", "valid_from": "2020-01-01"}
    assert (await admin.post(PREVIEW, data=past)).status_code == 422
    assert (await admin.post(SAVE, data=past)).status_code == 422
    assert await template_end(db, world) == time(12)


async def test_a_booking_after_the_preview_is_never_stranded_unseen(
        app: Starlette, admin: httpx.AsyncClient, world: WeekWorld) -> None:
    db: Database = app.state.db
    soup = html(await admin.post(PREVIEW, data=shrink(world)))
    fields = {i["name"]: i["value"] for i in soup.select("#save-form input[type=hidden]")}
    await book(app, world, 10, 30)
    response = await admin.post(SAVE, data=fields)
    assert response.status_code == 409
    assert html(response).select_one("#preview-stranded-list") is not None
    assert await template_end(db, world) == time(12)


async def test_other_clinics_and_counties_are_404_and_audited(
        app: Starlette, staff: StaffBrowser, world: WeekWorld) -> None:
    db: Database = app.state.db
    admin = await staff("clinic-admin-majorstuen")
    for path in ("/staff/klinikk/tannklinikken-grunerlokka/uke",
                 "/staff/klinikk/tannklinikken-stavanger-sentrum/uke",
                 "/staff/klinikk/tannklinikken-grunerlokka/strandet",
                 f"{WEEK}?stol={world.oslo_other_chair_id}",
                 f"{WEEK}?stol={world.rogaland_chair_id}"):
        assert (await admin.get(path)).status_code == 404, path
    posts = [("/staff/klinikk/tannklinikken-stavanger-sentrum/uke/forhandsvis", shrink(world)),
             ("/staff/klinikk/tannklinikken-grunerlokka/uke/lagre", shrink(world)),
             (PREVIEW, shrink(world, chair=str(world.oslo_other_chair_id))),
             (SAVE, shrink(world, chair=str(world.rogaland_chair_id))),
             ("/staff/klinikk/tannklinikken-majorstuen/strandet/999/behold", {}),
             ("/staff/klinikk/tannklinikken-grunerlokka/strandet/1/avlys", {"reason": "x"})]
    for path, data in posts:
        assert (await admin.post(path, data=data)).status_code == 404, path
    assert len(await audit_actions(db, "staff.out_of_scope")) == 11
    assert await template_end(db, world) == time(12)
    county = await staff("county-admin-oslo")
    assert (await county.get("/staff/klinikk/tannklinikken-grunerlokka/uke")).status_code == 200
    rogaland = await staff("county-admin-rogaland")
    assert (await rogaland.get(WEEK)).status_code == 404
    reception = await staff("reception-grunerlokka")
    assert (await reception.get("/staff/klinikk/tannklinikken-grunerlokka/uke")).status_code == 403


async def test_htmx_save_swaps_the_saved_grid(app: Starlette, admin: httpx.AsyncClient,
                                              world: WeekWorld) -> None:
    add = {"kind": "add", "chair": str(world.chair_id), "weekday": "6", "starts_at": "08:00",
           "ends_at": "12:00", "slot_minutes": "30", "valid_from": world.today.isoformat(),
           "valid_to": "", "type": str(world.type_id)}
    headers = {"HX-Request": "true", "HX-Target": "week-preview"}
    soup = html(await admin.post(PREVIEW, data=add, headers=headers))
    fields: dict[str, list[str]] = {}
    for field in soup.select("#save-form input[type=hidden]"):
        fields.setdefault(str(field["name"]), []).append(str(field["value"]))
    response = await admin.post(SAVE, data=fields,
                                headers={"HX-Request": "true", "HX-Target": "week-panel"})
    assert response.status_code == 200, response.text
    saved = html(response)
    assert saved.select_one("#saved") is not None
    assert "<html" not in response.text


async def test_the_start_page_lists_the_clinics_in_scope(staff: StaffBrowser,
                                                        world: WeekWorld) -> None:
    admin = await staff("clinic-admin-majorstuen")
    links = [a["href"] for a in html(await admin.get("/staff/ukeplaner")).select("#clinic-list a")]
    assert links == [WEEK]
    county = await staff("county-admin-oslo")
    links = [a["href"] for a in html(await county.get("/staff/ukeplaner")).select("#clinic-list a")]
    assert len(links) == 2 and WEEK in links
    reception = await staff("reception-grunerlokka")
    assert (await reception.get("/staff/ukeplaner")).status_code == 403
    # The staff login lands a clinic admin there.
    landing = await admin.get("/staff")
    assert landing.status_code == 303 and landing.headers["location"] == "/staff/ukeplaner"
