"""Asking patients to move stranded appointments, from the clinic's list, and
the patient's page behind the SMS link (``/t/<token>/flytt``)."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from booking.models import Appointment, ScheduleStranding, Slot
from booking.statuses import AppointmentStatus, StrandingDecision
from core.db import Database
from notifications.models import Notification
from notifications.statuses import Channel, Purpose
from notifications.templates import link_key, links_for
from tests.apps import BASE_URL
from tests.pages import html
from tests.web.auth.helpers import browser
from tests.web.schedule_admin.conftest import WeekWorld, audit_actions
from tests.web.schedule_admin.helpers import LIST, strand


async def _row(db: Database, stranding_id: int) -> ScheduleStranding:
    async with db.read() as session:
        row = await session.get(ScheduleStranding, stranding_id)
        assert row is not None
        return row


async def _ask(admin: httpx.AsyncClient, stranding_id: int) -> list[str]:
    soup = html(await admin.get(LIST))
    form = soup.select_one(f"#ask-{stranding_id}")
    assert form is not None
    ticked = [i["value"] for i in form.select("input[name=slot_id][checked]")]
    assert len(ticked) == 5
    response = await admin.post(f"{LIST}/{stranding_id}/flytt",
                                data={"slot_id": ticked[:3]})
    assert response.status_code == 303
    return ticked[:3]


async def _move_path(app: Starlette, appointment_id: int) -> str:
    async with app.state.db.read() as session:
        notification_id = (await session.execute(select(Notification.id).where(
            Notification.appointment_id == appointment_id,
            Notification.purpose == Purpose.MOVE_REQUEST,
            Notification.channel == Channel.SMS))).scalars().first()
    assert notification_id is not None
    settings = app.state.settings
    links = links_for(settings.public_url, link_key(settings.secret_key), appointment_id,
                      notification_id)
    return links.move.removeprefix(settings.public_url)


async def test_the_admin_asks_and_the_patient_picks(app: Starlette, admin: httpx.AsyncClient,
                                                   world: WeekWorld) -> None:
    db: Database = app.state.db
    (stranding_id,) = await strand(app, admin, world)
    offered = await _ask(admin, stranding_id)
    soup = html(await admin.get(f"{LIST}?ferdig=asked"))
    assert soup.select_one(f"#asked-{stranding_id}") is not None
    assert soup.select_one("#done") is not None
    assert await audit_actions(db, "appointment.stranded.ask_move")
    row = await _row(db, stranding_id)
    path = await _move_path(app, row.appointment_id)
    patient = browser(BASE_URL, httpx.ASGITransport(app=app))
    async with patient:
        page = html(await patient.get(path))
        radios = [i["value"] for i in page.select("#move-form input[name=slot_id]")]
        assert radios == offered
        assert page.select_one("#clinic-phone") is not None
        forged = await patient.get(path[:-8] + "xx/flytt")
        assert forged.status_code == 404
        refused = await patient.post(path, data={"slot_id": "999999"})
        assert refused.status_code == 409
        assert html(refused).select_one("#move-error") is not None
        assert (await _row(db, stranding_id)).decision == StrandingDecision.ASKED
        response = await patient.post(path, data={"slot_id": offered[1]})
        assert response.status_code == 303
        done = html(await patient.get(response.headers["location"]))
        assert done.select_one("#done") is not None
        again = await patient.post(path, data={"slot_id": offered[0]})
        assert again.status_code == 409
    row = await _row(db, stranding_id)
    assert row.decision == StrandingDecision.MOVED
    async with db.read() as session:
        new = await session.get(Appointment, row.moved_to_id)
        assert new is not None and new.status == AppointmentStatus.BOOKED
        assert str(new.slot_id) == offered[1]
        old = await session.get(Appointment, row.appointment_id)
        assert old is not None and old.status == AppointmentStatus.CANCELLED
        slot = await session.get(Slot, int(offered[0]))
        assert slot is not None
    soup = html(await admin.get(LIST))
    assert soup.select_one(f"#moved-{stranding_id}") is not None
    assert soup.select_one("#stranded-empty") is not None


async def test_one_ticked_time_is_not_enough(app: Starlette, admin: httpx.AsyncClient,
                                             world: WeekWorld) -> None:
    (stranding_id,) = await strand(app, admin, world)
    soup = html(await admin.get(LIST))
    form = soup.select_one(f"#ask-{stranding_id}")
    assert form is not None
    first = form.select("input[name=slot_id]")[0]["value"]
    response = await admin.post(f"{LIST}/{stranding_id}/flytt", data={"slot_id": first})
    assert response.status_code == 422
    assert html(response).select_one("#error-summary") is not None
    assert (await _row(app.state.db, stranding_id)).decision == StrandingDecision.WAITING


async def test_ask_all_and_an_unknown_one(app: Starlette, admin: httpx.AsyncClient,
                                          world: WeekWorld) -> None:
    (stranding_id,) = await strand(app, admin, world)
    unknown = await admin.post(f"{LIST}/999999/flytt", data={"slot_id": ["1", "2"]})
    assert unknown.status_code == 404
    assert await audit_actions(app.state.db, "staff.out_of_scope")
    response = await admin.post(f"{LIST}/flytt-alle")
    assert response.status_code == 303
    assert (await _row(app.state.db, stranding_id)).decision == StrandingDecision.ASKED
