"""The end of booking: the check-answers page has "Change" per row and shows
the fee rule before booking where it applies; a young person is told what
their guardians see; the receipt has a short reference to read out on the
phone and says where the text messages go (or that none will come); and the
back button after a change leads to the new time, not to a dead end."""

from __future__ import annotations

import random
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from booking import service
from booking.audit import Actor
from booking.models import Patient
from booking.reference import parse_reference
from core.identity import synthetic_number
from tests.web.booking_flow.world import (
    World,
    confirm,
    get,
    hold,
    log_in,
    pick,
    soup_of,
    text,
)
from web import i18n

LANGS = ("nb", "nn", "en", "se")


async def speak(client: httpx.AsyncClient, lang: str) -> None:
    chosen = await client.post("/language", data={"lang": lang, "next": "/bestill"})
    assert chosen.status_code == 303


def query_of(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


async def test_check_answers_has_change_per_row(client: httpx.AsyncClient,
                                                world: World) -> None:
    await log_in(client)
    picker = await pick(client, "Emma", "Child check-up", "Grünerløkka tannklinikk")
    summary = soup_of(await get(client, await hold(client, picker, "14:30")))
    rows = summary.select("#summary .check-answers__row")
    assert [text(row, "dt") for row in rows] == ["For", "Kind of appointment", "Clinic", "Time"]
    links = [row.select_one(".booking-facts__change a") for row in rows]
    assert [a.get_text(" ", strip=True) for a in links] == [
        "Change who the appointment is for", "Change the kind of appointment",
        "Change the clinic", "Change the time"]
    emma = str(world.children["Emma"].id)
    assert links[0]["href"] == "/bestill"
    assert query_of(links[1]["href"]) == {"for": [emma]}
    assert query_of(links[2]["href"]) == {"for": [emma], "type": [str(world.child_exam.id)]}
    assert query_of(links[3]["href"])["day"] == [world.day.isoformat()]
    for a in links:  # each leads to its step
        assert (await client.get(a["href"])).status_code == 200
    # A child pays no fee: nothing to say.
    assert summary.select_one(".fee-rule") is None


FEE_BEFORE_BOOKING = {
    "nb": "Det er gratis å avbestille fram til {when}. Avbestiller du senere, eller ikke "
          "kommer, kan klinikken ta gebyr.",
    "nn": "Det er gratis å avbestille fram til {when}. Avbestiller du seinare, eller ikkje "
          "kjem, kan klinikken ta gebyr.",
    "en": "Cancelling is free until {when}. If you cancel later, or do not come, the clinic "
          "may charge a fee.",
    "se": "Lea nuvttá sihkkut áiggi gitta {when} rádjái. Jus sihkut maŋŋelis, dahje it "
          "boađe, de sáhttá klinihkka váldit mávssu.",
}


@pytest.mark.parametrize("lang", LANGS)
async def test_an_adult_sees_the_fee_rule_before_booking_and_on_the_receipt(
        client: httpx.AsyncClient, world: World, lang: str) -> None:
    await log_in(client)
    picker = await pick(client, "Me", "Check-up", "Grünerløkka tannklinikk")
    summary_url = await hold(client, picker, "15:30")
    await speak(client, lang)
    summary = soup_of(await get(client, summary_url))
    when = i18n.format_when(world.at(15, 30) - timedelta(hours=24), lang)
    expected = FEE_BEFORE_BOOKING[lang].format(when=when)
    assert text(summary, ".fee-rule") == expected
    appointment_id, _ = await confirm(client, summary_url)
    receipt = soup_of(await get(client, f"/timer/{appointment_id}/kvittering"))
    assert text(receipt, "li.fee-rule") == expected


RECEIPT = {
    "nb": ("Referanse", "Til +47 912 34 501 (endre)",
           "Vi har ikke noe mobilnummer til deg, så du får ingen påminnelser på SMS."),
    "nn": ("Referanse", "Til +47 912 34 501 (endre)",
           "Vi har ikkje noko mobilnummer til deg, så du får ingen påminningar på SMS."),
    "en": ("Reference", "To +47 912 34 501 (change)",
           "We have no mobile number for you, so you will get no reminders by text message."),
    "se": ("Referánsa", "Nummirii +47 912 34 501 (rievdat)",
           "Mis ii leat du mobiilanummir, nu ahte it oaččo muittuhusaid SMS:in."),
}


@pytest.mark.parametrize("lang", LANGS)
async def test_the_receipt_has_a_reference_and_says_where_texts_go(
        client: httpx.AsyncClient, world: World, lang: str) -> None:
    reference_word, sms_line, no_number = RECEIPT[lang]
    await log_in(client)
    await speak(client, lang)
    picker = await pick(client, _me(lang), _kind(lang), "Grünerløkka tannklinikk")
    appointment_id, _ = await confirm(client, await hold(client, picker, "15:30"))
    receipt = soup_of(await get(client, f"/timer/{appointment_id}/kvittering"))
    # No number on file (and no contact register here): no reminders, and how to add one.
    assert text(receipt, ".no-mobile p").startswith(no_number)
    assert receipt.select_one(".no-mobile a[href='/profil']") is not None
    assert receipt.select_one(".receipt-sms") is None
    reference = text(receipt, ".receipt-reference .reference")
    assert reference_word in text(receipt, "#receipt")
    assert len(reference) <= 12 and parse_reference(reference) == appointment_id

    async with world.db.write() as session:
        guardian = await session.get(Patient, world.guardian.id)
        assert guardian is not None
        guardian.mobile = "+4791234501"
    receipt = soup_of(await get(client, f"/timer/{appointment_id}/kvittering"))
    assert text(receipt, ".receipt-sms") == sms_line
    assert receipt.select_one(".receipt-sms a[href='/profil']") is not None
    assert receipt.select_one(".no-mobile") is None


def _me(lang: str) -> str:
    return {"nb": "Meg", "nn": "Meg", "en": "Me", "se": "Mun"}[lang]


def _kind(lang: str) -> str:
    return {"nb": "Undersøkelse", "nn": "Undersøking", "en": "Check-up",
            "se": "Iskkadeapmi"}[lang]


GUARDIANS_TOLD = {
    "nb": "Foreldrene dine får en SMS med tid og sted for timene dine.",
    "nn": "Foreldra dine får ein SMS med tid og stad for timane dine.",
    "en": "Your guardians get a text message with the time and place of your appointments.",
    "se": "Du váhnemat ožžot SMS-dieđáhusa du áiggiid áiggi ja báikki birra.",
}


@pytest.mark.parametrize("lang", LANGS)
async def test_a_young_person_is_told_where_they_book_what_guardians_see(
        client: httpx.AsyncClient, world: World, app, lang: str) -> None:
    pid = synthetic_number(world.children["Nora"].birth_date, random.Random(14))
    async with world.db.write() as session:
        nora = await session.get(Patient, world.children["Nora"].id)
        assert nora is not None
        nora.identity_hash = app.state.vault.lookup_hash(pid)
        nora.identity_encrypted = app.state.vault.encrypt(pid)
    await log_in(client, pid)
    await speak(client, lang)
    kind = {"nb": "Barneundersøkelse", "nn": "Barneundersøking", "en": "Child check-up",
            "se": "Mánáid iskkadeapmi"}[lang]
    picker = await pick(client, None, kind, "Grünerløkka tannklinikk")
    summary_url = await hold(client, picker, "14:00")
    summary = soup_of(await get(client, summary_url))
    told = text(summary, ".guardians-told")
    assert told.startswith(GUARDIANS_TOLD[lang])
    appointment_id, _ = await confirm(client, summary_url)
    receipt = soup_of(await get(client, f"/timer/{appointment_id}/kvittering"))
    assert text(receipt, ".guardians-told") == told


async def test_an_adult_is_not_told_about_guardians(client: httpx.AsyncClient,
                                                    world: World) -> None:
    await log_in(client)
    picker = await pick(client, "Me", "Check-up", "Grünerløkka tannklinikk")
    summary = soup_of(await get(client, await hold(client, picker, "15:30")))
    assert summary.select_one(".guardians-told") is None


async def test_back_to_a_moved_appointments_change_page_leads_to_the_new_time(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    guardian = Actor.guardian(world.guardian.id, {world.children["Ola"].id})
    old = (await service.book(db=world.db, actor=guardian,
                              patient_id=world.children["Ola"].id,
                              slot_id=world.slots[0].id,
                              appointment_type_id=world.child_exam.id)).appointment
    new = (await service.change(world.db, guardian, appointment_id=old.id,
                                new_slot_id=world.slots[1].id)).appointment
    back = await client.get(f"/timer/{old.id}/endre")
    assert back.status_code == 303
    assert back.headers["location"] == f"/timer/{old.id}"
    page = soup_of(await get(client, back.headers["location"]))
    assert text(page, f"#status-{old.id} .ds-tag") == "Moved to another time"
    assert page.select_one(f"a[href='/timer/{new.id}']").get_text(strip=True) == (
        "See the new time")
    assert page.select_one("[data-color=danger]") is None
    assert "call the clinic" not in page.get_text().lower()
