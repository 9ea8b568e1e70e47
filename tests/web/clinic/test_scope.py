"""Every clinic-console route, walked with the ids of another clinic of the
county and of another county: 404, an audit entry, nothing changed. And the
roles that have no business there."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking.models import Appointment
from booking.refill_models import WaitlistEntry
from tests.web.clinic.world import (
    GRUNERLOKKA,
    MAJORSTUEN,
    STAVANGER,
    ClinicWorld,
    appointment,
    audit_rows,
)
from web.views import clinic

REFUSED = "clinic.access.refused"


def _paths(world: ClinicWorld) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path, form) for every route, each aimed at somewhere outside
    the receptionist's clinic."""
    own = f"/staff/klinikk/{GRUNERLOKKA}"
    out: list[tuple[str, str, dict[str, str]]] = []
    for slug in (MAJORSTUEN, STAVANGER, "no-such-clinic"):
        base = f"/staff/klinikk/{slug}"
        target = world.majorstuen_id if slug == MAJORSTUEN else world.stavanger_id
        out += [
            ("GET", f"{base}/dag", {}),
            ("GET", f"{base}/time/{target}", {}),
            ("POST", f"{base}/time/{target}/merk", {"mark": "no_show"}),
            ("POST", f"{base}/time/{target}/angre", {}),
            ("GET", f"{base}/finn", {}),
            ("POST", f"{base}/finn", {"purpose": "booking", "identity_number": world.ola_pid}),
            ("GET", f"{base}/pasient/AAAAAAAAAAAAAAAAAAAAAA", {}),
            ("GET", f"{base}/venteliste", {}),
            *_on_behalf(f"{base}/pasient/AAAAAAAAAAAAAAAAAAAAAA", target),
        ]
    # Their own clinic, another clinic's or county's appointment.
    for target in (world.majorstuen_id, world.stavanger_id, 10**9, "abc"):
        out += [
            ("GET", f"{own}/time/{target}", {}),
            ("POST", f"{own}/time/{target}/merk", {"mark": "no_show"}),
            ("POST", f"{own}/time/{target}/angre", {}),
        ]
    out.append(("GET", f"{own}/pasient/not-a-token", {}))
    out += _on_behalf(f"{own}/pasient/not-a-token", world.now_id)
    # A good link to their own patient, with another clinic's or county's appointment.
    kari = f"{own}/pasient/{_link(world.kari_id)}"
    for target in (world.majorstuen_id, world.stavanger_id):
        out += [item for item in _on_behalf(kari, target) if "/time/" in item[1]]
    return out


def _link(patient_id: int) -> str:
    from datetime import timedelta

    from core.db import utcnow
    from tests.apps import SECRET_KEY
    from web import signing
    from web.views.clinic.patients import TOKEN_PURPOSE

    return signing.sign(TOKEN_PURPOSE, patient_id * 8, utcnow() + timedelta(hours=1),
                        SECRET_KEY)


def _on_behalf(patient: str, appointment_id: int | str) -> list[tuple[str, str, dict[str, str]]]:
    """The on-behalf routes under a patient link (:mod:`web.views.clinic.on_behalf`)."""
    form = {"type": "1", "slot": "1", "chair": "1", "day": "01.01.2031", "clock": "09:00",
            "reason": "walk", "notice": "24"}
    return [
        ("GET", f"{patient}/bestill", {}),
        ("POST", f"{patient}/bestill", form),
        ("POST", f"{patient}/innkall", form),
        ("GET", f"{patient}/time/{appointment_id}", {}),
        ("POST", f"{patient}/time/{appointment_id}/endre", form),
        ("POST", f"{patient}/time/{appointment_id}/avbestill", {"reason": "walk"}),
        ("POST", f"{patient}/time/{appointment_id}/venteliste", form),
        ("POST", f"{patient}/time/{appointment_id}/venteliste/fjern", {"reason": "walk"}),
    ]


def test_the_walk_covers_every_route():
    names = {route.name for route in clinic.routes()}
    assert names == {"clinic_home", "clinic_day", "clinic_appointment", "clinic_mark",
                     "clinic_undo", "clinic_find", "clinic_find_post", "clinic_patient",
                     "clinic_on_behalf_book_page", "clinic_on_behalf_book",
                     "clinic_on_behalf_issue", "clinic_on_behalf_change_page",
                     "clinic_on_behalf_change", "clinic_on_behalf_cancel",
                     "clinic_waitlist", "clinic_waitlist_add", "clinic_waitlist_remove"}


async def test_every_route_with_another_clinics_or_countys_ids(app, reception,
                                                               world: ClinicWorld):
    db = app.state.db
    before = {i: (await appointment(db, i)).status
              for i in (world.majorstuen_id, world.stavanger_id)}
    for method, path, form in _paths(world):
        count = len(await audit_rows(db, REFUSED))
        response = await reception.request(method, path, data=form or None)
        assert response.status_code == 404, (method, path)
        assert "Majorsen" not in response.text and "Vestlending" not in response.text
        assert len(await audit_rows(db, REFUSED)) == count + 1, (method, path)
    for appointment_id, status in before.items():
        row: Appointment = await appointment(db, appointment_id)
        assert row.status == status and row.arrived_at is None
    assert await audit_rows(db, "clinic.patient.lookup") == []
    async with db.read() as session:
        assert (await session.execute(select(WaitlistEntry))).scalars().all() == []
    assert await audit_rows(db, "clinic.waitlist.view") == []


async def test_a_patient_link_from_another_county_is_refused(app, staff, world: ClinicWorld):
    rogaland = await staff("county-admin-rogaland")
    found = await rogaland.post(f"/staff/klinikk/{STAVANGER}/finn",
                                data={"purpose": "booking", "identity_number": world.per_pid})
    assert found.status_code == 303
    link = found.headers["location"].replace(STAVANGER, GRUNERLOKKA)
    oslo = await staff("reception-grunerlokka")
    response = await oslo.get(link)
    assert response.status_code == 404 and "Vestlending" not in response.text
    [entry] = await audit_rows(app.state.db, REFUSED)
    assert entry.subject_patient_id == world.per_id


async def test_a_county_admin_sees_every_clinic_of_the_county_only(staff, world: ClinicWorld):
    admin = await staff("county-admin-oslo")
    assert (await admin.get(f"/staff/klinikk/{MAJORSTUEN}/dag")).status_code == 200
    assert (await admin.get(f"/staff/klinikk/{GRUNERLOKKA}/dag")).status_code == 200
    assert (await admin.get(f"/staff/klinikk/{STAVANGER}/dag")).status_code == 404


async def test_claims_naming_another_countys_clinic_give_nothing_there(staff, world):
    vera = await staff("reception-wrong-county")
    assert (await vera.get(f"/staff/klinikk/{GRUNERLOKKA}/dag")).status_code == 200
    assert (await vera.get(f"/staff/klinikk/{STAVANGER}/dag")).status_code == 404


@pytest.mark.parametrize("path", [f"/staff/klinikk/{GRUNERLOKKA}/dag", "/staff/klinikk"])
async def test_support_has_no_business_at_the_desk(staff, world, path):
    support = await staff("support-oslo")
    assert (await support.get(path)).status_code == 403


async def test_without_a_staff_login_it_asks_to_log_in(app, world):
    import httpx

    from tests.apps import BASE_URL
    from tests.web.auth.helpers import browser
    async with browser(BASE_URL, httpx.ASGITransport(app=app)) as anonymous:
        response = await anonymous.get(f"/staff/klinikk/{GRUNERLOKKA}/dag")
    assert response.status_code == 303 and "/staff/auth/login" in response.headers["location"]


async def test_cross_site_posts_are_refused_and_change_nothing(app, reception,
                                                               world: ClinicWorld):
    own = f"/staff/klinikk/{GRUNERLOKKA}"
    posts = [(f"{own}/time/{world.now_id}/merk", {"mark": "no_show"}),
             (f"{own}/time/{world.now_id}/angre", {}),
             (f"{own}/finn", {"purpose": "booking", "identity_number": world.kari_pid})]
    for path, form in posts:
        response = await reception.post(path, data=form, headers={
            "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
        assert response.status_code == 403, path
    row = await appointment(app.state.db, world.now_id)
    assert row.status == "booked" and row.arrived_at is None
    assert await audit_rows(app.state.db, "clinic.patient.lookup") == []
