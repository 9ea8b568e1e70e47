"""``/min-side``: the next appointments of the user and of each child they
may act for today, with what can be done now and the way to book."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from core.db import utcnow
from tests.pages import html, text_of
from tests.web.patient.world import (
    World,
    add_appointment,
    appointment_row,
    audit_entries,
    hours_from_now,
)
from web import i18n


def section(soup: BeautifulSoup, patient_id: int) -> BeautifulSoup:
    heading = soup.select_one(f"#person-{patient_id}-heading")
    assert heading is not None, f"no section for patient {patient_id}"
    found = heading.find_parent("section")
    assert found is not None
    return found


async def test_login_is_required(anonymous, world: World) -> None:
    response = await anonymous.get("/min-side")
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?next=/min-side"
    htmx = await anonymous.get("/timer", headers={"HX-Request": "true",
                                                   "HX-Current-URL": "http://127.0.0.1:8000/timer"})
    assert htmx.status_code == 401
    assert htmx.headers["hx-redirect"] == "/auth/login?next=/timer"


async def test_home_shows_own_and_represented_childrens_appointments(
        app, world: World, logged_in) -> None:
    client = await logged_in(world.guardian)
    response = await client.get("/min-side", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    soup = html(response)
    assert text_of(soup, "h1") == "My page"

    i18n.set_locale("en")
    own = await appointment_row(app, world.appointments["guardian"])
    emma_row = await appointment_row(app, world.appointments["child11"])
    jonas_row = await appointment_row(app, world.appointments["child13"])
    # One short list, soonest first, name first, state, one action.
    rows = soup.select(".next-list__item")
    assert [(text_of(row, ".next-list__who"), row.select_one("time").get_text(),
             text_of(row, ".ds-tag")) for row in rows] == [
        ("Me", i18n.format_when(own.starts_at, "en"), "Booked"),
        ("Emma", i18n.format_when(emma_row.starts_at, "en"), "Booked"),
        ("Jonas", i18n.format_when(jonas_row.starts_at, "en"), "Booked"),
    ]
    for row, appointment_id in zip(rows, (own.id, emma_row.id, jonas_row.id), strict=True):
        # The details one tap away; nothing to confirm (the clinic asked nothing).
        assert row.select_one(f"a[href='/timer/{appointment_id}']") is not None
        assert row.select("form, .ds-button") == []
    assert soup.select_one("form.confirm-all") is None
    # No four buttons per appointment any more.
    assert soup.select(f"a[href='/timer/{own.id}/avbestill'], a[href='/timer/{own.id}/endre']"
                       ) == []

    mine = section(soup, world.guardian.id)
    assert text_of(mine, "h2") == "Your appointments"
    assert mine.select_one("a[href='/bestill']") is not None
    emma = section(soup, world.child11.id)
    assert text_of(emma, "h2") == "Emma (11 years old)"
    assert emma.select_one(f"a[href='/bestill?for={world.child11.id}']") is not None
    # 13: logistics only: the time and place, not the kind of appointment.
    jonas = section(soup, world.child13.id)
    assert text_of(jonas, "h2") == "Jonas (13 years old)"
    assert "Tannklinikken Testby" in text_of(soup, f"#next-{jonas_row.id}")
    assert "Child check-up" not in soup.get_text()

    # 16: no section, no time; the reason instead.
    assert soup.select_one(f"#person-{world.child16.id}-heading") is None
    sara_row = await appointment_row(app, world.appointments["child16"])
    assert i18n.format_when(sara_row.starts_at, "en") not in soup.get_text()
    unavailable = [" ".join(li.get_text().split()) for li in soup.select(".unavailable-list li")]
    assert unavailable == ["Sara: From the age of 16, young people decide about their own "
                           "health care. They can log in and manage their appointments "
                           "themselves."]

    # Nobody else's appointments.
    for name in ("stranger", "stranger_child", "adult"):
        assert soup.select_one(f"a[href='/timer/{world.appointments[name]}']") is None

    views = await audit_entries(app, action="appointments.view")
    assert sorted((e.subject_patient_id, e.on_behalf_of_id, e.purpose, e.actor_id)
                  for e in views) == sorted([
        (world.child11.id, world.child11.id, "guardian_for_child",
         f"patient:{world.guardian.id}"),
        (world.child13.id, world.child13.id, "guardian_for_child",
         f"patient:{world.guardian.id}"),
    ])


async def _innkalling(app, world: World, patient_id: int, hours: float) -> int:
    async with app.state.db.write() as session:
        row = await add_appointment(session, world.clinic, patient_id, world.child_type,
                                    hours_from_now(hours), clinic_issued=True)
        return row.id


CONFIRM_ALL = {
    "nb": ("Bekreft alle 2 timene som venter på svar", "Venter på svar",
           "2 timer er bekreftet.", "Bekreft at Emma kommer"),
    "nn": ("Stadfest alle 2 timane som ventar på svar", "Ventar på svar",
           "2 timar er stadfesta.", "Stadfest at Emma kjem"),
    "en": ("Confirm all 2 appointments that await an answer", "Awaiting your answer",
           "2 appointments are confirmed.", "Confirm that Emma is coming"),
    "se": ("Duođaš goappašiid 2 áiggi mat vuordiba vástádusa", "Vuordá du vástádusa",
           "2 áiggi leaba duođaštuvvon.", "Duođaš ahte Emma boahtá"),
}


@pytest.mark.parametrize("lang", sorted(CONFIRM_ALL))
async def test_confirm_all_confirms_each_and_audits_each(app, world: World, logged_in,
                                                          lang: str) -> None:
    button, waiting, done, one = CONFIRM_ALL[lang]
    emma = await _innkalling(app, world, world.child11.id, 24 * 10)
    jonas = await _innkalling(app, world, world.child13.id, 24 * 11)
    client = await logged_in(world.guardian)
    chosen = await client.post("/language", data={"lang": lang, "next": "/min-side"})
    assert chosen.status_code == 303
    soup = html(await client.get("/min-side"))
    form = soup.select_one("form.confirm-all")
    assert form is not None and form["method"] == "post"
    assert text_of(form, "button") == button
    assert sorted(int(i["value"]) for i in form.select("input[name=appointment]")) == sorted(
        [emma, jonas])
    assert text_of(soup, f"#next-{emma} .ds-tag") == waiting
    assert text_of(soup, f"#next-{emma} form button") == one

    response = await client.post("/min-side/bekreft-alle",
                                 data={"appointment": [str(emma), str(jonas)]})
    assert response.status_code == 303
    after = html(await client.get(response.headers["location"]))
    assert text_of(after, ".notice") == done
    assert (await appointment_row(app, emma)).status == "confirmed"
    assert (await appointment_row(app, jonas)).status == "confirmed"
    confirmed = await audit_entries(app, action="appointment.confirm")
    assert sorted((e.detail["appointment_id"], e.subject_patient_id, e.purpose)
                  for e in confirmed) == sorted([
        (emma, world.child11.id, "guardian_for_child"),
        (jonas, world.child13.id, "guardian_for_child")])
    assert after.select_one("form.confirm-all") is None


async def test_confirm_all_reports_what_could_not_be_confirmed(app, world: World,
                                                                logged_in) -> None:
    emma = await _innkalling(app, world, world.child11.id, 24 * 10)
    started = await _innkalling(app, world, world.child13.id, -0.1)
    stranger = await _innkalling(app, world, world.stranger_child.id, 24 * 10)
    client = await logged_in(world.guardian)
    response = await client.post("/min-side/bekreft-alle", data={
        "appointment": [str(emma), str(started), str(stranger)]})
    assert response.status_code == 303
    soup = html(await client.get(response.headers["location"],
                                 headers={"Accept-Language": "en"}))
    assert text_of(soup, ".notice") == (
        "1 appointment is confirmed. 2 appointments could not be confirmed. "
        "They are still marked in the list.")
    assert (await appointment_row(app, emma)).status == "confirmed"
    assert (await appointment_row(app, started)).status == "booked"
    assert (await appointment_row(app, stranger)).status == "booked"
    # The attempt on another family's child is in that child's log.
    assert len(await audit_entries(app, action="access.refused",
                                   subject=world.stranger_child.id)) == 1


async def test_confirm_all_refuses_bad_input_and_cross_site_posts(app, world: World,
                                                                   logged_in) -> None:
    emma = await _innkalling(app, world, world.child11.id, 24 * 10)
    client = await logged_in(world.guardian)
    for data in ({}, {"appointment": "abc"}, {"appointment": [str(emma), "-1"]}):
        response = await client.post("/min-side/bekreft-alle", data=data,
                                     headers={"Accept-Language": "en"})
        assert response.status_code == 400, data
        assert "<html" in response.text
    cross = await client.post("/min-side/bekreft-alle", data={"appointment": str(emma)},
                              headers={"Origin": "https://evil.example",
                                       "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert (await appointment_row(app, emma)).status == "booked"


async def test_an_adult_without_children_sees_only_their_own(app, world: World,
                                                              logged_in) -> None:
    client = await logged_in(world.adult)
    soup = html(await client.get("/min-side"))
    assert len(soup.select("section.person-section")) == 1
    assert soup.select_one(".person-switcher") is None
    assert soup.select_one(".unavailable-list") is None
    row = await appointment_row(app, world.appointments["adult"])
    assert soup.select_one(f"a[href='/timer/{row.id}']") is not None
    assert row.starts_at > utcnow()
    # A patient's own view is not a guardian's: nothing audited.
    assert await audit_entries(app, action="appointments.view") == []


async def speak(client, lang: str) -> None:
    """Choose the pages' language the way a user does."""
    chosen = await client.post("/language", data={"lang": lang, "next": "/min-side"})
    assert chosen.status_code == 303


@pytest.mark.parametrize(("lang", "no_number"), [
    ("nb", "Vi har ikke noe mobilnummer til deg, så du får ingen påminnelser på SMS."),
    ("nn", "Vi har ikkje noko mobilnummer til deg, så du får ingen påminningar på SMS."),
    ("en", "We have no mobile number for you, so you will get no reminders by text message."),
    ("se", "Mis ii leat du mobiilanummir, nu ahte it oaččo muittuhusaid SMS:in."),
])
async def test_home_tells_a_person_without_a_number_that_no_reminders_come(
        app, world: World, logged_in, lang: str, no_number: str) -> None:
    from booking.models import Patient
    async with app.state.db.write() as session:
        guardian = await session.get(Patient, world.guardian.id)
        assert guardian is not None
        guardian.mobile = None
    client = await logged_in(world.guardian)
    await speak(client, lang)
    soup = html(await client.get("/min-side"))
    assert text_of(soup, ".no-mobile p").startswith(no_number)
    assert soup.select_one(".no-mobile a[href='/profil']") is not None
    # After the list of next appointments, so the main action stays first.
    assert soup.select_one("#next-heading ~ .no-mobile, section + .no-mobile") is not None
    async with app.state.db.write() as session:
        guardian = await session.get(Patient, world.guardian.id)
        assert guardian is not None
        guardian.mobile = "+4791234501"
    soup = html(await client.get("/min-side"))
    assert soup.select_one(".no-mobile") is None
