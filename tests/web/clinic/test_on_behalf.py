"""Reception books, calls in, changes and cancels on a patient's behalf
through the clinic console's pages; other clinics' ids are 404 and audited."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from booking.models import Appointment, AuditEntry, Slot
from booking.statuses import AppointmentStatus, SlotStatus
from core.db import Database
from tests.apps import BASE_URL
from tests.web.auth.helpers import browser, build_app, local_login, login
from tests.web.clinic.desk_world import DeskWorld, build_world, patient_base
from tests.web.clinic.world import MAJORSTUEN, STAVANGER


@pytest.fixture
async def app(db: Database) -> AsyncIterator[Starlette]:
    async with local_login(build_app(db=db)) as application:
        yield application


@pytest.fixture
async def world(app: Starlette) -> DeskWorld:
    return await build_world(app.state.db)


StaffBrowser = Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def staff(app: Starlette) -> AsyncIterator[StaffBrowser]:
    clients: list[httpx.AsyncClient] = []

    async def make(user: str) -> httpx.AsyncClient:
        client = browser(BASE_URL, httpx.ASGITransport(app=app))
        clients.append(client)
        response = await login(client, user, path="/staff/auth/login")
        assert response.status_code == 303, response.text
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def desk(staff: StaffBrowser, world: DeskWorld) -> httpx.AsyncClient:
    return await staff("reception-grunerlokka")


async def count(app: Starlette, model, *where) -> int:
    async with app.state.db.read() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))
                ).scalar_one()


async def refusals(app: Starlette) -> list[AuditEntry]:
    async with app.state.db.read() as s:
        return list((await s.execute(select(AuditEntry).where(
            AuditEntry.action == "clinic.access.refused"))).scalars())


async def test_the_book_page_shows_every_free_time_and_books_with_a_reason(app, world, desk):
    base = patient_base(app, world.kari_id)
    day = world.day.strftime("%d.%m.%Y")
    page = await desk.get(f"{base}/bestill", params={"type": world.exam_id, "day": day})
    assert page.status_code == 200
    # Released and unreleased, both chairs; within the patient's 72-hour notice too.
    for slot_id in (world.released_slot, world.unreleased_slot, world.free_slot):
        assert f'id="slot-{slot_id}"' in page.text
    assert "Kari Nordmann" in page.text and world.kari_pid not in page.text
    key = re.search(r'name="key" value="([^"]+)"', page.text).group(1)

    form = {"type": str(world.exam_id), "slot": str(world.unreleased_slot), "day": day,
            "key": key, "reason": ""}
    refused = await desk.post(f"{base}/bestill", data=form)
    assert refused.status_code == 409
    assert "Write why you are doing this for the patient." in refused.text
    assert await count(app, Appointment) == 3

    booked = await desk.post(f"{base}/bestill", data={**form, "reason": "Phoned in"})
    assert booked.status_code == 200 and 'id="done"' in booked.text
    async with app.state.db.read() as s:
        new = (await s.execute(select(Appointment).where(
            Appointment.slot_id == world.unreleased_slot))).scalar_one()
    assert (new.patient_id, new.staff_note, new.created_by) == (
        world.kari_id, "Phoned in", "staff:reception-grunerlokka")
    again = await desk.post(f"{base}/bestill", data={**form, "reason": "Phoned in"})
    assert again.status_code == 200  # the same form twice books once
    assert await count(app, Appointment) == 4


async def test_a_taken_time_is_refused_with_the_reason(app, world, desk):
    base = patient_base(app, world.kari_id)
    async with app.state.db.write() as s:
        (await s.get(Slot, world.free_slot)).status = SlotStatus.BOOKED
    response = await desk.post(f"{base}/bestill", data={
        "type": str(world.exam_id), "slot": str(world.free_slot), "reason": "phone"})
    assert response.status_code == 409
    assert "Someone else has just booked that time." in response.text


async def test_call_in_outside_the_slots_and_overbook_on_purpose(app, world, desk):
    base = patient_base(app, world.kari_id)
    day = world.day.strftime("%d.%m.%Y")
    form = {"type": str(world.exam_id), "chair": str(world.chair_id), "day": day,
            "clock": "12:10", "reason": "recall"}  # over Kari's own 12:00 on this chair
    busy = await desk.post(f"{base}/innkall", data=form)
    assert busy.status_code == 409 and "another appointment at that time" in busy.text
    form = {**form, "clock": "07:15"}
    issued = await desk.post(f"{base}/innkall", data=form)
    assert issued.status_code == 200, issued.text
    # Eva's time at 07:20 too: the chair is taken, so it needs an overbooking.
    per_base = patient_base(app, world.eva_id)
    busy = await desk.post(f"{per_base}/innkall", data={**form, "clock": "07:20"})
    assert busy.status_code == 409
    assert "The chair already has an appointment at that time." in busy.text
    no_reason = await desk.post(f"{per_base}/innkall",
                                data={**form, "clock": "07:20", "overbook": "yes"})
    assert "Write why the chair should be overbooked." in no_reason.text
    done = await desk.post(f"{per_base}/innkall", data={
        **form, "clock": "07:20", "overbook": "yes", "overbook_reason": "acute pain"})
    assert done.status_code == 200 and "Overbooked" in done.text
    async with app.state.db.read() as s:
        overbooked = (await s.execute(select(Appointment).where(
            Appointment.overbooked.is_(True)))).scalars().all()
    assert [(a.patient_id, a.overbook_reason) for a in overbooked] == [
        (world.eva_id, "acute pain")]


@pytest.mark.parametrize("clock", ["25:00", "nine", ""])
async def test_call_in_with_a_bad_time_changes_nothing(app, world, desk, clock):
    base = patient_base(app, world.kari_id)
    response = await desk.post(f"{base}/innkall", data={
        "type": str(world.exam_id), "chair": str(world.chair_id),
        "day": world.day.strftime("%d.%m.%Y"), "clock": clock, "reason": "recall"})
    assert response.status_code == 400
    assert "a start time that exists that day" in response.text
    assert await count(app, Appointment) == 3


async def test_change_and_cancel_with_a_reason(app, world, desk):
    base = patient_base(app, world.kari_id)
    page = await desk.get(f"{base}/time/{world.kari_appointment}")
    assert page.status_code == 200 and f'id="slot-{world.free_slot}"' in page.text
    moved = await desk.post(f"{base}/time/{world.kari_appointment}/endre",
                            data={"slot": str(world.free_slot), "reason": "asked"})
    assert moved.status_code == 200, moved.text
    async with app.state.db.read() as s:
        new = (await s.execute(select(Appointment).where(
            Appointment.replaces_id == world.kari_appointment))).scalar_one()
    assert new.slot_id == world.free_slot and new.staff_note == "asked"
    no_reason = await desk.post(f"{base}/time/{new.id}/avbestill", data={"reason": " "})
    assert no_reason.status_code == 409
    cancelled = await desk.post(f"{base}/time/{new.id}/avbestill", data={"reason": "ill"})
    assert cancelled.status_code == 200
    async with app.state.db.read() as s:
        row = await s.get(Appointment, new.id)
    assert (row.status, row.cancellation_reason) == (AppointmentStatus.CANCELLED, "ill")


async def test_other_clinics_patients_and_bad_links_are_404_and_audited(app, world, desk):
    kari = patient_base(app, world.kari_id)
    cases = [
        ("get", f"{patient_base(app, world.kari_id, MAJORSTUEN)}/bestill", {}),
        ("get", f"{patient_base(app, world.kari_id, STAVANGER)}/bestill", {}),
        ("get", "/staff/klinikk/tannklinikken-grunerlokka/pasient/not-a-token/bestill", {}),
        ("get", f"{kari}/time/{world.per_appointment}", {}),
        ("post", f"{kari}/time/{world.per_appointment}/avbestill", {"reason": "x"}),
        ("post", f"{kari}/time/{world.per_appointment}/endre",
         {"slot": str(world.free_slot), "reason": "x"}),
        ("get", f"{patient_base(app, world.per_id)}/bestill", {}),  # no time here
        ("post", f"{patient_base(app, world.per_id, MAJORSTUEN)}/bestill",
         {"type": str(world.exam_id), "slot": str(world.free_slot), "reason": "x"}),
    ]
    for method, path, data in cases:
        response = await getattr(desk, method)(path, **({"data": data} if data else {}))
        assert response.status_code == 404, path
    assert len(await refusals(app)) == len(cases)
    assert await count(app, Appointment) == 3
    async with app.state.db.read() as s:
        per = await s.get(Appointment, world.per_appointment)
    assert per.status == AppointmentStatus.BOOKED


async def test_a_slot_of_another_clinic_is_refused_and_audited(app, world, desk):
    async with app.state.db.read() as s:
        other = (await s.execute(select(Slot.id).where(
            Slot.clinic_id != (await s.get(Slot, world.free_slot)).clinic_id))).scalars().first()
    response = await desk.post(f"{patient_base(app, world.kari_id)}/bestill", data={
        "type": str(world.exam_id), "slot": str(other), "reason": "x"})
    assert response.status_code == 409
    async with app.state.db.read() as s:
        scoped = (await s.execute(select(AuditEntry).where(
            AuditEntry.action == "staff.out_of_scope"))).scalars().all()
    assert len(scoped) == 1


async def test_cross_site_posts_and_other_roles_are_refused(app, world, staff, desk):
    base = patient_base(app, world.kari_id)
    form = {"type": str(world.exam_id), "slot": str(world.free_slot), "reason": "x"}
    forged = await desk.post(f"{base}/bestill", data=form,
                             headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    support = await staff("support-oslo")
    assert (await support.post(f"{base}/bestill", data=form)).status_code == 403
    assert await count(app, Appointment) == 3


async def test_without_login_the_page_asks_for_the_staff_login(app, world):
    async with browser(BASE_URL, httpx.ASGITransport(app=app)) as anonymous:
        response = await anonymous.get(f"{patient_base(app, world.kari_id)}/bestill")
    assert response.status_code in (302, 303, 401)


FIELDS = ("type", "slot", "day", "clock", "chair", "reason", "overbook", "overbook_reason",
          "key")


async def test_no_form_gives_a_server_error(app, world, desk):
    """Hypothesis over the on-behalf forms with the clinic's own slug and a
    valid link: odd ids, days, times and reasons give a page, never a 500."""
    import asyncio

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.web import fuzz

    fuzz.LOOP = asyncio.get_running_loop()
    base = patient_base(app, world.kari_id)
    good = st.sampled_from([str(world.exam_id), str(world.free_slot), str(world.chair_id),
                            world.day.strftime("%d.%m.%Y"), "31.02.2030", "02:30", "24:00",
                            "yes", "Phoned", "a\x00b", "k" * 70])
    paths = [("POST", f"{base}/bestill"), ("POST", f"{base}/innkall"),
             ("GET", f"{base}/bestill"), ("GET", f"{base}/time/{world.kari_appointment}"),
             ("POST", f"{base}/time/{world.kari_appointment}/endre"),
             ("POST", f"{base}/time/{world.kari_appointment}/avbestill")]

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        method, path = data.draw(st.sampled_from(paths), label="route")
        values = data.draw(st.dictionaries(st.sampled_from(FIELDS),
                                           st.one_of(fuzz.value, good), max_size=6))
        if method == "GET":
            response = fuzz.run(desk.get(path, params=values))
        else:
            response = fuzz.run(desk.post(path, data=values))
        assert response.status_code < 500, (method, path, values, response.status_code)

    await asyncio.to_thread(check)


async def test_control_characters_in_a_reason_are_no_server_error(app, world, desk):
    base = patient_base(app, world.kari_id)
    response = await desk.post(f"{base}/bestill", data={
        "type": str(world.exam_id), "slot": str(world.free_slot), "reason": "a\x00b\x07c"})
    assert response.status_code == 200
    async with app.state.db.read() as s:
        note = (await s.execute(select(Appointment.staff_note).where(
            Appointment.slot_id == world.free_slot))).scalar_one()
    assert note == "a b c"


async def test_county_admins_act_in_their_county_only(app, world, staff):
    oslo = await staff("county-admin-oslo")
    page = await oslo.get(f"{patient_base(app, world.kari_id, MAJORSTUEN)}/bestill")
    assert page.status_code == 200
    rogaland = await staff("county-admin-rogaland")
    refused = await rogaland.get(f"{patient_base(app, world.kari_id)}/bestill")
    assert refused.status_code == 404
    assert len(await refusals(app)) == 1


async def test_the_patients_page_leads_to_booking_changing_and_cancelling(app, world, desk):
    base = patient_base(app, world.kari_id)
    page = await desk.get(base)
    assert page.status_code == 200
    assert f'href="{base}/bestill"' in page.text
    assert f'href="{base}/time/{world.kari_appointment}"' in page.text
