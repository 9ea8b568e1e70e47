"""``/innsyn``: who other than the patient has seen or changed their data."""

from __future__ import annotations

from booking import audit
from booking.audit import Actor
from tests.pages import html, text_of
from tests.web.patient.access_log import EN, lines
from tests.web.patient.world import World, audit_entries
from web.auth.models import StaffUser


async def test_lists_staff_and_guardian_access_but_not_the_patients_own(
        app, world: World, logged_in) -> None:
    appointment_id = world.appointments["child13"]
    async with app.state.db.write() as session:
        session.add(StaffUser(issuer="http://127.0.0.1:8000/dev/idporten", subject="staff-7",
                              display_name="Kari Resepsjon", role="reception",
                              county_id=world.clinic.county_id,
                              clinic_ids=[world.clinic.id]))
        await session.flush()
        await audit.record(session, Actor.staff("staff-7", {world.clinic.id}),
                           "appointments.view", purpose="reception",
                           subject_patient_id=world.child13.id,
                           detail={"appointment_id": appointment_id})
    guardian = await logged_in(world.guardian)
    assert (await guardian.get(f"/timer?for={world.child13.id}")).status_code == 200
    jonas = await logged_in(world.child13)
    assert (await jonas.post(f"/timer/{appointment_id}/bekreft")).status_code == 303
    assert len(await audit_entries(app, action="appointment.confirm")) == 1

    response = await jonas.get("/innsyn", headers=EN)
    assert response.status_code == 200
    soup = html(response)
    assert text_of(soup, "h1") == "Who has seen your data"
    assert lines(soup) == [  # newest first
        ("Guardian (Ingrid)", "Looked at the appointments", "As a guardian"),
        ("Clinic staff (reception), Tannklinikken Testby", "Looked at the appointments",
         "Appointments at the clinic"),
    ]
    times = [t["datetime"] for t in soup.select(".access-log__when time")]
    assert len(times) == 2 and times[0] >= times[1]
    page = soup.get_text()
    for raw in ("patient:", "staff-7", "Kari Resepsjon", str(world.guardian.id) + ")"):
        assert raw not in page
    # Reading one's own log is not logged as someone else's access.
    assert await audit_entries(app, action="access_log.view") == []


async def test_a_guardian_reads_a_young_childs_log_and_is_logged(app, world: World,
                                                                 logged_in) -> None:
    guardian = await logged_in(world.guardian)
    assert (await guardian.get(f"/timer?for={world.child11.id}")).status_code == 200
    soup = html(await guardian.get(f"/innsyn?for={world.child11.id}", headers=EN))
    assert text_of(soup, "h1") == "Who has seen the data of Emma"
    assert text_of(soup, ".acting-banner__who") == (
        "You are acting on behalf of Emma (11 years old).")
    assert lines(soup) == [("You", "Looked at the appointments", "As a guardian")]
    [entry] = await audit_entries(app, action="access_log.view")
    assert (entry.subject_patient_id, entry.on_behalf_of_id, entry.actor_id) == (
        world.child11.id, world.child11.id, f"patient:{world.guardian.id}")


async def test_a_refused_attempt_shows_in_the_young_persons_log(app, world: World,
                                                                logged_in) -> None:
    guardian = await logged_in(world.guardian)
    assert (await guardian.get(f"/timer?for={world.child16.id}")).status_code == 404
    sara = await logged_in(world.child16)
    soup = html(await sara.get("/innsyn", headers=EN))
    assert lines(soup) == [("Guardian (Ingrid)", "Tried to see the data, but was refused",
                            "As a guardian")]


async def test_nobody_else_yet(app, world: World, logged_in) -> None:
    client = await logged_in(world.adult)
    soup = html(await client.get("/innsyn", headers=EN))
    assert soup.select(".access-log__entry") == []
    assert "Nobody else has looked at or changed the data." in soup.get_text()
