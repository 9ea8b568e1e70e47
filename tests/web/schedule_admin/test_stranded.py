"""The list of appointments waiting for a decision: keep or cancel with a reason."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from booking.models import Appointment, ScheduleStranding
from booking.statuses import AppointmentStatus, StrandingDecision
from core.db import Database
from tests.pages import html
from tests.web.schedule_admin.conftest import WeekWorld, audit_actions
from tests.web.schedule_admin.helpers import LIST, strand


async def test_keep_as_exception(app: Starlette, admin: httpx.AsyncClient,
                                 world: WeekWorld) -> None:
    (stranding_id,) = await strand(app, admin, world)
    response = await admin.post(f"{LIST}/{stranding_id}/behold")
    assert response.status_code == 303
    soup = html(await admin.get(response.headers["location"]))
    assert soup.select_one("#stranded-empty") is not None
    assert await audit_actions(app.state.db, "appointment.stranded.keep")


async def test_cancel_needs_a_reason(app: Starlette, admin: httpx.AsyncClient,
                                     world: WeekWorld) -> None:
    db: Database = app.state.db
    (stranding_id,) = await strand(app, admin, world)
    response = await admin.post(f"{LIST}/{stranding_id}/avlys", data={"reason": "  "})
    assert response.status_code == 422
    assert html(response).select_one("#error-summary") is not None
    response = await admin.post(f"{LIST}/{stranding_id}/avlys",
                                data={"reason": "Tannlegen er syk"})
    assert response.status_code == 303
    async with db.read() as session:
        row = await session.get(ScheduleStranding, stranding_id)
        assert row is not None and row.decision == StrandingDecision.CANCELLED
        appointment = await session.get(Appointment, row.appointment_id)
        assert appointment is not None and appointment.status == AppointmentStatus.CANCELLED
        assert appointment.cancellation_reason == "Tannlegen er syk"
