"""``/timer`` and ``/timer/{id}``: status, clinic, time, what can be done, and
why not, for the patient and for the children they act for."""

from __future__ import annotations

from sqlalchemy import select

from booking.models import AppointmentType, BookingEvent
from tests.pages import html, text_of
from tests.web.patient.world import (
    CLINIC_PHONE,
    CLINIC_PHONE_SHOWN,
    World,
    add_appointment,
    appointment_row,
    audit_entries,
    hours_from_now,
)
from web import i18n

EN = {"Accept-Language": "en"}


async def new_appointment(app, world: World, patient_id: int, kind: AppointmentType,
                          hours: float) -> int:
    async with app.state.db.write() as session:
        row = await add_appointment(session, world.clinic, patient_id, kind,
                                    hours_from_now(hours))
        return row.id


async def test_the_list_shows_upcoming_and_past_with_status_words(app, world: World,
                                                                  logged_in) -> None:
    client = await logged_in(world.guardian)
    response = await client.get(f"/timer?for={world.child11.id}", headers=EN)
    assert response.status_code == 200
    soup = html(response)
    assert text_of(soup, "h1") == "Appointments for Emma"
    assert text_of(soup, ".acting-banner__who") == (
        "You are acting on behalf of Emma (11 years old).")
    switcher = [(a.get_text(strip=True), a["href"], a.get("aria-current"))
                for a in soup.select(".person-switcher__link")]
    assert switcher == [
        ("Me", "/timer", None),
        ("Jonas", f"/timer?for={world.child13.id}", None),  # oldest child first
        ("Emma", f"/timer?for={world.child11.id}", "true"),
    ]
    i18n.set_locale("en")
    upcoming = await appointment_row(app, world.appointments["child11"])
    past = await appointment_row(app, world.appointments["child11_past"])
    card = soup.select_one(f"#appointment-{upcoming.id}-when")
    assert card is not None and card.get_text(strip=True) == i18n.format_when(upcoming.starts_at)
    assert text_of(soup, f"#status-{upcoming.id} .ds-tag") == "Booked"
    earlier = soup.select(".earlier-list__item")
    assert len(earlier) == 1
    assert earlier[0].select_one("time").get_text() == i18n.format_when(past.starts_at)
    assert earlier[0].select_one(".ds-tag").get_text() == "Attended"
    assert "Child check-up" in earlier[0].get_text()
    assert soup.select_one(f"a.ds-button[href='/bestill?for={world.child11.id}']") is not None


async def test_guardian_of_an_11_year_old_sees_and_cancels(app, world: World,
                                                           logged_in) -> None:
    client = await logged_in(world.guardian)
    appointment_id = world.appointments["child11"]
    page = await client.get(f"/timer/{appointment_id}", headers=EN)
    assert page.status_code == 200
    soup = html(page)
    assert text_of(soup, ".acting-banner__who") == (
        "You are acting on behalf of Emma (11 years old).")
    assert "Child check-up" in text_of(soup, ".appointment-place")
    assert soup.select_one(f"a[href='/timer/{appointment_id}/avbestill']") is not None

    step = await client.get(f"/timer/{appointment_id}/avbestill", headers=EN)
    assert step.status_code == 200
    soup = html(step)
    assert text_of(soup, "h1") == "Cancel appointment"
    assert soup.select_one(".fee-warning") is None  # children are never charged
    form = soup.select_one(f"form[action='/timer/{appointment_id}/avbestill']")
    assert form is not None and form["method"] == "post"

    done = await client.post(f"/timer/{appointment_id}/avbestill", data={})
    assert done.status_code == 303
    assert done.headers["location"] == f"/timer/{appointment_id}?avbestilt=1"
    row = await appointment_row(app, appointment_id)
    assert row.status == "cancelled"
    assert row.cancelled_by == f"patient:{world.guardian.id}"
    [entry] = await audit_entries(app, action="appointment.cancel")
    assert (entry.actor_kind, entry.actor_id, entry.subject_patient_id, entry.on_behalf_of_id,
            entry.purpose) == ("guardian", f"patient:{world.guardian.id}", world.child11.id,
                               world.child11.id, "guardian_for_child")

    after = html(await client.get(done.headers["location"], headers=EN))
    assert text_of(after, f"#status-{appointment_id} .ds-tag") == "Cancelled"
    # The result leads with what happened, before the time, and offers a new one.
    lead = after.select_one("main .cancel-result")
    assert lead is not None and lead.get_text(strip=True) == (
        "The appointment is cancelled. The time is free for someone else.")
    assert after.select_one("main h1").find_previous(class_="cancel-result") is lead
    book = after.select_one(f"a.ds-button[href='/bestill?for={world.child11.id}']")
    assert book is not None and book.get_text(strip=True) == "Book a new time"
    assert after.select_one(f"a[href='/timer/{appointment_id}/avbestill']") is None


async def test_guardian_of_a_13_year_old_sees_times_only(app, world: World,
                                                         logged_in) -> None:
    client = await logged_in(world.guardian)
    i18n.set_locale("en")
    soup = html(await client.get(f"/timer?for={world.child13.id}", headers=EN))
    upcoming = await appointment_row(app, world.appointments["child13"])
    past = await appointment_row(app, world.appointments["child13_past"])
    assert text_of(soup, f"#appointment-{upcoming.id}-when") == i18n.format_when(
        upcoming.starts_at)
    assert "Young people aged 12 to 15 may keep information" in text_of(soup, ".acting-banner")
    assert "check-up" not in soup.get_text()
    # Whether he came is not logistics.
    [earlier] = soup.select(".earlier-list__item")
    assert earlier.select_one("time").get_text() == i18n.format_when(past.starts_at)
    assert earlier.select_one(".ds-tag").get_text() == "Past"
    assert "Attended" not in soup.get_text()
    # He may still be booked, changed and cancelled for; the clinic has not
    # asked for an answer, so there is nothing to confirm.
    assert text_of(soup, f"#status-{upcoming.id} .ds-tag") == "Booked"
    assert soup.select_one(f"form[action='/timer/{upcoming.id}/bekreft']") is None
    assert soup.select_one(f"a[href='/timer/{upcoming.id}/endre']") is not None

    page = html(await client.get(f"/timer/{upcoming.id}", headers=EN))
    assert text_of(page, "h1") == i18n.format_when(upcoming.starts_at)
    assert text_of(page, ".appointment-place") == "Tannklinikken Testby"

    log = await client.get(f"/innsyn?for={world.child13.id}", headers=EN)
    assert log.status_code == 200
    log_soup = html(log)
    assert log_soup.select(".access-log__entry") == []
    assert "Jonas can log in and see who has seen their data" in log_soup.get_text()


async def test_appointment_page_has_address_directions_and_calendar(app, world: World,
                                                                    logged_in) -> None:
    client = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    soup = html(await client.get(f"/timer/{appointment_id}", headers=EN))
    assert "Storgata 1" in text_of(soup, ".clinic-address")
    assert soup.select_one(f"a[href='tel:{CLINIC_PHONE}']").get_text() == CLINIC_PHONE_SHOWN
    links = {a.get_text(strip=True): a["href"] for a in soup.select(".link-list a")}
    assert links["Open in your map app"] == (
        "https://www.google.com/maps/search/?api=1&query=59.910000%2C10.750000")
    assert links["Plan the trip by public transport (Entur)"].startswith(
        "https://entur.no/travel-result?stopLat=59.910000&stopLon=10.750000")
    assert links["About the clinic: opening hours, parking and access"] == (
        "/klinikker/tannklinikken-testby")
    calendar = soup.select_one("#calendar-heading + p a")
    assert calendar is not None
    assert calendar["href"].startswith("http://127.0.0.1:8000/kalender/")
    assert calendar["href"].endswith(".ics")
    # The link names who was given it, and works for them.
    path = str(calendar["href"]).removeprefix("http://127.0.0.1:8000")
    assert (await client.get(path)).status_code == 200


async def test_confirm_without_javascript_redirects_back(app, world: World, logged_in) -> None:
    client = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    response = await client.post(f"/timer/{appointment_id}/bekreft")
    assert response.status_code == 303
    assert response.headers["location"] == f"/timer/{appointment_id}?bekreftet=1"
    row = await appointment_row(app, appointment_id)
    assert row.status == "confirmed" and row.confirmed_at is not None
    soup = html(await client.get(response.headers["location"], headers=EN))
    assert text_of(soup, f"#status-{appointment_id} .ds-tag") == "Confirmed"
    assert text_of(soup, f"#status-{appointment_id} .notice") == (
        "Thank you. The clinic can see that you are coming.")
    assert soup.select_one(f"form[action='/timer/{appointment_id}/bekreft']") is None
    [entry] = await audit_entries(app, action="appointment.confirm")
    assert (entry.actor_id, entry.purpose, entry.on_behalf_of_id) == (
        f"patient:{world.adult.id}", "self_service", None)


async def test_a_flag_without_the_state_shows_nothing(app, world: World, logged_in) -> None:
    client = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    soup = html(await client.get(f"/timer/{appointment_id}?avbestilt=1", headers=EN))
    assert soup.select_one(".notice") is None
    assert text_of(soup, f"#status-{appointment_id} .ds-tag") == "Booked"


async def test_htmx_confirm_returns_only_the_status_fragment(app, world: World,
                                                             logged_in) -> None:
    client = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    headers = {**EN, "HX-Request": "true", "HX-Target": f"status-{appointment_id}",
               "HX-Current-URL": "http://127.0.0.1:8000/min-side"}
    response = await client.post(f"/timer/{appointment_id}/bekreft", headers=headers)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["vary"]
    assert response.headers["cache-control"] == "no-store"
    assert "<html" not in response.text and "<h1" not in response.text
    soup = html(response)
    assert soup.select_one(".ds-tag").get_text() == "Confirmed"
    notice = soup.select_one(".notice")
    assert notice.get_text(strip=True) == "Thank you. The clinic can see that you are coming."
    assert notice.has_attr("autofocus")  # focus moves to the news, not to the page top
    assert soup.select_one("form") is None
    assert (await appointment_row(app, appointment_id)).status == "confirmed"

    # A second confirm (a double tap): refused, nothing changes, the reason in words.
    again = await client.post(f"/timer/{appointment_id}/bekreft", headers=headers)
    assert again.status_code == 409
    assert "<html" not in again.text
    assert html(again).select_one(".refusal").get_text(strip=True) == (
        "You have already confirmed this appointment.")
    assert len(await audit_entries(app, action="appointment.confirm")) == 1


async def test_cancel_warns_an_adult_about_the_late_fee(app, world: World, logged_in) -> None:
    # The type's cut-off (2 h) lets her cancel online 10 h before, but it is
    # within 24 h: the clinic may charge an adult for it, and she is told.
    appointment_id = await new_appointment(app, world, world.adult.id,
                                           world.short_cutoff_type, 10)
    client = await logged_in(world.adult)
    step = await client.get(f"/timer/{appointment_id}/avbestill", headers=EN)
    assert step.status_code == 200
    soup = html(step)
    assert text_of(soup, ".fee-warning p") == (
        "Less than 24 hours are left. The clinic may charge adults a fee for cancelling "
        "this late.")
    assert soup.select_one("form.cancel-form button")["aria-describedby"] == "fee-warning"
    assert soup.select_one("input[name=fee_warning_shown]")["value"] == "1"

    # A form sent without having shown the warning (loaded earlier): told first.
    unwarned = await client.post(f"/timer/{appointment_id}/avbestill", data={}, headers=EN)
    assert unwarned.status_code == 409
    assert html(unwarned).select_one(".fee-warning") is not None
    assert (await appointment_row(app, appointment_id)).status == "booked"

    done = await client.post(f"/timer/{appointment_id}/avbestill",
                             data={"fee_warning_shown": "1"})
    assert done.status_code == 303
    assert (await appointment_row(app, appointment_id)).status == "cancelled"
    [entry] = await audit_entries(app, action="appointment.cancel")
    assert entry.detail == {"appointment_id": appointment_id, "late": True,
                            "fee_warned": True}


async def test_inside_the_cut_off_an_adult_can_still_cancel_after_seeing_the_fee(
        app, world: World, logged_in) -> None:
    appointment_id = await new_appointment(app, world, world.adult.id, world.adult_type, 10)
    client = await logged_in(world.adult)
    soup = html(await client.get(f"/timer/{appointment_id}", headers=EN))
    # Changing is closed (call the clinic); cancelling is not.
    reason = soup.select_one("main .appointment-main .refusal")
    assert reason.get_text(" ", strip=True).startswith(
        "Less than 24 hours are left, so the time can no longer be changed online. "
        "To change it, call the clinic.")
    call = reason.select_one("a")
    assert call["href"] == f"tel:{CLINIC_PHONE}"
    assert call.get_text() == f"Call Tannklinikken Testby on {CLINIC_PHONE_SHOWN}"
    assert soup.select_one(f"a[href='/timer/{appointment_id}/endre']") is None
    assert soup.select_one(f"a[href='/timer/{appointment_id}/avbestill']") is not None
    # The "call the clinic" text is not in the status block (under a confirm button).
    assert soup.select_one(f"#status-{appointment_id} .refusal") is None

    step = html(await client.get(f"/timer/{appointment_id}/avbestill", headers=EN))
    assert step.select_one("form.cancel-form") is not None
    assert text_of(step, ".fee-warning p") == (
        "Less than 24 hours are left. The clinic may charge adults a fee for cancelling "
        "this late.")
    done = await client.post(f"/timer/{appointment_id}/avbestill",
                             data={"fee_warning_shown": "1"}, headers=EN)
    assert done.status_code == 303
    assert (await appointment_row(app, appointment_id)).status == "cancelled"
    [entry] = await audit_entries(app, action="appointment.cancel")
    assert entry.detail["late"] is True
    async with app.state.db.read() as session:
        kinds = list((await session.execute(
            select(BookingEvent.kind).where(BookingEvent.appointment_id == appointment_id)
            .order_by(BookingEvent.id))).scalars())
    assert kinds == ["slot_freed", "late_cancellation"]


async def test_a_started_appointment_cannot_be_cancelled_and_nothing_changes(
        app, world: World, logged_in) -> None:
    appointment_id = await new_appointment(app, world, world.adult.id, world.adult_type, -0.25)
    client = await logged_in(world.adult)
    step = html(await client.get(f"/timer/{appointment_id}/avbestill", headers=EN))
    assert step.select_one("form.cancel-form") is None
    late = await client.post(f"/timer/{appointment_id}/avbestill", data={}, headers=EN)
    assert late.status_code == 409
    assert "Nothing was changed." in text_of(html(late), "[role=alert]")
    assert (await appointment_row(app, appointment_id)).status == "booked"
    assert await audit_entries(app, action="appointment.cancel") == []


async def test_a_stale_cancel_shows_the_reason_and_changes_nothing(app, world: World,
                                                                   logged_in) -> None:
    client = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    first = await client.post(f"/timer/{appointment_id}/avbestill", data={})
    assert first.status_code == 303
    row = await appointment_row(app, appointment_id)
    # Sent again (back button, double tap): it is done; the result, not an error.
    again = await client.post(f"/timer/{appointment_id}/avbestill", data={}, headers=EN)
    assert again.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    assert (await appointment_row(app, appointment_id)).version == row.version
    back = html(await client.get(f"/timer/{appointment_id}/avbestill", headers=EN))
    assert back.select_one("[data-color=danger]") is None
    assert "Nothing was changed" not in back.get_text()
    assert "This appointment is cancelled." in back.get_text()
    assert back.select_one("a.ds-button[href='/bestill']").get_text(strip=True) == (
        "Book a new time")
    confirm = await client.post(f"/timer/{appointment_id}/bekreft", headers=EN)
    assert confirm.status_code == 409
    assert "<html" in confirm.text  # a whole page without JavaScript
    assert html(confirm).select_one(".refusal").get_text(strip=True) == (
        "The appointment has been cancelled or is over.")
    assert (await appointment_row(app, appointment_id)).status == "cancelled"


async def test_pages_follow_the_language(app, world: World, logged_in) -> None:
    client = await logged_in(world.guardian)
    appointment = await appointment_row(app, world.appointments["child11"])
    # The user's own pick wins over the language of their login.
    chosen = await client.post("/language", data={"lang": "nb", "next": "/timer"})
    assert chosen.status_code == 303
    soup = html(await client.get(f"/timer?for={world.child11.id}"))
    assert soup.html["lang"] == "nb"
    i18n.set_locale("nb")
    assert text_of(soup, f"#appointment-{appointment.id}-when") == i18n.format_when(
        appointment.starts_at, "nb")
    assert "Undersøkelse for barn" in soup.get_text()
