"""Finding a patient: by identity number (POSTed, never in a URL) or by name
and birth date, with a purpose from the closed list, always audited, never
another county's patient."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest

from notifications import support as rules
from tests.web.support.world import SupportWorld, audit_rows

FIND = "/staff/support/finn"


async def test_found_by_identity_number_is_addressed_by_an_opaque_link(
        app, support, world: SupportWorld, caplog):
    caplog.set_level(logging.DEBUG)
    response = await support.post(FIND, data={
        "purpose": "message_not_received", "identity_number": world.kari_pid})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/staff/support/pasient/")
    assert world.kari_pid not in location and not urlsplit(location).query
    page = await support.get(location)
    assert page.status_code == 200 and "Kari Nordmann" in page.text
    assert world.kari_pid not in page.text
    assert world.kari_pid not in caplog.text
    [entry] = await audit_rows(app.state.db, rules.LOOKUP_ACTION)
    assert entry.subject_patient_id == world.kari_id and entry.purpose == "support"
    assert entry.detail["lookup_purpose"] == "message_not_received"
    assert entry.detail["by"] == "identity_number"
    assert world.kari_pid not in str(entry.detail)


async def test_found_by_name_and_birth_date(app, support, world: SupportWorld):
    response = await support.post(FIND, data={
        "purpose": "patient_called", "name": "  kari   NORDMANN ", "birth_date": "17.05.1980"})
    assert response.status_code == 303
    [entry] = await audit_rows(app.state.db, rules.LOOKUP_ACTION)
    assert entry.detail["by"] == "name_and_birth_date" and entry.detail["found"] == [world.kari_id]


async def test_another_countys_patient_is_not_found_and_the_attempt_is_audited(
        app, support, world: SupportWorld):
    response = await support.post(FIND, data={
        "purpose": "patient_called", "identity_number": world.per_pid})
    assert response.status_code == 404
    assert "Vestlending" not in response.text
    [entry] = await audit_rows(app.state.db, rules.LOOKUP_ACTION)
    assert entry.subject_patient_id is None
    assert entry.detail["found"] == [] and entry.detail["outside_county"] == [world.per_id]


async def test_a_link_to_another_countys_patient_is_refused(app, staff, world: SupportWorld):
    rogaland = await staff("county-admin-rogaland")
    found = await rogaland.post(FIND, data={"purpose": "patient_called",
                                            "identity_number": world.per_pid})
    link = found.headers["location"]
    oslo = await staff("support-oslo")
    response = await oslo.get(link)
    assert response.status_code == 404 and "Vestlending" not in response.text
    refused = [e for e in await audit_rows(app.state.db, rules.LOOKUP_ACTION)
               if e.detail.get("refused") == "outside_county"]
    assert [e.subject_patient_id for e in refused] == [world.per_id]


@pytest.mark.parametrize("data", [
    {"identity_number": "x"},  # no purpose
    {"purpose": "curiosity", "identity_number": "x"},  # not on the list
    {"purpose": "patient_called", "name": "Kari Nordmann", "birth_date": "31.02.1980"},
    {"purpose": "patient_called", "name": "", "birth_date": ""},
])
async def test_bad_input_gets_a_translated_error_and_no_lookup(app, support, world, data):
    response = await support.post(FIND, data=data, headers={"Accept-Language": "nn"})
    assert response.status_code == 400
    assert 'id="error-summary"' in response.text
    assert await audit_rows(app.state.db, rules.LOOKUP_ACTION) == []


async def test_the_identity_number_is_never_echoed_into_the_form(support, world: SupportWorld):
    response = await support.post(FIND, data={"identity_number": world.kari_pid})
    assert response.status_code == 400 and world.kari_pid not in response.text


async def test_roles_without_support_are_refused(staff, world: SupportWorld):
    reception = await staff("reception-grunerlokka")
    assert (await reception.get("/staff/support")).status_code == 403
    response = await reception.post(FIND, data={"purpose": "patient_called",
                                                "identity_number": world.kari_pid})
    assert response.status_code == 403


async def test_without_login_the_console_asks_for_the_staff_login(app, world):
    from tests.apps import client_for
    async with client_for(app) as anonymous:
        response = await anonymous.get("/staff/support")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/staff/auth/login")


async def test_the_find_page_in_every_language(support, world):
    for lang, words in (("nb", "Finn en pasient"), ("nn", "Finn ein pasient"),
                        ("en", "Find a patient"), ("se", "Oza pasientta")):
        response = await support.get("/staff/support", headers={"Accept-Language": lang})
        assert response.status_code == 200 and words in response.text
        assert 'name="purpose"' in response.text and 'method="post"' in response.text


async def test_the_staff_login_lands_on_the_console(support):
    response = await support.get("/staff")
    assert response.status_code == 303 and response.headers["location"] == "/staff/support"


async def test_two_patients_of_the_same_name_and_birth_date_are_both_listed(
        app, support, world: SupportWorld):
    from datetime import date

    from booking.models import Appointment, AppointmentType, Clinic
    from tests import factories
    from tests.web.patient.world import add_appointment, hours_from_now
    async with app.state.db.write() as session:
        first = await session.get(Appointment, world.appointment_id)
        clinic = await session.get(Clinic, first.clinic_id)
        kind = await session.get(AppointmentType, first.appointment_type_id)
        twin = await factories.patient(session, date(1980, 5, 17), given_name="Kari",
                                       family_name="Nordmann")
        await add_appointment(session, clinic, twin.id, kind, hours_from_now(24 * 9))
    response = await support.post(FIND, data={
        "purpose": "patient_called", "name": "Kari Nordmann", "birth_date": "1980-05-17"})
    assert response.status_code == 200
    assert response.text.count('href="/staff/support/pasient/') == 2
    [entry] = await audit_rows(app.state.db, rules.LOOKUP_ACTION)
    assert entry.subject_patient_id is None
    assert sorted(entry.detail["found"]) == sorted([world.kari_id, twin.id])
