""""Jeg er her" on the appointment page: on the appointment's Oslo day, for
the patient or a guardian who may act for them; the desk sees the arrival."""

from __future__ import annotations

from datetime import timedelta

from booking.models import Clinic
from core.db import utcnow
from tests.clock import later_today
from tests.web.patient.world import World, add_appointment, appointment_row, audit_entries

BUTTON = 'check-in-hint'


async def _today(app, world: World, person, kind=None) -> int:
    async with app.state.db.write() as session:
        clinic = await session.get(Clinic, world.clinic.id)
        starts_at = later_today(utcnow(), timedelta(minutes=15)).replace(microsecond=0)
        row = await add_appointment(session, clinic, person.id, kind or world.adult_type,
                                    starts_at)
        return row.id


async def test_the_patient_checks_in_on_the_day(app, world: World, logged_in):
    appointment_id = await _today(app, world, world.adult)
    client = await logged_in(world.adult)
    page = await client.get(f"/timer/{appointment_id}", headers={"Accept-Language": "en"})
    assert BUTTON in page.text
    response = await client.post(f"/timer/{appointment_id}/her")
    assert response.status_code == 303
    assert response.headers["location"] == f"/timer/{appointment_id}?her=1"
    page = await client.get(response.headers["location"], headers={"Accept-Language": "en"})
    assert "The reception desk can see that you have arrived." in page.text
    assert "Checked in" in page.text and BUTTON not in page.text
    row = await appointment_row(app, appointment_id)
    assert row.arrived_at is not None and row.arrived_by == f"patient:{world.adult.id}"
    [entry] = await audit_entries(app, action="appointment.check_in")
    assert entry.subject_patient_id == world.adult.id


async def test_no_button_on_another_day_and_a_post_is_refused(app, world: World, logged_in):
    appointment_id = world.appointments["adult"]  # in three days
    client = await logged_in(world.adult)
    page = await client.get(f"/timer/{appointment_id}", headers={"Accept-Language": "en"})
    assert BUTTON not in page.text
    response = await client.post(f"/timer/{appointment_id}/her",
                                 headers={"Accept-Language": "en"})
    assert response.status_code == 409
    assert "only check in on the day" in response.text
    assert (await appointment_row(app, appointment_id)).arrived_at is None


async def test_a_guardian_checks_in_a_child(app, world: World, logged_in):
    appointment_id = await _today(app, world, world.child11, world.child_type)
    client = await logged_in(world.guardian)
    response = await client.post(f"/timer/{appointment_id}/her?for={world.child11.id}")
    assert response.status_code == 303
    row = await appointment_row(app, appointment_id)
    assert row.arrived_by == f"patient:{world.guardian.id}"


async def test_a_stranger_gets_404_and_nothing_changes(app, world: World, logged_in):
    appointment_id = await _today(app, world, world.adult)
    client = await logged_in(world.stranger)
    response = await client.post(f"/timer/{appointment_id}/her")
    assert response.status_code == 404
    assert (await appointment_row(app, appointment_id)).arrived_at is None


async def test_a_guardian_of_a_sixteen_year_old_cannot(app, world: World, logged_in):
    appointment_id = await _today(app, world, world.child16, world.child_type)
    client = await logged_in(world.guardian)
    response = await client.post(f"/timer/{appointment_id}/her?for={world.child16.id}")
    assert response.status_code == 404
    assert (await appointment_row(app, appointment_id)).arrived_at is None


async def test_a_guardian_of_a_thirteen_year_old_checks_in_but_sees_no_attendance(
        app, world: World, logged_in):
    appointment_id = await _today(app, world, world.child13, world.child_type)
    client = await logged_in(world.guardian)
    response = await client.post(f"/timer/{appointment_id}/her?for={world.child13.id}")
    assert response.status_code == 303
    assert (await appointment_row(app, appointment_id)).arrived_at is not None
    page = await client.get(f"/timer/{appointment_id}?for={world.child13.id}",
                            headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "Checked in" not in page.text
