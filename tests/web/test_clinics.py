"""Finding a clinic, and a clinic's page."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import time_machine
from sqlalchemy import update

from booking import service
from booking.audit import Actor
from booking.models import County, Slot
from booking.statuses import SlotStatus
from core.db import Database
from tests import factories as f
from tests.pages import html, text_of


async def _directory(db: Database) -> dict[str, County]:
    async with db.write() as s:
        troms = await f.county(s, name="Troms")
        vestland = await f.county(s, name="Vestland")
        await f.clinic(s, troms, name="Tromsø sentrum tannklinikk", slug="tromso-sentrum",
                       municipality_name="Tromsø", municipality_code="5501")
        await f.clinic(s, troms, name="Harstad tannklinikk", slug="harstad",
                       municipality_name="Harstad", municipality_code="5503")
        await f.clinic(s, vestland, name="Åsane tannklinikk", slug="asane",
                       municipality_name="Bergen", municipality_code="4601")
        await f.clinic(s, vestland, name="Nedlagt tannklinikk", slug="nedlagt",
                       municipality_name="Bergen", municipality_code="4601", active=False)
    return {"troms": troms, "vestland": vestland}


def _found(response: httpx.Response) -> list[str]:
    return [a.get_text(strip=True) for a in html(response).select("#results li a")]


async def test_search_without_filters_lists_active_clinics(
        client: httpx.AsyncClient, db: Database) -> None:
    await _directory(db)
    response = await client.get("/klinikker")
    assert response.status_code == 200
    assert _found(response) == ["Harstad tannklinikk", "Tromsø sentrum tannklinikk",
                                "Åsane tannklinikk"]
    soup = html(response)
    assert text_of(soup, "#result-count") == "Fant 3 klinikker"
    assert [o.get_text() for o in soup.select("select#fylke option")] == [
        "Alle fylker", "Troms", "Vestland"]


async def test_search_by_county(
        client: httpx.AsyncClient, db: Database) -> None:
    counties = await _directory(db)
    response = await client.get("/klinikker", params={"fylke": counties["vestland"].id})
    assert _found(response) == ["Åsane tannklinikk"]
    selected = html(response).select_one("select#fylke option[selected]")
    assert selected is not None and selected.get_text() == "Vestland"


async def test_search_by_municipality_name_or_number(
        client: httpx.AsyncClient, db: Database) -> None:
    await _directory(db)
    by_name = await client.get("/klinikker", params={"kommune": "TROMSØ"})
    assert _found(by_name) == ["Tromsø sentrum tannklinikk"]
    assert html(by_name).select_one("input#kommune")["value"] == "TROMSØ"  # type: ignore[index]
    by_number = await client.get("/klinikker", params={"kommune": "55"})
    assert _found(by_number) == ["Harstad tannklinikk", "Tromsø sentrum tannklinikk"]


async def test_search_by_part_of_the_name_ignores_case(
        client: httpx.AsyncClient, db: Database) -> None:
    await _directory(db)
    assert _found(await client.get("/klinikker", params={"navn": "ÅSANE"})) == [
        "Åsane tannklinikk"]
    assert _found(await client.get("/klinikker", params={"navn": "sentrum"})) == [
        "Tromsø sentrum tannklinikk"]


async def test_search_with_no_match_says_so(
        client: httpx.AsyncClient, db: Database) -> None:
    await _directory(db)
    response = await client.get("/klinikker", params={"navn": "finnes ikke", "fylke": "x"})
    assert response.status_code == 200
    assert _found(response) == []
    assert text_of(html(response), "#result-count") == "Ingen klinikker passer med søket ditt."


async def test_htmx_search_gets_only_the_results_block(
        client: httpx.AsyncClient, db: Database) -> None:
    await _directory(db)
    response = await client.get("/klinikker", params={"kommune": "harstad"},
                                headers={"HX-Request": "true", "HX-Target": "results"})
    assert response.status_code == 200
    assert "HX-Request" in response.headers["vary"]
    assert response.headers["cache-control"] == "no-store"
    assert "<html" not in response.text and "<form" not in response.text
    assert _found_fragment(response) == ["Harstad tannklinikk"]
    count = html(response).select_one("#result-count[data-hx-swap-oob]")
    assert count is not None and " ".join(count.get_text().split()) == "Fant 1 klinikk"


def _found_fragment(response: httpx.Response) -> list[str]:
    return [a.get_text(strip=True) for a in html(response).select("li a")]


async def test_boosted_history_and_other_htmx_requests_get_the_whole_page(
        client: httpx.AsyncClient, db: Database) -> None:
    await _directory(db)
    for extra in ({"HX-Boosted": "true"}, {"HX-History-Restore-Request": "true"}, {}):
        headers = {"HX-Request": "true", "HX-Target": "results", **extra}
        if not extra:
            headers["HX-Target"] = "main"
        response = await client.get("/klinikker", headers=headers)
        assert response.status_code == 200
        assert "HX-Request" in response.headers["vary"]
        soup = html(response)
        assert soup.select_one("html") is not None, headers
        assert soup.select_one("form.clinic-search") is not None, headers


async def test_plain_search_page_also_varies_on_hx_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/klinikker")
    assert "HX-Request" in response.headers["vary"]
    form = html(response).select_one("form.clinic-search")
    assert form is not None and form["method"] == "get" and form["action"] == "/klinikker"
    assert form["data-hx-target"] == "#results"


async def test_clinic_page_shows_contact_hours_and_next_free_times(
        client: httpx.AsyncClient, db: Database) -> None:
    async with db.write() as s:
        county = await f.county(s, name="Troms")
        clinic = await f.clinic(
            s, county, name="Tromsø sentrum tannklinikk", slug="tromso-sentrum",
            street_address="Storgata 50", postal_code="9008", postal_town="Tromsø",
            municipality_name="Tromsø", municipality_code="5501", phone="+4777600000",
            latitude=69.649205, longitude=18.955324,
            opening_hours={"0": ["08:00", "15:30"], "2": ["09:00", "19:00"]},
            accessibility="Trinnfri inngang og heis", parking="To HC-plasser",
            public_transport="Buss 20 til Sentrum")
        chair_a = await f.chair(s, clinic)
        chair_b = await f.chair(s, clinic)
        kind = await f.appointment_type(s, county.id)
        template_a = await f.template(s, chair_a, [kind])
        template_b = await f.template(s, chair_b, [kind])
        # Tuesday 14 May 2030, 09:30 in Oslo (summer time), on two chairs.
        await f.slot(s, chair_a, f.at(2030, 5, 14, 7, 30), template_a)
        await f.slot(s, chair_b, f.at(2030, 5, 14, 7, 30), template_b)
        await f.slot(s, chair_a, f.at(2030, 5, 15, 12, 0), template_a)
        await f.slot(s, chair_a, f.at(2030, 5, 16, 12, 0), template_a,
                     status=SlotStatus.BOOKED)
    with time_machine.travel(datetime(2030, 5, 1, 10, tzinfo=UTC), tick=True):
        response = await client.get("/klinikker/tromso-sentrum")
    assert response.status_code == 200
    soup = html(response)
    assert text_of(soup, "h1") == "Tromsø sentrum tannklinikk"
    assert text_of(soup, "address") == "Storgata 50 9008 Tromsø"
    phone = soup.select_one("a[href^='tel:']")
    assert phone is not None and phone["href"] == "tel:+4777600000"
    assert phone.get_text() == "77 60 00 00"
    osm = soup.select_one("a[href^='https://www.openstreetmap.org/']")
    assert osm is not None and osm["href"] == (
        "https://www.openstreetmap.org/?mlat=69.649205&mlon=18.955324"
        "#map=17/69.649205/18.955324")
    hours = [" ".join(row.get_text(" ").split()) for row in soup.select("table tr")]
    assert hours == ["Mandag 08:00–15:30", "Tirsdag Stengt", "Onsdag 09:00–19:00",
                     "Torsdag Stengt", "Fredag Stengt", "Lørdag Stengt", "Søndag Stengt"]
    times = [" ".join(li.get_text(" ").split()) for li in soup.select("ul.free-times li")]
    assert times == ["tirsdag 14. mai kl. 09:30 (2 ledige plasser)",
                     "onsdag 15. mai kl. 14:00 (1 ledig plass)"]
    first = soup.select_one("ul.free-times time")
    assert first is not None and first["datetime"] == "2030-05-14T07:30:00+00:00"
    # The times say for which kind, and each leads into booking it here on its day.
    assert [h.get_text(strip=True) for h in soup.select("h3.free-times__kind")] == [
        kind.name("nb")]
    links = [a["href"] for a in soup.select("ul.free-times a")]
    assert links == [f"/bestill?type={kind.id}&clinic=tromso-sentrum&day=2030-05-14",
                     f"/bestill?type={kind.id}&clinic=tromso-sentrum&day=2030-05-15"]
    book_here = soup.select_one("a#book-here")
    assert book_here is not None and book_here["href"] == "/bestill?clinic=tromso-sentrum"
    facts = " ".join(soup.get_text(" ").split())
    for note in ("Trinnfri inngang og heis", "To HC-plasser", "Buss 20 til Sentrum",
                 "Tromsø (Troms)"):
        assert note in facts


async def test_clinic_page_in_english_formats_times_in_english(
        client: httpx.AsyncClient, db: Database) -> None:
    async with db.write() as s:
        clinic = await f.clinic(s, slug="oslo")
        chair = await f.chair(s, clinic)
        kind = await f.appointment_type(s, clinic.county_id)
        template = await f.template(s, chair, [kind])
        await f.slot(s, chair, f.at(2030, 5, 14, 7, 30), template)
    client.cookies.set("lang", "en")
    with time_machine.travel(datetime(2030, 5, 1, 10, tzinfo=UTC), tick=True):
        soup = html(await client.get("/klinikker/oslo"))
    assert soup.html is not None and soup.html["lang"] == "en"
    assert text_of(soup, "ul.free-times li") == "Tuesday 14 May at 09:30 (1 place free)"
    assert [th.get_text() for th in soup.select("table th")][:2] == ["Monday", "Tuesday"]


async def test_clinic_without_free_times_says_call_the_clinic(
        client: httpx.AsyncClient, db: Database) -> None:
    async with db.write() as s:
        await f.clinic(s, slug="full")
    soup = html(await client.get("/klinikker/full"))
    assert soup.select("ul.free-times") == []
    assert "Ring klinikken for å få time" in soup.get_text()


async def test_unknown_or_inactive_clinic_is_a_translated_404(
        client: httpx.AsyncClient, db: Database) -> None:
    async with db.write() as s:
        await f.clinic(s, slug="closed-down", active=False)
    for slug in ("no-such-clinic", "closed-down"):
        response = await client.get(f"/klinikker/{slug}",
                                    headers={"Accept-Language": "nn-NO,nn;q=0.9,en;q=0.5"})
        assert response.status_code == 404
        soup = html(response)
        assert soup.html is not None and soup.html["lang"] == "nn"
        assert text_of(soup, "h1") == "Fann ikkje sida"
        assert text_of(soup, "code.correlation-id") == response.headers["x-correlation-id"]


async def test_a_municipality_without_a_clinic_shows_the_nearest_in_four_languages(
        client: httpx.AsyncClient, db: Database) -> None:
    async with db.write() as s:
        finnmark = await f.county(s, name="Finnmark")
        await f.clinic(s, finnmark, name="Tannklinikken Kárášjohka", slug="karasjohka",
                       municipality_name="Kárášjohka - Karasjok", municipality_code="5610",
                       postal_code="9730", postal_town="Karasjok",
                       latitude=69.4720, longitude=25.5110)
        await f.clinic(s, finnmark, name="Tannklinikken Hammerfest", slug="hammerfest",
                       municipality_name="Hammerfest", municipality_code="5603",
                       postal_code="9600", postal_town="Hammerfest",
                       latitude=70.6630, longitude=23.6820)
    # Bilingual names, without accents: the clinic itself.
    assert _found(await client.get("/klinikker", params={"kommune": "Karasjok"})) == [
        "Tannklinikken Kárášjohka"]
    notes = {
        "nb": ("Det er ingen klinikk i Porsanger - Porsáŋgu - Porsanki.", "Omtrent 68 km"),
        "nn": ("Det er ingen klinikk i Porsanger - Porsáŋgu - Porsanki.", "Om lag 68 km"),
        "en": ("There is no clinic in Porsanger - Porsáŋgu - Porsanki.", "About 68 km"),
        "se": ("Porsanger - Porsáŋgu - Porsanki gielddas ii leat klinihkka.", "Sullii 68 km"),
    }
    for lang, (note, distance) in notes.items():
        client.cookies.set("lang", lang)
        response = await client.get("/klinikker", params={"kommune": "porsangu"})
        assert _found(response) == ["Tannklinikken Kárášjohka", "Tannklinikken Hammerfest"]
        soup = html(response)
        assert text_of(soup, "#nearest-note").startswith(note), lang
        assert soup.select(".clinic-list__distance")[0].get_text(strip=True).startswith(
            distance), lang


async def test_clinic_page_keeps_its_free_times_briefly_and_a_booking_renews_them(
        client: httpx.AsyncClient, db: Database) -> None:
    """A slot freed behind the service's back (as another process would) shows
    only once the cached times expire; a booking through the service shows at once."""
    async with db.write() as s:
        clinic = await f.clinic(s, slug="kort")
        chair = await f.chair(s, clinic)
        kind = await f.appointment_type(s, clinic.county_id)
        template = await f.template(s, chair, [kind])
        first = await f.slot(s, chair, f.at(2030, 5, 14, 7, 30), template)
        later = await f.slot(s, chair, f.at(2030, 5, 15, 12, 0), template,
                             status=SlotStatus.BOOKED)
        patient = await f.patient(s)

    async def shown() -> list[str]:
        with time_machine.travel(datetime(2030, 5, 1, 10, tzinfo=UTC), tick=True):
            soup = html(await client.get("/klinikker/kort"))
        return [li.select_one("time")["datetime"] for li in soup.select("ul.free-times li")]

    assert await shown() == ["2030-05-14T07:30:00+00:00"]
    async with db.write() as s:
        await s.execute(update(Slot).where(Slot.id == later.id).values(status=SlotStatus.FREE))
    assert await shown() == ["2030-05-14T07:30:00+00:00"]  # the page's copy, for a few seconds
    await service.book(db, Actor.staff("s1", {clinic.id}), patient_id=patient.id,
                       slot_id=first.id, appointment_type_id=kind.id,
                       now=datetime(2030, 5, 1, 10, tzinfo=UTC))
    assert await shown() == ["2030-05-15T12:00:00+00:00"]  # renewed by the booking
