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
        await f.clinic(s, name="A", municipality_code="0301")
        await f.clinic(s, name="B", municipality_code="3201")
    assert [c.name for c in (await directory.search_clinics(db, municipality="03")).clinics] == [
        "A"]
    assert [c.name for c in (await directory.search_clinics(db, municipality="01")).clinics] == []


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
