"""Staff login: roles and clinics from the token or the local staff register,
always inside the staff member's own county; sessions apart from patients'."""

from __future__ import annotations

import pytest

from tests import factories
from tests.web.auth.helpers import ADULT_PID, login, path_of, set_cookie_header, start_login
from web.auth.models import StaffUser

STAFF_LOGIN = "/staff/auth/login"


@pytest.fixture
async def clinics(db) -> dict[str, int]:
    async with db.write() as session:
        oslo = await factories.county(session, code="03", name="Oslo")
        rogaland = await factories.county(session, code="11", name="Rogaland")
        rows = {
            "grunerlokka": await factories.clinic(session, oslo,
                                                  slug="tannklinikken-grunerlokka"),
            "majorstuen": await factories.clinic(session, oslo, slug="tannklinikken-majorstuen"),
            "stavanger": await factories.clinic(session, rogaland,
                                                slug="tannklinikken-stavanger-sentrum"),
        }
        ids = {name: row.id for name, row in rows.items()}
        ids["oslo"], ids["rogaland"] = oslo.id, rogaland.id
    return ids


async def staff_login(client, user: str):
    return await login(client, user, path=STAFF_LOGIN)


async def test_reception_acts_for_their_clinic_only(client, clinics):
    response = await staff_login(client, "reception-grunerlokka")
    assert response.status_code == 303 and response.headers["location"] == "/staff"
    me = (await client.get("/test/staff")).json()
    assert me == {"roles": ["reception"], "county_id": clinics["oslo"],
                  "clinic_ids": [clinics["grunerlokka"]]}


async def test_county_admin_acts_for_every_clinic_of_their_county(client, clinics):
    await staff_login(client, "county-admin-oslo")
    me = (await client.get("/test/staff")).json()
    assert me["clinic_ids"] == sorted([clinics["grunerlokka"], clinics["majorstuen"]])


async def test_a_clinic_of_another_county_in_the_claims_is_ignored(client, clinics):
    await staff_login(client, "reception-wrong-county")
    me = (await client.get("/test/staff")).json()
    assert me["clinic_ids"] == [clinics["grunerlokka"]]
    assert clinics["stavanger"] not in me["clinic_ids"]


async def test_the_local_staff_register_decides_over_the_claims(app, db, client, clinics):
    async with db.write() as session:
        session.add(StaffUser(issuer="http://127.0.0.1:8000/dev/idporten",
                              subject="reception-grunerlokka", display_name="Hanne",
                              role="reception", county_id=clinics["rogaland"],
                              clinic_ids=[clinics["stavanger"], clinics["grunerlokka"]]))
    await staff_login(client, "reception-grunerlokka")
    me = (await client.get("/test/staff")).json()
    # Rogaland staff per the register: the Oslo clinic it names is out of reach.
    assert me["county_id"] == clinics["rogaland"]
    assert me["clinic_ids"] == [clinics["stavanger"]]


async def test_an_inactive_staff_user_is_refused(app, db, client, clinics):
    async with db.write() as session:
        session.add(StaffUser(issuer="http://127.0.0.1:8000/dev/idporten",
                              subject="support-oslo", display_name="Siri", role="support",
                              county_id=clinics["oslo"], active=False))
    response = await staff_login(client, "support-oslo")
    assert response.status_code == 403 and "no role" in response.text


async def test_staff_of_an_unknown_county_are_refused(client, db):
    response = await staff_login(client, "county-admin-rogaland")
    assert response.status_code == 403
    assert (await client.get("/test/staff")).status_code == 303


async def test_staff_and_patient_sessions_are_separate(client, clinics):
    staff = await staff_login(client, "support-oslo")
    assert set_cookie_header(staff, "tanntid-staff-session")
    assert (await client.get("/test/me")).status_code == 303
    patient = await login(client, ADULT_PID)
    assert set_cookie_header(patient, "tanntid-session")
    assert (await client.get("/test/me")).status_code == 200
    assert (await client.get("/test/staff")).status_code == 200
    await client.post("/staff/auth/logout")
    assert (await client.get("/test/staff")).status_code == 303
    assert (await client.get("/test/me")).status_code == 200


async def test_a_patient_session_cookie_is_no_staff_session(client, clinics):
    patient = await login(client, ADULT_PID)
    value = set_cookie_header(patient, "tanntid-session").split(";")[0].split("=", 1)[1]
    forged = await client.get("/test/staff", headers={"Cookie": f"tanntid-staff-session={value}"})
    assert forged.status_code == 303


async def test_the_staff_login_page_lists_staff_test_users(client):
    authorize, _ = await start_login(client, STAFF_LOGIN)
    page = await client.get(path_of(authorize))
    assert "Test login for staff" in page.text and "Hanne Resepsjon" in page.text
    assert "Synthetic identity number" not in page.text


async def test_staff_login_requires_a_staff_session_for_staff_pages(client):
    response = await client.get("/test/staff")
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/auth/login?next=/test/staff"
