"""Clinic directory queries: the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

from booking import directory
from core.db import Database
from tests import factories as f


async def test_case_is_ignored_for_norwegian_and_sami_letters(db: Database) -> None:
    async with db.write() as s:
        county = await f.county(s, name="Finnmark")
        await f.clinic(s, county, name="KÁRÁŠJOGA TANNKLINIKK", municipality_name="Kárášjohka",
                       municipality_code="5610")
        await f.clinic(s, county, name="Ølen tannklinikk", municipality_name="Vindafjord",
                       municipality_code="1160")
    by_name = await directory.search_clinics(db, name="kárášjoga")
    assert [c.name for c in by_name.clinics] == ["KÁRÁŠJOGA TANNKLINIKK"]
    by_name = await directory.search_clinics(db, name="ØLEN")
    assert [c.name for c in by_name.clinics] == ["Ølen tannklinikk"]
    by_municipality = await directory.search_clinics(db, municipality="KÁRÁŠ")
    assert [c.municipality_name for c in by_municipality.clinics] == ["Kárášjohka"]


async def test_like_wildcards_in_the_search_are_literal(db: Database) -> None:
    async with db.write() as s:
        await f.clinic(s, name="Tannklinikk 100% sentrum")
        await f.clinic(s, name="Tannklinikk nord")
    assert [c.name for c in (await directory.search_clinics(db, name="100%")).clinics] == [
        "Tannklinikk 100% sentrum"]
    assert (await directory.search_clinics(db, name="%")).clinics[0].name == (
        "Tannklinikk 100% sentrum")
    assert (await directory.search_clinics(db, name="_")).clinics == []
    assert (await directory.search_clinics(db, municipality="0_")).clinics == []


async def test_municipality_number_is_a_prefix(db: Database) -> None:
    async with db.write() as s:
        await f.clinic(s, name="A", municipality_code="0301", postal_code="0155")
        await f.clinic(s, name="B", municipality_code="3201", postal_code="1337")
    assert [c.name for c in (await directory.search_clinics(db, municipality="03")).clinics] == [
        "A"]
    assert [c.name for c in (await directory.search_clinics(db, municipality="02")).clinics] == []
    # A postcode (prefix) too.
    assert [c.name for c in (await directory.search_clinics(db, municipality="13")).clinics] == [
        "B"]


async def test_results_are_capped_and_say_so(db: Database) -> None:
    async with db.write() as s:
        county = await f.county(s)
        for n in range(3):
            await f.clinic(s, county, name=f"Klinikk {n}")
    capped = await directory.search_clinics(db, county_id=county.id, limit=2)
    assert [c.name for c in capped.clinics] == ["Klinikk 0", "Klinikk 1"] and capped.truncated
    full = await directory.search_clinics(db, county_id=county.id, limit=3)
    assert len(full.clinics) == 3 and not full.truncated


async def test_counties_and_municipalities_with_active_clinics_only(db: Database) -> None:
    async with db.write() as s:
        open_county = await f.county(s, name="Agder")
        closed_county = await f.county(s, name="Buskerud")
        await f.clinic(s, open_county, municipality_name="Arendal")
        await f.clinic(s, open_county, municipality_name="Arendal")
        await f.clinic(s, open_county, municipality_name="Lillesand")
        await f.clinic(s, closed_county, municipality_name="Drammen", active=False)
    assert [c.name for c in await directory.counties(db)] == ["Agder"]
    assert await directory.municipality_names(db) == ["Arendal", "Lillesand"]
    assert await directory.municipality_names(db, county_id=closed_county.id) == []


async def test_clinic_by_slug_loads_the_county(db: Database) -> None:
    async with db.write() as s:
        county = await f.county(s, name="Rogaland")
        await f.clinic(s, county, slug="stavanger")
    clinic = await directory.clinic_by_slug(db, "stavanger")
    assert clinic is not None and clinic.county.name == "Rogaland"
    assert await directory.clinic_by_slug(db, "nowhere") is None


async def _north(db: Database) -> None:
    async with db.write() as s:
        county = await f.county(s, name="Finnmark")
        await f.clinic(s, county, name="Tannklinikken Kárášjohka",
                       municipality_name="Kárášjohka - Karasjok", municipality_code="5610",
                       postal_code="9730", postal_town="Karasjok",
                       latitude=69.4720, longitude=25.5110)
        await f.clinic(s, county, name="Tannklinikken Guovdageaidnu",
                       municipality_name="Guovdageaidnu - Kautokeino",
                       municipality_code="5612", postal_code="9520", postal_town="Kautokeino",
                       latitude=69.0120, longitude=23.0410)
        await f.clinic(s, county, name="Tannklinikken Hammerfest",
                       municipality_name="Hammerfest", municipality_code="5603",
                       postal_code="9600", postal_town="Hammerfest",
                       latitude=70.6630, longitude=23.6820)
        south = await f.county(s, name="Oslo")
        await f.clinic(s, south, name="Tannklinikken Grünerløkka", municipality_name="Oslo",
                       municipality_code="0301", postal_code="0554", postal_town="Oslo",
                       latitude=59.9245, longitude=10.7580)
        troms = await f.county(s, name="Troms")
        await f.clinic(s, troms, name="Tannklinikken Tromsø sentrum",
                       municipality_name="Tromsø", municipality_code="5501",
                       postal_code="9008", postal_town="Tromsø",
                       latitude=69.6490, longitude=18.9550)


async def _names(db: Database, **search: str) -> list[str]:
    return [c.name for c in (await directory.search_clinics(db, **search)).clinics]  # type: ignore[arg-type]


async def test_every_name_of_a_place_finds_its_clinic(db: Database) -> None:
    await _north(db)
    for karasjok in ("Karasjok", "Kárášjohka", "karasjohka", "KARASJOK"):
        assert await _names(db, municipality=karasjok) == ["Tannklinikken Kárášjohka"]
    for kautokeino in ("Kautokeino", "Guovdageaidnu", "guovdageaidnu"):
        assert await _names(db, municipality=kautokeino) == ["Tannklinikken Guovdageaidnu"]
    # Sami and Kven names of a municipality known only from the list of places.
    assert await _names(db, municipality="Romsa") == ["Tannklinikken Tromsø sentrum"]
    assert await _names(db, municipality="Tromssa") == ["Tannklinikken Tromsø sentrum"]


async def test_accents_and_case_are_ignored(db: Database) -> None:
    await _north(db)
    assert await _names(db, municipality="Tromso") == ["Tannklinikken Tromsø sentrum"]
    assert await _names(db, municipality="grunerlokka") == ["Tannklinikken Grünerløkka"]
    assert await _names(db, name="GRUNERLØKKA") == ["Tannklinikken Grünerløkka"]


async def test_a_postcode_finds_the_clinics_there_or_nearby(db: Database) -> None:
    await _north(db)
    assert await _names(db, municipality="9730") == ["Tannklinikken Kárášjohka"]
    # No clinic has 9735: the clinics whose postcodes share the most digits.
    assert await _names(db, municipality="9735") == ["Tannklinikken Kárášjohka"]
    assert await _names(db, municipality="9520") == ["Tannklinikken Guovdageaidnu"]


async def test_a_municipality_without_a_clinic_gets_the_nearest_by_distance(
        db: Database) -> None:
    await _north(db)
    # Porsanger (Lakselv) has no clinic: Karasjok is about 74 km away, Hammerfest 85.
    for porsanger in ("Porsanger", "Porsáŋgu", "porsangu", "Lakselv"):
        result = await directory.search_clinics(db, municipality=porsanger)
        assert result.near == "Porsanger - Porsáŋgu - Porsanki"
        assert [c.name for c in result.clinics][:3] == [
            "Tannklinikken Kárášjohka", "Tannklinikken Hammerfest",
            "Tannklinikken Guovdageaidnu"]
        distances = [c.distance_km for c in result.clinics]
        assert distances == sorted(distances)  # type: ignore[type-var]
        assert 60 < distances[0] < 90  # type: ignore[operator]
    # A municipality that has a clinic is never answered with the nearest.
    assert (await directory.search_clinics(db, municipality="Hammerfest")).near is None
    # Nor is a word that is no place.
    nowhere = await directory.search_clinics(db, municipality="Atlantis")
    assert nowhere.clinics == [] and nowhere.near is None


async def _south(db: Database) -> None:
    async with db.write() as s:
        telemark = await f.county(s, name="Telemark")
        for name, code, postcode, town, latitude, longitude in (
                ("Tannklinikken Seljord", "4022", "3840", "Seljord", 59.4857, 8.6448),
                ("Tannklinikken Notodden", "4005", "3674", "Notodden", 59.5610, 9.2632),
                ("Tannklinikken Skien", "4003", "3724", "Skien", 59.2090, 9.6090)):
            await f.clinic(s, telemark, name=name, municipality_name=town,
                           municipality_code=code, postal_code=postcode, postal_town=town,
                           latitude=latitude, longitude=longitude)
        oslo = await f.county(s, name="Oslo")
        await f.clinic(s, oslo, name="Tannklinikken Grünerløkka", municipality_name="Oslo",
                       municipality_code="0301", postal_code="0554", postal_town="Oslo",
                       latitude=59.9245, longitude=10.7580)


async def test_any_municipality_in_the_country_without_a_clinic_gets_the_nearest(
        db: Database) -> None:
    await _south(db)
    # Hjartdal (Telemark) has no clinic: Seljord is about 25 km away, Notodden 35.
    hjartdal = await directory.search_clinics(db, municipality="hjartdal")
    assert hjartdal.near == "Hjartdal"
    assert [c.name for c in hjartdal.clinics] == [
        "Tannklinikken Seljord", "Tannklinikken Notodden", "Tannklinikken Skien",
        "Tannklinikken Grünerløkka"]
    assert 15 < hjartdal.clinics[0].distance_km < 35  # type: ignore[operator]
    # Lesja (Innlandet), far from all of them: Oslo is the nearest.
    lesja = await directory.search_clinics(db, municipality="Lesja")
    assert lesja.near == "Lesja"
    assert lesja.clinics[0].name == "Tannklinikken Grünerløkka"
    assert lesja.clinics[0].distance_km > 200  # type: ignore[operator]
    # A name that is a whole municipality's wins over longer ones it begins (Nesna, Nesodden).
    assert (await directory.search_clinics(db, municipality="Nes")).near == "Nes"
    # South Sami names of the Sami administrative area.
    raarvihke = await directory.search_clinics(db, municipality="Raarvihke")
    assert raarvihke.near == "Raarvihke - Røyrvik"
    assert (await directory.search_clinics(db, municipality="Snåase")).near == "Snåase - Snåsa"
    # A place with a clinic is still just that clinic.
    assert await _names(db, municipality="Seljord") == ["Tannklinikken Seljord"]
