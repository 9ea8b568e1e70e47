"""Appointment types for county admins: add, change, bad input, scope."""

from __future__ import annotations

from starlette.applications import Starlette

from booking.models import AppointmentType
from core.db import Database
from tests.pages import html
from tests.web.schedule_admin.conftest import StaffBrowser, WeekWorld, audit_actions

PATH = "/staff/fylke/timetyper"


def settings(**extra: str) -> dict[str, str]:
    return {"name_nb": "Fluorlakkering", "name_nn": "Fluorlakkering", "name_en": "Fluoride",
            "name_se": "Fluoridalakka", "duration_minutes": "20", "min_age": "3",
            "max_age": "18", "booking_horizon_days": "60", "min_notice_hours": "4",
            "change_cutoff_hours": "24", "max_self_reschedules": "1", "self_bookable": "1",
            **extra}


async def kind(db: Database, type_id: int) -> AppointmentType:
    async with db.read() as session:
        row = await session.get(AppointmentType, type_id)
        assert row is not None
        return row


async def test_county_admin_adds_and_changes_types(app: Starlette, staff: StaffBrowser,
                                                   world: WeekWorld) -> None:
    db: Database = app.state.db
    county = await staff("county-admin-oslo")
    page = await county.get(PATH)
    assert page.status_code == 200
    assert html(page).select_one(f"#type-{world.type_id}") is not None
    added = await county.post(f"{PATH}/ny", data={"code": "fluor", **settings()})
    assert added.status_code == 303
    assert (await county.post(f"{PATH}/ny", data={"code": "fluor", **settings()})
            ).status_code == 422
    changed = await county.post(f"{PATH}/{world.type_id}",
                                data=settings(duration_minutes="45", max_age=""))
    assert changed.status_code == 303
    row = await kind(db, world.type_id)
    assert row.duration_minutes == 45 and row.max_age is None and row.names["se"]
    assert not row.late_cancellation_fee
    for bad in (settings(name_se=""), settings(min_age="20", max_age="10"),
                settings(duration_minutes="2"), settings(min_notice_hours="x")):
        response = await county.post(f"{PATH}/{world.type_id}", data=bad)
        assert response.status_code == 422
        assert html(response).select_one("#error-summary") is not None
    assert (await kind(db, world.type_id)).duration_minutes == 45
    assert await audit_actions(db, "appointment_type.update")


async def test_types_are_for_county_admins_of_their_county(
        app: Starlette, staff: StaffBrowser, world: WeekWorld) -> None:
    clinic_admin = await staff("clinic-admin-majorstuen")
    assert (await clinic_admin.get(PATH)).status_code == 403
    rogaland = await staff("county-admin-rogaland")
    response = await rogaland.post(f"{PATH}/{world.type_id}", data=settings())
    assert response.status_code == 404
    assert await audit_actions(app.state.db, "staff.out_of_scope")
    assert (await kind(app.state.db, world.type_id)).duration_minutes == 30
