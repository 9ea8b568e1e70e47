"""The pre-visit form: the right person fills it in under the representation
rules on the Oslo date of the request (ages 11, 12, 15 and 16 on the
birthday), answers are encrypted at rest, editable until the appointment
starts, and bad input is refused plainly with nothing saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from booking import previsit
from booking.models import Appointment
from booking.previsit import FormCipher, PrevisitForm
from booking.statuses import AppointmentStatus
from tests.apps import SECRET_KEY
from tests.web.previsit.world import VisitWorld, audit_rows, build_visit_world

OSLO = ZoneInfo("Europe/Oslo")
GOOD = {"medicines": "yes", "medicines_detail": "Albyl-E 75 mg daglig",
        "allergies": "no", "allergies_detail": "", "health_changed": "no",
        "health_changed_detail": "", "contact_doctor": "yes", "confirm": "1"}


def form_url(appointment_id: int, for_id: int | None = None) -> str:
    return f"/timer/{appointment_id}/helseskjema" + (f"?for={for_id}" if for_id else "")


async def saved_rows(app) -> list[PrevisitForm]:
    async with app.state.db.read() as session:
        return list((await session.execute(select(PrevisitForm))).scalars())


async def answers_of(app, appointment_id: int) -> previsit.Answers | None:
    async with app.state.db.read() as session:
        appointment = await session.get(Appointment, appointment_id)
    saved = await previsit.load(app.state.db, FormCipher.from_secret(SECRET_KEY), appointment)
    return saved.answers if saved else None


# --- who fills it in ------------------------------------------------------------------

#: (child, as guardian: GET status, form shown, POST status) on the birthday.
GUARDIAN_MATRIX = [
    ("11", 200, True, 303),   # turns 11 today: a guardian fills it in
    ("11+", 200, True, 303),  # 11 today, 12 tomorrow: still the guardian
    ("12", 200, False, 403),  # turns 12 today: the young person, not the guardian
    ("15", 200, False, 403),  # 15 today: the same
    ("16", 404, False, 404),  # turns 16 today: the guardian has no access at all
]


@pytest.mark.parametrize(("child", "get_status", "form_shown", "post_status"),
                         GUARDIAN_MATRIX)
async def test_the_guardian_fills_in_under_12_only(app, world: VisitWorld, logged_in, child,
                                                   get_status, form_shown, post_status):
    guardian = await logged_in(world.guardian)
    kid = world.children[child]
    appointment_id = world.appointments[child]
    page = await guardian.get(form_url(appointment_id, kid.id))
    assert page.status_code == get_status
    assert ('name="medicines"' in page.text) is form_shown
    response = await guardian.post(form_url(appointment_id, kid.id), data=GOOD)
    assert response.status_code == post_status
    assert (len(await saved_rows(app)) == 1) is (post_status == 303)
    if child in ("12", "15"):
        assert "From the age of 12, young people fill in the health form themselves" \
            in page.text
    if child == "16":
        refused = [e for e in await audit_rows(app.state.db, "access.refused")
                   if e.subject_patient_id == kid.id]
        assert [e.detail["appointment_id"] for e in refused] == [appointment_id] * 2


@pytest.mark.parametrize("child", ["12", "15", "16"])
async def test_from_12_the_young_person_fills_it_in_themself(app, world: VisitWorld,
                                                              logged_in, child):
    young = await logged_in(world.children[child])
    appointment_id = world.appointments[child]
    assert 'name="medicines"' in (await young.get(form_url(appointment_id))).text
    response = await young.post(form_url(appointment_id), data=GOOD)
    assert response.status_code == 303
    assert response.headers["location"] == form_url(appointment_id) + "?lagret=1"
    assert (await answers_of(app, appointment_id)).medicines_detail == "Albyl-E 75 mg daglig"
    [saved] = await audit_rows(app.state.db, previsit.SAVED_ACTION)
    assert saved.actor_id == f"patient:{world.children[child].id}"
    assert saved.on_behalf_of_id is None


async def test_the_guardian_cannot_read_a_12_year_olds_answers(app, world: VisitWorld,
                                                              logged_in):
    young = await logged_in(world.children["12"])
    appointment_id = world.appointments["12"]
    await young.post(form_url(appointment_id), data=GOOD)
    guardian = await logged_in(world.guardian)
    kid = world.children["12"]
    page = (await guardian.get(form_url(appointment_id, kid.id))).text
    assert "Albyl" not in page and 'name="medicines"' not in page
    appointment_page = (await guardian.get(f"/timer/{appointment_id}?for={kid.id}")).text
    assert 'id="previsit"' not in appointment_page  # not even whether it was filled in
    assert 'id="previsit"' in (await young.get(f"/timer/{appointment_id}")).text


async def test_the_guardians_answers_are_closed_to_them_from_the_12th_birthday(
        app, world: VisitWorld, logged_in):
    """Filled in by the guardian the day before; on the birthday the
    guardian can no longer read them, the young person can."""
    kid = world.children["11+"]
    appointment_id = world.appointments["11+"]
    guardian = await logged_in(world.guardian)
    assert (await guardian.post(form_url(appointment_id, kid.id), data=GOOD)).status_code == 303
    [saved] = await audit_rows(app.state.db, previsit.SAVED_ACTION)
    assert saved.on_behalf_of_id == kid.id and saved.actor_kind == "guardian"
    assert "Albyl" in (await guardian.get(form_url(appointment_id, kid.id))).text
    [viewed] = await audit_rows(app.state.db, previsit.VIEW_ACTION)
    assert viewed.subject_patient_id == kid.id
    tomorrow = datetime.now(OSLO).replace(hour=7) + timedelta(days=1)
    with time_machine.travel(tomorrow.astimezone(UTC), tick=True):
        page = (await guardian.get(form_url(appointment_id, kid.id))).text
        assert "Albyl" not in page
        guardian = await logged_in(world.guardian)  # the old session has ended
        page = (await guardian.get(form_url(appointment_id, kid.id))).text
        assert "Albyl" not in page
        assert "From the age of 12, young people fill in the health form themselves" in page
        young = await logged_in(kid)
        assert "Albyl" in (await young.get(form_url(appointment_id))).text


async def test_the_birthday_counts_by_the_oslo_date_not_utc(app, db, logged_in):
    """At 00:30 in Oslo it is still yesterday in UTC: a child born on the Oslo
    date is 12 already, and the guardian may no longer fill in the form."""
    just_after_midnight = datetime(2026, 11, 19, 0, 30, tzinfo=OSLO)
    with time_machine.travel(just_after_midnight.astimezone(UTC), tick=True):
        world = await build_visit_world(app, just_after_midnight)
        kid = world.children["12"]
        guardian = await logged_in(world.guardian)
        response = await guardian.post(form_url(world.appointments["12"], kid.id), data=GOOD)
        assert response.status_code == 403
        assert await saved_rows(app) == []


# --- what is stored ---------------------------------------------------------------------

async def test_answers_are_encrypted_at_rest_and_replaced_when_changed(app, world, logged_in):
    adult = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    await adult.post(form_url(appointment_id), data=GOOD)
    [row] = await saved_rows(app)
    assert b"Albyl" not in row.answers and b"medicines" not in row.answers
    changed = {**GOOD, "allergies": "yes", "allergies_detail": "Penicillin"}
    assert (await adult.post(form_url(appointment_id), data=changed)).status_code == 303
    [row] = await saved_rows(app)
    answers = FormCipher.from_secret(SECRET_KEY).open(row.answers)
    assert answers.allergies and answers.allergies_detail == "Penicillin"
    assert FormCipher.from_secret("another-secret-" * 3).open(row.answers) is None
    page = (await adult.get(form_url(appointment_id))).text
    assert "Penicillin" in page and "Last saved" in page


async def test_the_appointment_page_links_to_the_form_prominently(app, world, logged_in):
    adult = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    page = (await adult.get(f"/timer/{appointment_id}")).text
    assert f'href="{form_url(appointment_id)}"' in page and "Fill in the health form" in page
    await adult.post(form_url(appointment_id), data=GOOD)
    assert "See or change the health form" in (await adult.get(f"/timer/{appointment_id}")).text



async def test_a_clinic_that_does_not_use_the_form_offers_no_link(app, world, logged_in):
    """The county's ``previsit_form`` setting names the clinics that use it
    (the reminders' link follows the same setting)."""
    from sqlalchemy import update

    from booking.models import Clinic, County

    async with app.state.db.write() as session:
        county_id = (await session.execute(select(Clinic.county_id).where(
            Clinic.id == world.clinic_id))).scalar_one()
        await session.execute(update(County).where(County.id == county_id).values(
            quiet_hours={"previsit_form": [world.other_clinic_slug]}))
    adult = await logged_in(world.adult)
    page = (await adult.get(f"/timer/{world.appointments['adult']}")).text
    assert "Fill in the health form" not in page
    assert previsit.clinic_uses_form(None, "any") and previsit.clinic_uses_form({}, "any")
    assert not previsit.clinic_uses_form({"previsit_form": False}, "any")
    assert previsit.clinic_uses_form({"previsit_form": ["a", "b"]}, "b")


# --- bad input ------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "field", "message"), [
    ({"medicines": ""}, "medicines", "Answer yes or no."),
    ({"medicines": "maybe"}, "medicines", "Answer yes or no."),
    ({"medicines_detail": ""}, "medicines_detail", "Write what it is, in a few words."),
    ({"allergies": "yes", "allergies_detail": "x" * 251}, "allergies_detail",
     "Write at most 250 characters."),
    ({"confirm": ""}, "confirm", "Confirm that the answers are correct."),
    ({"contact_doctor": "1"}, "contact_doctor", "Answer yes or no."),
])
async def test_bad_answers_are_refused_with_the_reason_and_nothing_saved(
        app, world, logged_in, change, field, message):
    adult = await logged_in(world.adult)
    response = await adult.post(form_url(world.appointments["adult"]), data={**GOOD, **change})
    assert response.status_code == 400
    assert message in response.text and f'href="#{field}"' in response.text
    assert response.text.count('aria-invalid="true"') >= 1
    assert await saved_rows(app) == []


async def test_errors_are_in_the_readers_language(app, world, logged_in):
    adult = await logged_in(world.adult, language="nb")
    response = await adult.post(form_url(world.appointments["adult"]),
                                data={**GOOD, "medicines": ""})
    assert response.status_code == 400 and "Svar ja eller nei." in response.text


async def test_an_oversized_form_is_refused_plainly(app, world, logged_in):
    adult = await logged_in(world.adult)
    response = await adult.post(form_url(world.appointments["adult"]),
                                data={**GOOD, "medicines_detail": "æ" * 2000})
    assert response.status_code == 400
    assert "Your answers were too long" in response.text
    assert await saved_rows(app) == []


@pytest.mark.parametrize("target", ["stranger", "stranger_child", "guardian"])
async def test_another_persons_appointment_is_not_found_and_audited(app, world, logged_in,
                                                                  target):
    adult = await logged_in(world.adult)
    appointment_id = world.appointments[target]
    for response in (await adult.get(form_url(appointment_id)),
                     await adult.post(form_url(appointment_id), data=GOOD)):
        assert response.status_code == 404
    assert await saved_rows(app) == []
    refused = await audit_rows(app.state.db, "access.refused")
    assert len(refused) == 2 and {e.detail["appointment_id"] for e in refused} == {
        appointment_id}


@pytest.mark.parametrize("bad", ["x", "-1", "99999999999999999999", "1e3", "0"])
async def test_forged_ids_are_not_found(app, world, logged_in, bad):
    adult = await logged_in(world.adult)
    for response in (await adult.get(f"/timer/{bad}/helseskjema"),
                     await adult.post(f"/timer/{bad}/helseskjema", data=GOOD),
                     await adult.post(form_url(world.appointments["adult"]) + f"?for={bad}",
                                      data=GOOD)):
        assert response.status_code == 404
    assert await saved_rows(app) == []


async def test_no_login_goes_to_login(app, world):
    from tests.apps import client_for
    async with client_for(app) as client:
        response = await client.get(form_url(world.appointments["adult"]))
    assert response.status_code in (302, 303) and "/auth/login" in response.headers["location"]


async def test_the_form_closes_when_the_appointment_starts(app, world, logged_in):
    adult = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    async with app.state.db.read() as session:
        starts = (await session.get(Appointment, appointment_id)).starts_at
    with time_machine.travel(starts + timedelta(minutes=1), tick=True):
        adult = await logged_in(world.adult)
        page = await adult.get(form_url(appointment_id))
        assert 'name="medicines"' not in page.text
        assert "until the appointment starts" in page.text
        response = await adult.post(form_url(appointment_id), data=GOOD)
        assert response.status_code == 409
    assert await saved_rows(app) == []


async def test_a_cancelled_appointment_takes_no_answers(app, world, logged_in):
    adult = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    async with app.state.db.write() as session:
        (await session.get(Appointment, appointment_id)).status = AppointmentStatus.CANCELLED
    assert (await adult.post(form_url(appointment_id), data=GOOD)).status_code == 409
    assert await saved_rows(app) == []


# --- retention --------------------------------------------------------------------------

async def test_answers_are_deleted_the_set_number_of_days_after_the_visit(app, world,
                                                                       logged_in):
    adult = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    await adult.post(form_url(appointment_id), data=GOOD)
    async with app.state.db.read() as session:
        ends = (await session.get(Appointment, appointment_id)).ends_at
    retention = timedelta(days=30)
    db = app.state.db
    assert await previsit.delete_expired(db, ends + retention - timedelta(minutes=1),
                                         retention) == 0
    assert await previsit.delete_expired(db, ends + retention + timedelta(minutes=1),
                                         retention) == 1
    assert await saved_rows(app) == []


async def test_a_moved_appointment_keeps_its_answers_until_after_the_new_time(app, world,
                                                                          logged_in):
    adult = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    await adult.post(form_url(appointment_id), data=GOOD)
    db = app.state.db
    async with db.write() as session:
        old = await session.get(Appointment, appointment_id)
        old.status = AppointmentStatus.CANCELLED
        moved = Appointment(
            patient_id=old.patient_id, clinic_id=old.clinic_id, chair_id=old.chair_id,
            slot_id=old.slot_id, appointment_type_id=old.appointment_type_id,
            starts_at=old.starts_at + timedelta(days=60),
            ends_at=old.ends_at + timedelta(days=60), source=old.source,
            created_by_kind=old.created_by_kind, created_by=old.created_by,
            replaces_id=old.id, chain_id=old.chain_id)
        session.add(moved)
        await session.flush()
        old_ends, new_ends, moved_id = old.ends_at, moved.ends_at, moved.id
    retention = timedelta(days=30)
    assert await previsit.delete_expired(db, old_ends + retention + timedelta(days=1),
                                         retention) == 0
    # The new appointment's page has the answers (one chain, one form).
    assert "Albyl" in (await adult.get(form_url(moved_id))).text
    assert await previsit.delete_expired(db, new_ends + retention + timedelta(days=1),
                                         retention) == 1


async def test_the_worker_job_deletes_on_the_setting(app, world, logged_in):
    from notifications.previsit_sweep import purge_visit_data
    from notifications.runtime import DeliveryConfig, Runtime

    adult = await logged_in(world.adult)
    await adult.post(form_url(world.appointments["adult"]), data=GOOD)
    later = datetime.now(UTC) + timedelta(days=5 + 3)
    runtime = Runtime(db=app.state.db, sms=None, contacts=None,  # type: ignore[arg-type]
                      config=DeliveryConfig(public_url="http://x", link_key=b"k" * 32,
                                            previsit_retention=timedelta(days=2)),
                      clock=lambda: later)
    assert await purge_visit_data({"runtime": runtime}) == 1
    assert await saved_rows(app) == []


# --- staff ---------------------------------------------------------------------------------

def staff_form_url(slug: str, appointment_id: int | str) -> str:
    return f"/staff/klinikk/{slug}/timer/{appointment_id}/helseskjema"


async def test_the_clinics_reception_sees_the_answers_and_each_view_is_audited(
        app, world, logged_in, staff):
    adult = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    await adult.post(form_url(appointment_id), data=GOOD)
    reception = await staff("reception-grunerlokka")
    for _ in range(2):
        page = (await reception.get(staff_form_url(world.clinic_slug, appointment_id))).text
        assert "Albyl-E 75 mg daglig" in page and "Filled in by the patient" in page
    views = await audit_rows(app.state.db, previsit.STAFF_VIEW_ACTION)
    assert len(views) == 2 and all(v.subject_patient_id == world.adult.id for v in views)
    assert views[0].detail == {"appointment_id": appointment_id, "form": True}
    # The patient sees who looked.
    assert (await adult.get("/innsyn")).status_code == 200


async def test_an_appointment_without_a_form_says_so(app, world, staff):
    reception = await staff("reception-grunerlokka")
    page = await reception.get(staff_form_url(world.clinic_slug, world.appointments["adult"]))
    assert page.status_code == 200 and 'id="previsit-missing"' in page.text


async def test_another_clinics_staff_get_not_found_and_an_audit_entry(app, world, logged_in,
                                                                      staff):
    adult = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    await adult.post(form_url(appointment_id), data=GOOD)
    other = await staff("clinic-admin-majorstuen")
    for slug in (world.clinic_slug, world.other_clinic_slug):
        response = await other.get(staff_form_url(slug, appointment_id))
        assert response.status_code == 404 and "Albyl" not in response.text
    refused = await audit_rows(app.state.db, previsit.STAFF_REFUSED_ACTION)
    assert len(refused) == 2 and {r.subject_patient_id for r in refused} == {world.adult.id}
    assert await audit_rows(app.state.db, previsit.STAFF_VIEW_ACTION) == []


@pytest.mark.parametrize("user", ["support-oslo", "county-admin-oslo"])
async def test_support_and_county_administrators_see_no_health_answers(app, world, staff, user):
    other = await staff(user)
    response = await other.get(staff_form_url(world.clinic_slug, world.appointments["adult"]))
    assert response.status_code == 403


@pytest.mark.parametrize("bad", ["x", "-1", "99999999999999999999"])
async def test_forged_ids_are_not_found_for_staff(app, world, staff, bad):
    reception = await staff("reception-grunerlokka")
    assert (await reception.get(staff_form_url(world.clinic_slug, bad))).status_code == 404
    assert (await reception.get(staff_form_url("no-such-clinic", 1))).status_code == 404


@pytest.mark.postgres
async def test_saves_at_once_keep_one_form(pg_db):
    """The young person on a phone and a laptop at once: one row, no error."""
    import asyncio

    from booking.audit import Actor
    from tests import factories
    from tests.web.patient.world import add_appointment

    async with pg_db.write() as session:
        county = await factories.county(session)
        clinic = await factories.clinic(session, county)
        kind = await factories.appointment_type(session, county.id)
        patient = await factories.patient(session)
        appointment = await add_appointment(session, clinic, patient.id, kind,
                                            datetime.now(UTC).replace(microsecond=0)
                                            + timedelta(days=3))
    cipher = FormCipher.from_secret(SECRET_KEY)
    answers = previsit.parse_answers(GOOD)
    await asyncio.gather(*(previsit.save(pg_db, cipher, Actor.patient(patient.id),
                                         appointment.id, answers, now=datetime.now(UTC))
                           for _ in range(10)))
    async with pg_db.read() as session:
        rows = list((await session.execute(select(PrevisitForm))).scalars())
    assert len(rows) == 1 and cipher.open(rows[0].answers) == answers
    assert len(await audit_rows(pg_db, previsit.SAVED_ACTION)) == 10


async def test_the_clinics_list_leads_to_the_filled_forms_without_showing_answers(
        app, world, logged_in, staff):
    adult = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    await adult.post(form_url(appointment_id), data=GOOD)
    reception = await staff("reception-grunerlokka")
    page = (await reception.get(f"/staff/klinikk/{world.clinic_slug}/helseskjema")).text
    assert f'href="{staff_form_url(world.clinic_slug, appointment_id)}"' in page
    assert "Astrid Besøksen" in page and "Albyl" not in page
    assert page.count('class="next-list__item"') == 1  # only the filled-in one
    [listed] = await audit_rows(app.state.db, previsit.STAFF_LIST_ACTION)
    assert listed.subject_patient_id == world.adult.id
    other = await staff("clinic-admin-majorstuen")
    response = await other.get(f"/staff/klinikk/{world.clinic_slug}/helseskjema")
    assert response.status_code == 404 and "Astrid" not in response.text
    assert len(await audit_rows(app.state.db, previsit.STAFF_REFUSED_ACTION)) == 1
    own = (await other.get(f"/staff/klinikk/{world.other_clinic_slug}/helseskjema")).text
    assert 'id="previsit-forms-empty"' in own
