"""The gazetteer: every Norwegian municipality, from Kartverket's list as
``scripts/municipalities.py`` writes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from booking import places
from scripts import municipalities as script

#: Norway's mainland and coastal islands (Svalbard has no municipality).
SOUTH, NORTH, WEST, EAST = 57.9, 71.2, 4.4, 31.2


def _kommune(number: str, norsk: str, names: list[tuple[str, str]], lon: float, lat: float,
             sami: bool = False) -> dict[str, Any]:
    """A municipality as Kartverket's kommuneinfo writes it."""
    valid: list[dict[str, Any]] = [
        {"navn": name, "prioritet": i, "sprak": language}
        for i, (name, language) in enumerate(names, start=1)]
    valid += [{"navn": None, "prioritet": i, "sprak": None} for i in range(len(names) + 1, 4)]
    return {"kommunenummer": number, "kommunenavnNorsk": norsk, "kommunenavn": names[0][0],
            "gyldigeNavn": valid, "samiskForvaltningsomrade": sami,
            "punktIOmrade": {"type": "Point", "coordinates": [lon, lat]}}


#: Four municipalities of Kartverket's 2020–2023 list, as they are there.
SAMPLE: list[dict[str, Any]] = [
    {"fylkesnummer": "03", "kommuner": [
        _kommune("0301", "Oslo", [("Oslo", "Norwegian")], 10.775729206388, 59.972397398369)]},
    {"fylkesnummer": "15", "kommuner": [
        _kommune("1507", "Ålesund", [("Ålesund", "Norwegian")],
                 6.168668300052, 62.767125357051)]},
    {"fylkesnummer": "38", "kommuner": [
        _kommune("3819", "Hjartdal", [("Hjartdal", "Norwegian")],
                 8.690955992667, 59.693029405566)]},
    {"fylkesnummer": "54", "kommuner": [
        _kommune("5430", "Kautokeino",
                 [("Guovdageaidnu", "Northern Sami"), ("Kautokeino", "Norwegian")],
                 23.577632628099, 69.133598648273, sami=True)]},
]


def _data_file() -> dict[str, dict[str, Any]]:
    data = json.loads(places.DATA_FILE.read_text(encoding="utf-8"))
    return {m["number"]: m for m in data["municipalities"]}


def test_the_script_gives_the_entries_in_the_data_file() -> None:
    written = script.transform(SAMPLE)
    # Renumbered to 2024 (Hjartdal, Kautokeino, Ålesund), Haram split from Ålesund.
    assert [m["number"] for m in written] == ["0301", "1508", "1580", "4024", "5612"]
    kautokeino = written[-1]
    assert kautokeino["name"] == "Guovdageaidnu - Kautokeino" and kautokeino["sami"]
    # The administrative centre, not Kartverket's point somewhere in the municipality.
    assert (kautokeino["latitude"], kautokeino["longitude"]) == (69.0120, 23.0410)
    assert written[0] == {"number": "0301", "name": "Oslo", "also": [], "latitude": 59.9724,
                          "longitude": 10.7757, "sami": False}
    # What is committed is what the script writes.
    committed = _data_file()
    assert written == [committed[m["number"]] for m in written]
    assert script.render(written).startswith('{"source":"Kartverket')


def test_a_municipality_of_a_split_county_without_a_2024_number_is_refused() -> None:
    county = {"fylkesnummer": "30", "kommuner": [
        _kommune("3099", "Nowhere", [("Nowhere", "Norwegian")], 10.0, 60.0)]}
    with pytest.raises(ValueError, match="3099"):
        script.transform([county])


def test_every_municipality_is_known_once_with_a_point_in_norway() -> None:
    every = places.municipalities()
    assert len(every) >= 356
    assert len({m.code for m in every}) == len(every)
    # The 15 counties of 2024; no number of the counties split that year.
    assert len({m.code[:2] for m in every}) == 15
    assert not {m.code[:2] for m in every} & {"30", "38", "54"}
    for m in every:
        assert len(m.code) == 4 and m.code.isdigit(), m
        assert SOUTH < m.latitude < NORTH and WEST < m.longitude < EAST, m
    # The file is read once.
    assert places.municipalities() is every


@pytest.mark.parametrize(("query", "name"), [
    ("Kárášjohka", "Kárášjohka - Karasjok"),
    ("karasjok", "Kárášjohka - Karasjok"),
    ("Guovdageaidnu", "Guovdageaidnu - Kautokeino"),
    ("Porsáŋgu", "Porsanger - Porsáŋgu - Porsanki"),
    ("porsanki", "Porsanger - Porsáŋgu - Porsanki"),
    ("Raarvihke", "Raarvihke - Røyrvik"),
    ("Røyrvik", "Raarvihke - Røyrvik"),
    ("Snåase", "Snåase - Snåsa"),
    ("snasa", "Snåase - Snåsa"),
    ("Aarborte", "Aarborte - Hattfjelldal"),
    ("Hábmer", "Hábmer - Hamarøy"),
    # Names the hand-kept supplement adds to Kartverket's list.
    ("Romsa", "Tromsø"),
    ("Ivgu", "Lyngen"),
    ("Lakselv", "Porsanger - Porsáŋgu - Porsanki"),
    # Far from the Sami areas.
    ("Hjartdal", "Hjartdal"),
    ("lesja", "Lesja"),
    ("Haram", "Haram"),
])
def test_every_official_name_finds_its_municipality(query: str, name: str) -> None:
    found = places.municipalities_named(places.fold(query))
    assert found and found[0].name == name


def test_sami_area_and_2024_numbers() -> None:
    by_code = {m.code: m for m in places.municipalities()}
    assert by_code["5610"].name == "Kárášjohka - Karasjok" and by_code["5610"].sami_area
    assert not by_code["0301"].sami_area
    assert by_code["3205"].name == "Lillestrøm" and by_code["4024"].name == "Hjartdal"
    assert by_code["1508"].name == "Ålesund" and "1507" not in by_code
