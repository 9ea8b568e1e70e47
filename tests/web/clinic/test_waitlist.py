"""The clinic puts a patient on the waitlist from the appointment's page for
staff, changes the wishes and takes the patient off, always with a reason;
the clinic's waitlist page. Audited, scoped, bad input changes nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from booking import service, waitlist
from booking.audit import Actor
from booking.models import AuditEntry, Clinic
from booking.refill_models import WaitlistEntry
from booking.statuses import WaitlistStatus
from booking.waitlist import Wishes
from tests.pages import html, text_of
from tests.web.clinic.conftest import StaffBrowser
from tests.web.clinic.desk_world import DeskWorld, build_world, patient_base
from tests.web.clinic.world import GRUNERLOKKA, STAVANGER

ADD = "Put on the waitlist"


@pytest.fixture
async def desk_world(app: Starlette) -> DeskWorld:
    return await build_world(app.state.db)


@pytest.fixture
async def desk(staff: StaffBrowser, desk_world: DeskWorld) -> httpx.AsyncClient:
    return await staff("reception-grunerlokka")


async def entries(app: Starlette) -> list[WaitlistEntry]:
    async with app.state.db.read() as s:
        return list((await s.execute(select(WaitlistEntry).order_by(WaitlistEntry.id)))
                    .scalars())


async def audit(app: Starlette, action: str) -> list[AuditEntry]:
    async with app.state.db.read() as s:
        return list((await s.execute(select(AuditEntry).where(AuditEntry.action == action)
                                     .order_by(AuditEntry.id))).scalars())


async def clinic_id(app: Starlette, slug: str) -> int:
    async with app.state.db.read() as s:
        return (await s.execute(select(Clinic.id).where(Clinic.slug == slug))).scalar_one()


async def form(app: Starlette, **changes) -> dict:
    return {"clinic": [str(await clinic_id(app, GRUNERLOKKA))], "weekday": [],
            "earliest": "", "latest": "", "notice": "24", "reason": "Phoned in", **changes}


def page_of(app: Starlette, world: DeskWorld) -> str:
    return f"{patient_base(app, world.kari_id)}/time/{world.kari_appointment}"


async def test_staff_put_on_change_and_take_off_with_a_reason(app, desk_world, desk):
    path = page_of(app, desk_world)
    page = html(await desk.get(path))
    assert text_of(page, "#waitlist-save") == ADD
    assert "not on the waitlist" in text_of(page, "#waitlist-entry")
    added = await desk.post(f"{path}/venteliste", data=await form(
        app, weekday=["0", "2"], earliest="09:00", latest="14:00", notice="48"))
    assert added.status_code == 303
    assert added.headers["location"] == f"{path}?venteliste=lagt#waitlist"
    shown = html(await desk.get(added.headers["location"]))
    assert "on the waitlist with these wishes" in text_of(shown, "#waitlist-done")
    assert "put on by: The clinic" in text_of(shown, "#waitlist-entry")
    assert shown.select_one("#wl-day-0").has_attr("checked")
    assert shown.select_one("#wl-earliest option[selected]")["value"] == "09:00"
    [entry] = await entries(app)
    assert (entry.weekdays, entry.notice_hours, entry.created_by_kind, entry.created_by,
            entry.staff_note) == ([0, 2], 48, "staff", "staff:reception-grunerlokka",
                                  "Phoned in")

    changed = await desk.post(f"{path}/venteliste",
                              data=await form(app, notice="72", reason="Asked again"))
    assert changed.status_code == 303
    [entry] = await entries(app)
    assert (entry.notice_hours, entry.weekdays, entry.staff_note) == (72, [], "Asked again")

    no_reason = await desk.post(f"{path}/venteliste/fjern", data={"reason": " "})
    assert no_reason.status_code == 400
    assert "Write why you are doing this for the patient." in no_reason.text
    assert html(no_reason).select_one("#error-summary a")["href"] == "#wl-remove-reason"
    assert (await entries(app))[0].status == WaitlistStatus.WAITING
    removed = await desk.post(f"{path}/venteliste/fjern", data={"reason": "Took a time"})
    assert removed.status_code == 303 and "venteliste=fjernet" in removed.headers["location"]
    [entry] = await entries(app)
    assert (entry.status, entry.closed_note) == (WaitlistStatus.WITHDRAWN, "Took a time")
    again = html(await desk.get(path))
    assert text_of(again, "#waitlist-save") == ADD and not again.select("#waitlist-remove")

    actions = [(e.action, e.actor_id, e.purpose, e.subject_patient_id, e.detail)
               for e in await audit(app, "waitlist.add") + await audit(app, "waitlist.update")
               + await audit(app, "waitlist.withdraw")]
    assert [a[:4] for a in actions] == [
        ("waitlist.add", "staff:reception-grunerlokka", "reception", desk_world.kari_id),
        ("waitlist.update", "staff:reception-grunerlokka", "reception", desk_world.kari_id),
        ("waitlist.withdraw", "staff:reception-grunerlokka", "reception", desk_world.kari_id)]
    assert all(a[4]["reason_given"] is True for a in actions)
    assert not any("Phoned" in str(a[4]) or "Took" in str(a[4]) for a in actions)


@pytest.mark.parametrize("changes", [
    {"reason": ""}, {"reason": "\x00 "}, {"weekday": ["9"]}, {"clinic": ["x"]}, {"notice": "5"},
    {"notice": ""}, {"earliest": "25:00"}, {"earliest": "15:00", "latest": "09:00"},
    {"clinic": []}, {"latest": "14:30"}])
async def test_bad_input_says_why_and_changes_nothing(app, desk_world, desk, changes):
    path = page_of(app, desk_world)
    before = len(await audit(app, "waitlist.add"))
    response = await desk.post(f"{path}/venteliste", data=await form(app, **changes))
    assert response.status_code == 400, changes
    page = html(response)
    summary = text_of(page, "#error-summary")
    assert ("Write why" in summary or "Please check the weekdays" in summary
            or "at least one clinic" in summary), summary
    assert page.title.get_text().startswith("Error:")
    assert await entries(app) == []
    assert len(await audit(app, "waitlist.add")) == before


async def test_the_form_sent_back_keeps_what_was_chosen(app, desk_world, desk):
    path = page_of(app, desk_world)
    response = await desk.post(f"{path}/venteliste", data=await form(
        app, weekday=["1", "3"], earliest="10:00", notice="72", reason=""))
    page = html(response)
    assert response.status_code == 400
    assert page.select_one("#wl-day-1").has_attr("checked")
    assert not page.select_one("#wl-day-0").has_attr("checked")
    assert page.select_one("#wl-notice option[selected]")["value"] == "72"
    assert page.select_one("#wl-reason")["aria-invalid"] == "true"


async def test_a_clinic_of_another_county_in_the_wishes_is_refused(app, desk_world, desk):
    path = page_of(app, desk_world)
    stavanger = await clinic_id(app, STAVANGER)
    own = await clinic_id(app, GRUNERLOKKA)
    response = await desk.post(f"{path}/venteliste",
                               data=await form(app, clinic=[str(own), str(stavanger)]))
    assert response.status_code == 400
    assert "at least one clinic in your county" in response.text
    assert await entries(app) == []


async def test_a_cancelled_appointment_cannot_be_put_on_the_waitlist(app, desk_world, desk):
    await service.cancel(app.state.db, Actor.patient(desk_world.kari_id),
                         appointment_id=desk_world.kari_appointment)
    path = page_of(app, desk_world)
    page = html(await desk.get(path))
    assert page.select("#waitlist-form") == []
    response = await desk.post(f"{path}/venteliste", data=await form(app))
    assert response.status_code == 409
    assert await entries(app) == []


async def test_the_clinics_waitlist_and_opening_a_line(app, desk_world, desk):
    db = app.state.db
    own = await clinic_id(app, GRUNERLOKKA)
    path = page_of(app, desk_world)
    await desk.post(f"{path}/venteliste", data=await form(app, weekday=["4"]))
    async with db.read() as s:
        from booking.models import Appointment
        eva_appointment = (await s.execute(select(Appointment.id).where(
            Appointment.patient_id == desk_world.eva_id))).scalar_one()
    await waitlist.add(db, Actor.patient(desk_world.eva_id), appointment_id=eva_appointment,
                       wishes=Wishes(frozenset({own})))
    # Per waits for his Majorstuen appointment: not on Grünerløkka's list.
    await waitlist.add(db, Actor.patient(desk_world.per_id),
                       appointment_id=desk_world.per_appointment,
                       wishes=Wishes(frozenset({await clinic_id(app, "tannklinikken-majorstuen"),
                                                own})))
    listing = await desk.get(f"/staff/klinikk/{GRUNERLOKKA}/venteliste")
    assert listing.status_code == 200
    page = html(listing)
    rows = page.select("#waitlist-table tbody tr")
    assert [r.th.get_text(" ", strip=True) for r in rows] == ["Kari Nordmann", "Eva Berg"]
    assert [r.select("td")[-1].get_text(strip=True) for r in rows] == [
        "The clinic", "The patient"]
    assert "Friday" in rows[0].get_text() and "24 hours' notice" in rows[0].get_text()
    assert "Hansen" not in listing.text
    assert page.select_one('nav.clinic-nav a[href$="/venteliste"]') is not None
    [viewed] = await audit(app, "clinic.waitlist.view")
    assert viewed.actor_id == "staff:reception-grunerlokka" and viewed.subject_patient_id is None
    assert len(viewed.detail["waitlist_entry_ids"]) == 2
    opened = await desk.get(rows[0].th.a["href"])
    assert opened.status_code == 200 and "Kari Nordmann" in opened.text
    [view] = await audit(app, "clinic.patient.view")
    assert (view.subject_patient_id, view.detail["lookup_purpose"]) == (
        desk_world.kari_id, "waitlist")
    link = html(opened).select_one(f"#waitlist-{desk_world.kari_appointment}")
    assert link.get_text(" ", strip=True).startswith("On the waitlist since")
    assert link["href"].endswith(f"/time/{desk_world.kari_appointment}#waitlist")


async def test_an_empty_waitlist_says_so(app, desk_world, desk):
    page = html(await desk.get(f"/staff/klinikk/{GRUNERLOKKA}/venteliste"))
    assert "Nobody is waiting" in text_of(page, "#waitlist-empty")


async def test_other_counties_roles_and_cross_site_posts_change_nothing(
        app, desk_world, desk, staff):
    path = page_of(app, desk_world)
    rogaland = await staff("county-admin-rogaland")
    for method, url, data in (("post", f"{path}/venteliste", await form(app)),
                              ("post", f"{path}/venteliste/fjern", {"reason": "x"}),
                              ("get", f"/staff/klinikk/{GRUNERLOKKA}/venteliste", None)):
        before = len(await audit(app, "clinic.access.refused"))
        response = await getattr(rogaland, method)(url, **({"data": data} if data else {}))
        assert response.status_code == 404
        assert len(await audit(app, "clinic.access.refused")) == before + 1
    forged = await desk.post(f"{path}/venteliste", data=await form(app), headers={
        "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403
    support = await staff("support-oslo")
    assert (await support.post(f"{path}/venteliste", data=await form(app))).status_code == 403
    assert (await support.get(f"/staff/klinikk/{GRUNERLOKKA}/venteliste")).status_code == 403
    assert await entries(app) == []


async def test_a_patient_entry_changed_by_staff_stays_the_patients_and_needs_no_js(
        app, desk_world, desk):
    await waitlist.add(app.state.db, Actor.patient(desk_world.kari_id),
                       appointment_id=desk_world.kari_appointment,
                       wishes=Wishes(frozenset({await clinic_id(app, GRUNERLOKKA)})))
    path = page_of(app, desk_world)
    page = html(await desk.get(path))
    assert "put on by: The patient" in text_of(page, "#waitlist-entry")
    form_tag = page.select_one("#waitlist-form")
    assert form_tag["method"] == "post" and form_tag["action"] == f"{path}/venteliste"
    assert page.select("script[src*=waitlist]") == []
    assert page.select_one("#wl-reason").has_attr("required")


async def test_no_form_gives_a_server_error(app, desk_world, desk):
    import asyncio

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.web import fuzz

    fuzz.LOOP = asyncio.get_running_loop()
    path = page_of(app, desk_world)
    good = st.sampled_from(["0", "6", "24", "09:00", "17:00", "Phoned", "a\x00b", "k" * 300,
                            str(await clinic_id(app, GRUNERLOKKA))])
    names = st.sampled_from(["clinic", "weekday", "earliest", "latest", "notice", "reason"])

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        target = data.draw(st.sampled_from([f"{path}/venteliste", f"{path}/venteliste/fjern"]))
        values = data.draw(st.dictionaries(names, st.one_of(fuzz.value, good), max_size=6))
        response = fuzz.run(desk.post(target, data=values))
        assert response.status_code < 500, (target, values, response.status_code)

    await asyncio.to_thread(check)


async def test_the_error_and_the_form_are_in_the_users_language(app, desk_world, desk):
    path = page_of(app, desk_world)
    response = await desk.post(f"{path}/venteliste", data=await form(app, reason=""),
                               headers={"Accept-Language": "nn"})
    assert response.status_code == 400
    page = html(response)
    assert "Skriv kvifor du gjer dette for pasienten." in text_of(page, "#error-summary")
    assert text_of(page, "#waitlist-heading") == "Venteliste for ein tidlegare time"
    assert text_of(page, "label[for=wl-notice]") == "Varsel pasienten treng"
