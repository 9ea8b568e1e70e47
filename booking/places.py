"""Places a patient may search clinics by: municipalities with every one of
their official names (Norwegian, Northern, Lule and South Sami, Kven), a
point near the municipal centre, and the way names are compared.

Names are compared *folded*: lower case, accents and other marks removed and
the Norwegian and Sami letters written as on a keyboard without them
(ø → o, æ → ae, å → a, đ → d, ŋ → n, ŧ → t, š → s, č → c, ž → z), so "Tromso"
finds Tromsø, "Grunerlokka" Grünerløkka and "karasjohka" Kárášjohka.

The gazetteer holds the municipalities of the two northern counties (Troms
and Finnmark, where most places have Sami and Kven names) and the Sami
administrative-area municipalities further south; a municipality with a
clinic is also found by the names on its clinics. Numbers and names are
those in force from 1 January 2024 (Kartverket); the coordinates are of the
administrative centre, to a few hundred metres, which is enough to order
clinics by distance.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from math import asin, cos, radians, sin, sqrt
from typing import Final

#: Letters that are not a base letter plus a mark, written as without them.
_PLAIN: Final = str.maketrans({"ø": "o", "æ": "ae", "đ": "d", "ŋ": "n", "ŧ": "t",
                               "ß": "ss", "œ": "oe", "ł": "l"})
EARTH_RADIUS_KM: Final = 6371.0


def fold(text: str) -> str:
    """``text`` as names are compared: "Kárášjohka" → "karasjohka"."""
    lowered = text.casefold().translate(_PLAIN)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def name_parts(name: str) -> list[str]:
    """The names in an official multi-language name, folded:
    "Gáivuotna - Kåfjord - Kaivuono" → ["gaivuotna", "kafjord", "kaivuono"]."""
    return [fold(part) for part in name.replace("–", "-").split(" - ") if part.strip()]


def matches(query: str, name: str) -> bool:
    """Whether the folded ``query`` begins the name, one of its parts or one of
    its words ("sentrum" finds "Tromsø sentrum")."""
    if not query:
        return False
    for part in name_parts(name):
        if part.startswith(query) or any(word.startswith(query) for word in part.split()):
            return True
    return False


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance (haversine) between two points, in km."""
    dlat, dlon = radians(lat2 - lat1), radians(lon2 - lon1)
    a = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(sqrt(a))


@dataclass(frozen=True)
class Municipality:
    code: str
    #: The official name as written, with " - " between its languages.
    name: str
    #: Other names the place is known by (the centre's name, older names).
    also: tuple[str, ...]
    latitude: float
    longitude: float

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.also)


def _m(code: str, name: str, latitude: float, longitude: float, *also: str) -> Municipality:
    return Municipality(code, name, also, latitude, longitude)


MUNICIPALITIES: Final[tuple[Municipality, ...]] = (
    # Troms (55)
    _m("5501", "Tromsø", 69.6492, 18.9553, "Romsa", "Tromssa"),
    _m("5503", "Harstad", 68.7990, 16.5410, "Hárstták"),
    _m("5510", "Kvæfjord", 68.7660, 16.1770, "Borkenes"),
    _m("5512", "Tjeldsund", 68.5850, 16.5560, "Dielddanuorri", "Evenskjer"),
    _m("5514", "Ibestad", 68.7810, 17.1770, "Hamnvik"),
    _m("5516", "Gratangen", 68.6920, 17.5300, "Rivttát", "Årstein"),
    _m("5518", "Loabák - Lavangen", 68.7450, 17.8080, "Tennevoll"),
    _m("5520", "Bardu", 68.8620, 18.3490, "Setermoen"),
    _m("5522", "Salangen", 68.8730, 17.8400, "Sjøvegan"),
    _m("5524", "Målselv", 69.1290, 18.6020, "Moen", "Bardufoss"),
    _m("5526", "Sørreisa", 69.1460, 18.1560),
    _m("5528", "Dyrøy", 69.0900, 17.6800, "Brøstadbotn"),
    _m("5530", "Senja", 69.2290, 17.9810, "Finnsnes"),
    _m("5532", "Balsfjord", 69.2420, 19.2280, "Báhccavuotna", "Paattasvuono",
       "Storsteinnes"),
    _m("5534", "Karlsøy", 69.9710, 19.6310, "Hansnes"),
    _m("5536", "Lyngen", 69.5750, 20.2160, "Ivgu", "Yykeä", "Lyngseidet"),
    _m("5538", "Storfjord - Omasvuotna - Omasvuono", 69.2630, 20.0000, "Hatteng"),
    _m("5540", "Gáivuotna - Kåfjord - Kaivuono", 69.6040, 20.5310, "Olderdalen"),
    _m("5542", "Skjervøy", 70.0320, 20.9720),
    _m("5544", "Nordreisa", 69.7660, 21.0270, "Ráisa", "Raisi", "Storslett"),
    _m("5546", "Kvænangen", 69.9320, 22.0500, "Návuotna", "Naavuono", "Burfjord"),
    # Finnmark (56)
    _m("5601", "Alta", 69.9680, 23.2720, "Áltá", "Alattio"),
    _m("5603", "Hammerfest", 70.6630, 23.6820, "Hámmárfeasta"),
    _m("5605", "Sør-Varanger", 69.7270, 30.0450, "Mátta-Várjjat", "Kirkenes"),
    _m("5607", "Vadsø", 70.0740, 29.7490, "Čáhcesuolu", "Vesisaari"),
    _m("5610", "Kárášjohka - Karasjok", 69.4720, 25.5110),
    _m("5612", "Guovdageaidnu - Kautokeino", 69.0120, 23.0410),
    _m("5614", "Loppa", 70.2390, 22.3510, "Láhppi", "Øksfjord"),
    _m("5616", "Hasvik", 70.4860, 22.1480, "Ákŋoluokta"),
    _m("5618", "Måsøy", 70.9960, 24.6620, "Muosát", "Havøysund"),
    _m("5620", "Nordkapp", 70.9820, 25.9700, "Davvinjárga", "Honningsvåg"),
    _m("5622", "Porsanger - Porsáŋgu - Porsanki", 70.0510, 24.9710, "Lakselv"),
    _m("5624", "Lebesby", 70.9460, 27.3480, "Davvesiida", "Kjøllefjord"),
    _m("5626", "Gamvik", 71.0360, 27.8480, "Gáŋgaviika", "Mehamn"),
    _m("5628", "Deatnu - Tana", 70.1970, 28.1860, "Tana bru"),
    _m("5630", "Berlevåg", 70.8570, 29.0860, "Bearalváhki"),
    _m("5632", "Båtsfjord", 70.6340, 29.7180, "Báhcavuotna"),
    _m("5634", "Vardø", 70.3700, 31.1100, "Várggát", "Vuoreija"),
    _m("5636", "Unjárga - Nesseby", 70.1700, 28.5500, "Varangerbotn"),
    # Nordland (18): the Sami administrative area and the clinic towns' Sami names
    _m("1804", "Bodø", 67.2800, 14.4050, "Bådåddjo"),
    _m("1806", "Narvik", 68.4380, 17.4270, "Áhkanjárga"),
    _m("1826", "Aarborte - Hattfjelldal", 65.5960, 13.9900),
    _m("1833", "Rana", 66.3130, 14.1420, "Raane", "Mo i Rana"),
    _m("1841", "Fauske - Fuossko", 67.2590, 15.3930),
    _m("1853", "Evenes", 68.4960, 16.7230, "Evenášši", "Bogen"),
    _m("1875", "Hamarøy", 68.0800, 15.6280, "Hábmer", "Oppeid"),
    # Trøndelag (50): the Sami administrative area
    _m("5041", "Snåase - Snåsa", 64.2450, 12.3770),
    _m("5042", "Lierne", 64.4000, 13.6400, "Lijre", "Sandvika"),
    _m("5043", "Raarvihke - Røyrvik", 64.8830, 13.5600),
    _m("5025", "Røros", 62.5750, 11.3840, "Rosse"),
)


def municipalities_named(query: str) -> list[Municipality]:
    """The municipalities one of whose names the folded ``query`` begins."""
    return [m for m in MUNICIPALITIES if any(matches(query, name) for name in m.names())]
