"""Finding a patient at the desk (identity number only POSTed, or name and
birth date; a purpose from the closed list; always audited) and the
patient's page for staff."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest

from tests.web.clinic.world import GRUNERLOKKA, ClinicWorld, audit_rows

FIND = f"/staff/klinikk/{GRUNERLOKKA}/finn"


async def test_found_by_identity_number_gets_an_opaque_link(app, reception, world: ClinicWorld,
                                                            caplog):
    caplog.set_level(logging.DEBUG)
    response = await reception.post(FIND, data={"purpose": "arrival",
                                                "identity_number": world.kari_pid})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"/staff/klinikk/{GRUNERLOKKA}/pasient/")
    assert world.kari_pid not in location and not urlsplit(location).query
    page = await reception.get(location, headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "Kari Nordmann" in page.text
    assert world.kari_pid not in page.text and world.kari_pid not in caplog.text
    assert 'id="on-behalf"' in page.text  # where booking on behalf will go
    assert f"/time/{world.now_id}" in page.text and f"/time/{world.earlier_id}" in page.text
    [lookup] = await audit_rows(app.state.db, "clinic.patient.lookup")
    assert lookup.subject_patient_id == world.kari_id and lookup.purpose == "reception"
    assert lookup.detail["lookup_purpose"] == "arrival" and lookup.detail["by"] == "identity_number"
    assert world.kari_pid not in str(lookup.detail)
    [view] = await audit_rows(app.state.db, "clinic.patient.view")
    assert view.detail == {"lookup_purpose": "arrival"}


async def test_found_by_name_and_birth_date(app, reception, world: ClinicWorld):
    response = await reception.post(FIND, data={
        "purpose": "phone_inquiry", "name": " kari  NORDMANN", "birth_date": "17.05.1980"})
    assert response.status_code == 303


async def test_patients_of_other_clinics_are_not_found(app, reception, world: ClinicWorld):
    for pid in (world.per_pid, world.ola_pid):
        response = await reception.post(FIND, data={"purpose": "booking", "identity_number": pid})
        assert response.status_code == 404
        assert "Vestlending" not in response.text and "Majorsen" not in response.text
    entries = await audit_rows(app.state.db, "clinic.patient.lookup")
    assert [e.detail["outside"] for e in entries] == [[world.per_id], [world.ola_id]]
    assert all(e.subject_patient_id is None for e in entries)


@pytest.mark.parametrize("data", [
    {"identity_number": "x"},
    {"purpose": "curiosity", "identity_number": "x"},
    {"purpose": "day_list", "identity_number": "x"},  # not offered in the form
    {"purpose": "booking", "name": "Kari Nordmann", "birth_date": "31.02.1980"},
    {"purpose": "booking", "name": "", "birth_date": ""},
])
async def test_bad_input_gets_a_translated_error_and_no_lookup(app, reception, world, data):
    response = await reception.post(FIND, data=data, headers={"Accept-Language": "nn"})
    assert response.status_code == 400 and 'id="error-summary"' in response.text
    assert await audit_rows(app.state.db, "clinic.patient.lookup") == []


async def test_the_patient_page_from_an_opened_appointment(app, reception, world: ClinicWorld):
    page = await reception.get(f"/staff/klinikk/{GRUNERLOKKA}/time/{world.now_id}")
    link = page.text.split('/pasient/')[1].split('"')[0]
    response = await reception.get(f"/staff/klinikk/{GRUNERLOKKA}/pasient/{link}")
    assert response.status_code == 200 and "Kari Nordmann" in response.text
    [view] = await audit_rows(app.state.db, "clinic.patient.view")
    assert view.detail == {"lookup_purpose": "day_list"}
