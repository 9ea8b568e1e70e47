"""Call me back: a patient or guardian asks the clinic to call (a reason from
a closed list, a window today or tomorrow inside opening hours, Oslo time),
one waiting request per person and clinic, the state on Min side; the
clinic's staff list and mark done, audited, scoped to their clinics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from booking import callbacks
from booking.audit import Actor
from booking.callbacks import CallbackRefused, CallbackRequest, DayPart
from booking.models import Clinic
from tests import factories
from tests.web.previsit.world import ADULT_MOBILE, GUARDIAN_MOBILE, VisitWorld, audit_rows

OSLO = ZoneInfo("Europe/Oslo")


@pytest.fixture(autouse=True)
def open_for_calls(request: pytest.FixtureRequest) -> Iterator[None]:
    """The page tests need a window to choose: where the suite's moment offers
    none (a holiday, a weekend, late on a Friday), the clock moves on, a day
    at a time from the next Oslo midnight, to the first moment that does."""
    if "world" not in request.fixturenames:
        yield
        return
    clinic = Clinic(opening_hours=factories.OPENING_HOURS)
    now = moment = datetime.now(UTC)
    while not callbacks.windows(clinic, moment):
        day = moment.astimezone(OSLO).date() + timedelta(days=1)
        moment = datetime.combine(day, time(0, 1), tzinfo=OSLO).astimezone(UTC)
    if moment == now:
        yield
        return
    with time_machine.travel(moment, tick=True):
        yield


def ask_url(world: VisitWorld, for_id: int | None = None) -> str:
    return f"/klinikker/{world.clinic_slug}/ring-meg" + (f"?for={for_id}" if for_id else "")


def staff_url(slug: str) -> str:
    return f"/staff/klinikk/{slug}/ring-tilbake"


async def requests_of(app) -> list[CallbackRequest]:
    async with app.state.db.read() as session:
        return list((await session.execute(
            select(CallbackRequest).order_by(CallbackRequest.id))).scalars())


async def first_window(client, url: str) -> str:
    page = (await client.get(url)).text
    start = page.index('name="window" value="') + len('name="window" value="')
    return page[start:page.index('"', start)]


# --- windows (pure) -----------------------------------------------------------------------

def clinic_with(hours: dict[str, list[str]]) -> Clinic:
    return Clinic(opening_hours=hours)


WEEKDAYS = {str(d): ["08:00", "15:30"] for d in range(5)}


def at_oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO).astimezone(UTC)


def test_a_weekday_morning_offers_todays_and_tomorrows_windows():
    offered = callbacks.windows(clinic_with(WEEKDAYS), at_oslo(2026, 11, 18, 9, 15))
    assert [(w.day, w.part) for w in offered] == [
        (date(2026, 11, 18), DayPart.MORNING), (date(2026, 11, 18), DayPart.AFTERNOON),
        (date(2026, 11, 19), DayPart.MORNING), (date(2026, 11, 19), DayPart.AFTERNOON)]
    assert offered[0].starts_at == at_oslo(2026, 11, 18, 8, 0)
    assert offered[1].ends_at == at_oslo(2026, 11, 18, 15, 30)


def test_a_window_that_has_ended_is_not_offered_and_weekends_are_closed():
    friday_afternoon = at_oslo(2026, 11, 20, 13, 0)
    offered = callbacks.windows(clinic_with(WEEKDAYS), friday_afternoon)
    assert [(w.day, w.part) for w in offered] == [(date(2026, 11, 20), DayPart.AFTERNOON)]
    assert callbacks.windows(clinic_with(WEEKDAYS), at_oslo(2026, 11, 20, 16, 0)) == []


def test_a_public_holiday_is_closed():
    # 24 December is no public holiday, the 25th is.
    offered = callbacks.windows(clinic_with({str(d): ["08:00", "15:00"] for d in range(7)}),
                                at_oslo(2026, 12, 24, 9, 0))
    assert {w.day for w in offered} == {date(2026, 12, 24)}


def test_opening_hours_that_end_before_noon_have_no_afternoon():
    offered = callbacks.windows(clinic_with({"2": ["08:00", "11:30"]}),
                                at_oslo(2026, 11, 18, 7, 0))
    assert [(w.part, w.ends_at) for w in offered] == [
        (DayPart.MORNING, at_oslo(2026, 11, 18, 11, 30))]


def test_windows_are_right_across_the_spring_forward_night():
    """Saturday 28 March 2026 at 23:00: tomorrow (Sunday, the 23-hour day) the
    clinic opens at 08:00 summer time, 06:00 UTC, not 07:00."""
    every_day = {str(d): ["08:00", "16:00"] for d in range(7)}
    offered = callbacks.windows(clinic_with(every_day), at_oslo(2026, 3, 28, 23, 0))
    assert [(w.day, w.starts_at) for w in offered] == [
        (date(2026, 3, 29), datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),
        (date(2026, 3, 29), datetime(2026, 3, 29, 10, 0, tzinfo=UTC))]


# --- asking ---------------------------------------------------------------------------------

async def test_a_patient_asks_and_sees_the_state_on_min_side(app, world, logged_in):
    adult = await logged_in(world.adult)
    page = (await adult.get(ask_url(world))).text
    assert "+47 912 34 567" in page  # the number the clinic will call
    window = await first_window(adult, ask_url(world))
    response = await adult.post(ask_url(world), data={"reason": "appointment", "window": window})
    assert response.status_code == 303
    assert response.headers["location"] == ask_url(world) + "?sendt=1"
    [row] = await requests_of(app)
    assert (row.patient_id, row.requested_by_id, row.phone, row.status) == (
        world.adult.id, world.adult.id, ADULT_MOBILE, "waiting")
    home = (await adult.get("/min-side")).text
    assert f'id="my-callback-{row.id}"' in home and "Waiting for the clinic to call" in home
    [entry] = await audit_rows(app.state.db, callbacks.SAVED_ACTION)
    assert entry.subject_patient_id == world.adult.id and entry.on_behalf_of_id is None


async def test_the_clinic_page_and_the_appointment_page_lead_there(app, world, logged_in):
    adult = await logged_in(world.adult)
    clinic_page = (await adult.get(f"/klinikker/{world.clinic_slug}")).text
    assert f'href="{ask_url(world)}"' in clinic_page
    appointment_page = (await adult.get(f"/timer/{world.appointments['adult']}")).text
    assert f'href="{ask_url(world)}"' in appointment_page
    guardian = await logged_in(world.guardian)
    kid = world.children["11"]
    page = (await guardian.get(f"/timer/{world.appointments['11']}?for={kid.id}")).text
    assert f'href="{ask_url(world, kid.id)}"' in page.replace("&amp;", "&")


async def test_a_guardian_asks_about_a_child_and_is_called_on_their_own_number(
        app, world, logged_in):
    guardian = await logged_in(world.guardian)
    kid = world.children["15"]
    window = await first_window(guardian, ask_url(world, kid.id))
    response = await guardian.post(ask_url(world, kid.id),
                                   data={"reason": "pain", "window": window})
    assert response.status_code == 303
    [row] = await requests_of(app)
    assert (row.patient_id, row.requested_by_id, row.phone) == (
        kid.id, world.guardian.id, GUARDIAN_MOBILE)
    [entry] = await audit_rows(app.state.db, callbacks.SAVED_ACTION)
    assert entry.on_behalf_of_id == kid.id and entry.actor_kind == "guardian"


async def test_one_waiting_request_per_person_and_clinic(app, world, logged_in):
    adult = await logged_in(world.adult)
    window = await first_window(adult, ask_url(world))
    await adult.post(ask_url(world), data={"reason": "appointment", "window": window})
    again = await adult.post(ask_url(world), data={"reason": "other", "window": window})
    assert again.status_code == 400
    assert "You have already asked this clinic to call" in again.text
    assert len(await requests_of(app)) == 1


async def test_a_new_request_after_the_window_ended_replaces_the_old(app, world, logged_in):
    adult = await logged_in(world.adult)
    window = await first_window(adult, ask_url(world))
    await adult.post(ask_url(world), data={"reason": "appointment", "window": window})
    [old] = await requests_of(app)
    with time_machine.travel(old.window_ends_at, tick=True):
        adult = await logged_in(world.adult)
        window = await first_window(adult, ask_url(world))
        response = await adult.post(ask_url(world), data={"reason": "other", "window": window})
        assert response.status_code == 303
    assert [r.status for r in await requests_of(app)] == ["replaced", "waiting"]


@pytest.mark.parametrize(("data", "message"), [
    ({"reason": "", "window": "W"}, "Choose what the call is about."),
    ({"reason": "gossip", "window": "W"}, "Choose what the call is about."),
    ({"reason": "appointment", "window": ""}, "Choose when the clinic may call."),
    ({"reason": "appointment", "window": "2020-01-01:morning"},
     "That time is no longer available."),
    ({"reason": "appointment", "window": "2099-01-01:evening"},
     "That time is no longer available."),
    ({"reason": "appointment" * 50, "window": "x" * 5000}, "Choose what the call is about."),
])
async def test_bad_input_is_refused_plainly_and_nothing_changes(app, world, logged_in, data,
                                                                message):
    adult = await logged_in(world.adult)
    if data["window"] == "W":
        data = {**data, "window": await first_window(adult, ask_url(world))}
    response = await adult.post(ask_url(world), data=data)
    assert response.status_code == 400, response.status_code
    assert message in response.text
    assert await requests_of(app) == []


async def test_without_a_mobile_number_the_page_says_so_and_nothing_is_saved(app, world,
                                                                             logged_in):
    person = await logged_in(world.no_mobile)
    page = (await person.get(ask_url(world))).text
    assert 'id="callback-no-number"' in page and 'id="callback-form"' not in page
    response = await person.post(ask_url(world),
                                 data={"reason": "appointment", "window": "x"})
    assert response.status_code == 400 and "We have no mobile number for you" in response.text
    assert await requests_of(app) == []


@pytest.mark.parametrize("who", ["stranger_child", "16", "bad"])
async def test_another_familys_child_is_not_found(app, world, logged_in, who):
    guardian = await logged_in(world.guardian)
    target = {"stranger_child": world.stranger_child.id, "16": world.children["16"].id,
              "bad": "1e3"}[who]
    url = f"/klinikker/{world.clinic_slug}/ring-meg?for={target}"
    assert (await guardian.get(url)).status_code == 404
    assert (await guardian.post(url, data={"reason": "other", "window": "x"})).status_code \
        == 404
    assert await requests_of(app) == []
    if who != "bad":
        assert len(await audit_rows(app.state.db, "access.refused")) == 2


async def test_an_unknown_clinic_is_not_found(app, world, logged_in):
    adult = await logged_in(world.adult)
    assert (await adult.get("/klinikker/no-such-clinic/ring-meg")).status_code == 404
    assert (await adult.post("/klinikker/no-such-clinic/ring-meg",
                             data={"reason": "other"})).status_code == 404


# --- the clinic's list ---------------------------------------------------------------------

async def _ask(app, world, logged_in) -> CallbackRequest:
    guardian = await logged_in(world.guardian)
    kid = world.children["11"]
    window = await first_window(guardian, ask_url(world, kid.id))
    await guardian.post(ask_url(world, kid.id), data={"reason": "appointment", "window": window})
    [row] = await requests_of(app)
    return row


async def test_reception_lists_calls_with_the_number_and_marks_one_done(app, world, logged_in,
                                                                       staff):
    row = await _ask(app, world, logged_in)
    reception = await staff("reception-grunerlokka")
    page = (await reception.get(staff_url(world.clinic_slug))).text
    assert f'id="callback-{row.id}"' in page
    assert "+47 987 65 432" in page and 'href="tel:+4798765432"' in page
    assert "Emma Besøksen" in page and "Asked by Ingrid Besøksen" in page
    [listed] = await audit_rows(app.state.db, callbacks.LIST_ACTION)
    assert listed.subject_patient_id == world.children["11"].id
    response = await reception.post(f"{staff_url(world.clinic_slug)}/{row.id}")
    assert response.status_code == 303
    [done] = await requests_of(app)
    assert done.status == "done" and done.done_by_name == "Hanne Resepsjon"
    [entry] = await audit_rows(app.state.db, callbacks.DONE_ACTION)
    assert entry.detail == {"callback_id": row.id}
    page = (await reception.get(staff_url(world.clinic_slug))).text
    assert 'id="callbacks-empty"' in page and "Done by Hanne Resepsjon" in page
    guardian = await logged_in(world.guardian)
    assert "The clinic has called" in (await guardian.get("/min-side")).text


async def test_county_wide_roles_see_their_countys_clinics(app, world, logged_in, staff):
    row = await _ask(app, world, logged_in)
    support = await staff("support-oslo")
    assert f'id="callback-{row.id}"' in (await support.get(staff_url(world.clinic_slug))).text


@pytest.mark.parametrize("user", ["clinic-admin-majorstuen", "county-admin-rogaland"])
async def test_another_clinics_staff_get_not_found_and_an_audit_entry(app, world, logged_in,
                                                                      staff, user):
    row = await _ask(app, world, logged_in)
    other = await staff(user)
    assert (await other.get(staff_url(world.clinic_slug))).status_code == 404
    assert (await other.post(f"{staff_url(world.clinic_slug)}/{row.id}")).status_code == 404
    assert [r.status for r in await requests_of(app)] == ["waiting"]
    assert len(await audit_rows(app.state.db, callbacks.REFUSED_ACTION)) == 2


async def test_a_request_of_another_clinic_cannot_be_marked_through_ones_own(
        app, world, logged_in, staff):
    row = await _ask(app, world, logged_in)
    admin = await staff("clinic-admin-majorstuen")
    response = await admin.post(f"{staff_url(world.other_clinic_slug)}/{row.id}")
    assert response.status_code == 404
    assert [r.status for r in await requests_of(app)] == ["waiting"]
    [refused] = await audit_rows(app.state.db, callbacks.REFUSED_ACTION)
    assert refused.subject_patient_id == world.children["11"].id
    for bad in ("x", "-1", "99999999999999999999"):
        assert (await admin.post(f"{staff_url(world.other_clinic_slug)}/{bad}")
                ).status_code == 404


async def test_patients_get_no_staff_page(app, world, logged_in):
    adult = await logged_in(world.adult)
    response = await adult.get(staff_url(world.clinic_slug))
    assert response.status_code in (302, 303, 401, 403)


# --- concurrency (PostgreSQL) ---------------------------------------------------------------

@pytest.mark.postgres
async def test_requests_sent_at_once_make_one(pg_db):
    async with pg_db.write() as session:
        county = await factories.county(session)
        clinic = await factories.clinic(session, county)
        patient = await factories.patient(session)
    now = at_oslo(2026, 11, 18, 9, 15)
    window = callbacks.windows(clinic, now)[0].key

    async def ask() -> str:
        try:
            await callbacks.request_call(
                pg_db, Actor.patient(patient.id), patient_id=patient.id,
                requested_by_id=patient.id, clinic=clinic, reason="other", window_key=window,
                phone="+4791234567", now=now)
        except CallbackRefused as refused:
            return refused.code
        return "ok"

    results = await asyncio.gather(*(ask() for _ in range(20)))
    assert sorted(set(results)) == ["already_waiting", "ok"] and results.count("ok") == 1
    async with pg_db.read() as session:
        assert len((await session.execute(select(CallbackRequest))).scalars().all()) == 1


async def test_requests_are_deleted_with_their_numbers_after_the_retention(app, world,
                                                                         logged_in):
    row = await _ask(app, world, logged_in)
    retention = timedelta(days=7)
    db = app.state.db
    assert await callbacks.delete_old(db, row.window_ends_at + retention - timedelta(minutes=1),
                                      retention) == 0
    assert await callbacks.delete_old(db, row.window_ends_at + retention, retention) == 1
    assert await requests_of(app) == []
