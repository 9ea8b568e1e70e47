"""What the patient pages say about an appointment's state, and to whom, in
all four languages: distinct status words (an unanswered innkalling, a
confirmed time, a time the viewer booked), confirmation asked only where
the clinic asked, a child named on their card, the fee rule before
cancelling, a young person told what their guardians see, and neutral
words after a change or a cancellation."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from booking.statuses import AppointmentStatus
from tests.pages import html, text_of
from tests.web.patient.world import (
    World,
    add_appointment,
    appointment_row,
    hours_from_now,
)
from web import i18n

LANGS = ("nb", "nn", "en", "se")


async def speak(client: httpx.AsyncClient, lang: str) -> None:
    """Choose the pages' language the way a user does."""
    chosen = await client.post("/language", data={"lang": lang, "next": "/timer"})
    assert chosen.status_code == 303


async def appointment_for(app, world: World, patient_id: int, hours: float, *,
                          adult: bool = True, clinic_issued: bool = False,
                          status: AppointmentStatus = AppointmentStatus.BOOKED,
                          created_by: str | None = None, self_reschedules: int = 0) -> int:
    async with app.state.db.write() as session:
        row = await add_appointment(
            session, world.clinic, patient_id, world.adult_type if adult else world.child_type,
            hours_from_now(hours), status=status, clinic_issued=clinic_issued)
        if created_by is not None:
            row.created_by, row.created_by_kind = created_by, "patient"
        row.self_reschedules = self_reschedules
        return row.id


STATUS_WORDS = {
    "nb": ("Venter på svar", "Bekreftet", "Bestilt av deg", "Bestilt"),
    "nn": ("Ventar på svar", "Stadfesta", "Bestilt av deg", "Bestilt"),
    "en": ("Awaiting your answer", "Confirmed", "Booked by you", "Booked"),
    "se": ("Vuordá du vástádusa", "Duođaštuvvon", "Du leat diŋgon", "Diŋgojuvvon"),
}


@pytest.mark.parametrize("lang", LANGS)
async def test_distinct_status_words_and_confirmation_only_where_asked(
        app, world: World, logged_in, lang: str) -> None:
    awaiting_word, confirmed_word, by_you_word, booked_word = STATUS_WORDS[lang]
    me = world.adult
    awaiting = await appointment_for(app, world, me.id, 24 * 10, clinic_issued=True)
    confirmed = await appointment_for(app, world, me.id, 24 * 11, clinic_issued=True,
                                      status=AppointmentStatus.CONFIRMED)
    by_me = await appointment_for(app, world, me.id, 24 * 12, created_by=f"patient:{me.id}")
    booked = world.appointments["adult"]  # by the clinic, no answer asked for
    client = await logged_in(me)
    await speak(client, lang)
    soup = html(await client.get("/timer"))
    words = {i: text_of(soup, f"#status-{i} .ds-tag") for i in (awaiting, confirmed, by_me,
                                                                 booked)}
    assert words == {awaiting: awaiting_word, confirmed: confirmed_word, by_me: by_you_word,
                     booked: booked_word}
    forms = {i for i in (awaiting, confirmed, by_me, booked)
             if soup.select_one(f"form[action='/timer/{i}/bekreft']") is not None}
    assert forms == {awaiting}  # only the clinic's unanswered notice asks


CHILD_CARD = {
    "nb": ("Klinikken har satt opp time til Emma. Bekreft at Emma kommer.",
           "Bekreft at Emma kommer"),
    "nn": ("Klinikken har sett opp time til Emma. Stadfest at Emma kjem.",
           "Stadfest at Emma kjem"),
    "en": ("The clinic has set up this time for Emma. Please confirm that Emma is coming.",
           "Confirm that Emma is coming"),
    "se": ("Emma: Klinihkka lea addán dán áiggi. Duođaš ahte Emma boahtá.",
           "Duođaš ahte Emma boahtá"),
}
OWN_CARD = {
    "nb": "Klinikken har satt opp denne timen til deg. Bekreft at du kommer.",
    "nn": "Klinikken har sett opp denne timen til deg. Stadfest at du kjem.",
    "en": "The clinic has given you this time. Please confirm that you are coming.",
    "se": "Klinihkka lea addán dutnje dán áiggi. Duođaš ahte boađát.",
}


@pytest.mark.parametrize("lang", LANGS)
async def test_a_childs_card_names_the_child_and_stops_asking_once_moved(
        app, world: World, logged_in, lang: str) -> None:
    hint, button = CHILD_CARD[lang]
    asked = await appointment_for(app, world, world.child11.id, 24 * 10, adult=False,
                                  clinic_issued=True)
    moved = await appointment_for(app, world, world.child11.id, 24 * 12, adult=False,
                                  clinic_issued=True, created_by=f"patient:{world.guardian.id}",
                                  self_reschedules=1)
    client = await logged_in(world.guardian)
    await speak(client, lang)
    for path in (f"/timer?for={world.child11.id}", f"/timer/{asked}"):
        soup = html(await client.get(path))
        assert text_of(soup, f"#status-{asked} .appointment-status__hint") == hint
        assert text_of(soup, f"#status-{asked} form button") == button
    # Moved by the guardian to a time they chose: booked by them, nothing to answer.
    soup = html(await client.get(f"/timer/{moved}"))
    assert text_of(soup, f"#status-{moved} .ds-tag") == STATUS_WORDS[lang][2]
    assert soup.select_one(f"#status-{moved} .appointment-status__hint") is None
    assert soup.select_one(f"form[action='/timer/{moved}/bekreft']") is None

    # The adult's own innkalling still speaks to "you".
    own = await appointment_for(app, world, world.guardian.id, 24 * 9, clinic_issued=True)
    soup = html(await client.get(f"/timer/{own}"))
    assert text_of(soup, f"#status-{own} .appointment-status__hint") == OWN_CARD[lang]


GUARDIANS_TOLD = {
    "nb": "Foreldrene dine får en SMS med tid og sted for timene dine. "
          "De får ikke vite hva timen gjelder.",
    "nn": "Foreldra dine får ein SMS med tid og stad for timane dine. "
          "Dei får ikkje vite kva timen gjeld.",
    "en": "Your guardians get a text message with the time and place of your appointments. "
          "They are not told what the appointment is for.",
    "se": "Du váhnemat ožžot SMS-dieđáhusa du áiggiid áiggi ja báikki birra. "
          "Sii eai oaččo diehtit maid áigi guoská.",
}


@pytest.mark.parametrize("lang", LANGS)
async def test_a_13_year_old_is_told_what_their_guardians_see(app, world: World, logged_in,
                                                              lang: str) -> None:
    own = world.appointments["child13"]
    client = await logged_in(world.child13)
    await speak(client, lang)
    soup = html(await client.get(f"/timer/{own}"))
    assert text_of(soup, ".guardians-told") == GUARDIANS_TOLD[lang]
    # Not for an adult, nor for the guardian looking at the young person's page.
    adult = await logged_in(world.adult)
    assert html(await adult.get(f"/timer/{world.appointments['adult']}")).select_one(
        ".guardians-told") is None
    guardian = await logged_in(world.guardian)
    assert html(await guardian.get(f"/timer/{own}")).select_one(".guardians-told") is None


FEE_RULE = {
    "nb": ("Det er gratis å avbestille fram til", "Det koster ingenting å avbestille denne timen.",
           "Det er mindre enn 24 timer igjen."),
    "nn": ("Det er gratis å avbestille fram til", "Det kostar ingenting å avbestille denne timen.",
           "Det er mindre enn 24 timar att."),
    "en": ("Cancelling is free until", "There is no fee for cancelling this appointment.",
           "Less than 24 hours are left."),
    "se": ("Lea nuvttá sihkkut áiggi gitta", "Dán áiggi sihkkumis ii leat makkárge máksu.",
           "Leat unnit go 24 diimmu báhcán."),
}


@pytest.mark.parametrize("lang", LANGS)
async def test_the_cancel_page_shows_the_fee_rule_for_the_case(app, world: World, logged_in,
                                                               lang: str) -> None:
    later, never, now = FEE_RULE[lang]
    early = world.appointments["adult"]  # three days ahead
    late = await appointment_for(app, world, world.adult.id, 5)
    client = await logged_in(world.adult)
    await speak(client, lang)
    early_page = html(await client.get(f"/timer/{early}/avbestill"))
    row = await appointment_row(app, early)
    i18n.set_locale(lang)
    assert text_of(early_page, ".fee-rule").startswith(later)
    assert i18n.format_when(row.starts_at - timedelta(hours=24), lang) in text_of(
        early_page, ".fee-rule")
    assert early_page.select_one(".fee-warning") is None
    late_page = html(await client.get(f"/timer/{late}/avbestill"))
    assert text_of(late_page, ".fee-warning p").startswith(now)
    assert late_page.select_one("form.cancel-form") is not None

    guardian = await logged_in(world.guardian)
    await speak(guardian, lang)
    child_late = await appointment_for(app, world, world.child11.id, 5, adult=False)
    child_page = html(await guardian.get(f"/timer/{child_late}/avbestill"))
    assert text_of(child_page, ".fee-rule") == never
    assert child_page.select_one(".fee-warning") is None
    assert child_page.select_one("form.cancel-form") is not None
