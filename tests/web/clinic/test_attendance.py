"""Marking arrived, completed or no-show at the desk, and undoing a mark the
same Oslo day; every change audited, every refusal changing nothing."""

from __future__ import annotations

import pytest

from booking.statuses import AppointmentStatus
from tests.web.clinic.world import GRUNERLOKKA, ClinicWorld, appointment, audit_rows


def _base(appointment_id: int) -> str:
    return f"/staff/klinikk/{GRUNERLOKKA}/time/{appointment_id}"


async def test_mark_no_show_and_undo_it(app, reception, world: ClinicWorld):
    db = app.state.db
    response = await reception.post(f"{_base(world.now_id)}/merk", data={"mark": "no_show"})
    assert response.status_code == 303
    assert response.headers["location"] == f"{_base(world.now_id)}?merket=no_show"
    assert (await appointment(db, world.now_id)).status == AppointmentStatus.NO_SHOW
    page = await reception.get(response.headers["location"], headers={"Accept-Language": "en"})
    assert "Marked as no-show." in page.text and 'id="undo"' in page.text
    [entry] = await audit_rows(db, "appointment.no_show")
    assert entry.subject_patient_id == world.kari_id and entry.purpose == "reception"
    response = await reception.post(f"{_base(world.now_id)}/angre")
    assert response.status_code == 303
    assert (await appointment(db, world.now_id)).status == AppointmentStatus.BOOKED
    [undone] = await audit_rows(db, "appointment.attendance_undone")
    assert undone.detail == {"appointment_id": world.now_id, "undone": "no_show"}


async def test_arrived_then_completed_then_undo_twice(app, reception, world: ClinicWorld):
    db = app.state.db
    for mark in ("arrived", "completed"):
        response = await reception.post(f"{_base(world.now_id)}/merk", data={"mark": mark})
        assert response.status_code == 303, mark
    row = await appointment(db, world.now_id)
    assert row.status == AppointmentStatus.COMPLETED and row.arrived_at is not None
    await reception.post(f"{_base(world.now_id)}/angre")
    row = await appointment(db, world.now_id)
    assert row.status == AppointmentStatus.BOOKED and row.arrived_at is not None
    await reception.post(f"{_base(world.now_id)}/angre")
    row = await appointment(db, world.now_id)
    assert row.arrived_at is None
    response = await reception.post(f"{_base(world.now_id)}/angre",
                                    headers={"Accept-Language": "en"})
    assert response.status_code == 409 and "There is nothing to undo." in response.text


async def test_marking_twice_changes_nothing_more(app, reception, world: ClinicWorld):
    for _ in range(2):
        response = await reception.post(f"{_base(world.now_id)}/merk", data={"mark": "arrived"})
        assert response.status_code == 303
    assert len(await audit_rows(app.state.db, "appointment.arrived")) == 1


async def test_an_arrived_patient_is_no_no_show(app, reception, world: ClinicWorld):
    await reception.post(f"{_base(world.now_id)}/merk", data={"mark": "arrived"})
    response = await reception.post(f"{_base(world.now_id)}/merk", data={"mark": "no_show"},
                                    headers={"Accept-Language": "en"})
    assert response.status_code == 409
    assert "The patient has already arrived." in response.text
    row = await appointment(app.state.db, world.now_id)
    assert row.status == AppointmentStatus.BOOKED


async def test_no_show_before_the_start_is_refused(app, reception, world: ClinicWorld):
    response = await reception.post(f"{_base(world.soon_id)}/merk", data={"mark": "no_show"},
                                    headers={"Accept-Language": "nn"})
    assert response.status_code == 409 and 'id="mark-error"' in response.text
    assert (await appointment(app.state.db, world.soon_id)).status == AppointmentStatus.BOOKED
    assert await audit_rows(app.state.db, "appointment.no_show") == []


async def test_arrival_is_only_on_the_appointments_day(app, reception, world: ClinicWorld):
    response = await reception.post(f"{_base(world.earlier_id)}/merk",
                                    data={"mark": "arrived"}, headers={"Accept-Language": "en"})
    assert response.status_code == 409
    assert (await appointment(app.state.db, world.earlier_id)).arrived_at is None


@pytest.mark.parametrize("value", ["", "cancelled", "ARRIVED", "x" * 500])
async def test_a_mark_not_on_the_list_is_a_400(app, reception, world: ClinicWorld, value):
    response = await reception.post(f"{_base(world.now_id)}/merk", data={"mark": value},
                                    headers={"Accept-Language": "se"})
    assert response.status_code == 400
    row = await appointment(app.state.db, world.now_id)
    assert row.status == AppointmentStatus.BOOKED and row.arrived_at is None
