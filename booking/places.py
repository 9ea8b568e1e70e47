"""Places a patient may search clinics by: municipalities with every one of
their official names (Norwegian, Northern, Lule and South Sami, Kven), a
point in the municipality, and the way names are compared.

Names are compared *folded*: lower case, accents and other marks removed and
the Norwegian and Sami letters written as on a keyboard without them
(ø → o, æ → ae, å → a, đ → d, ŋ → n, ŧ → t, š → s, č → c, ž → z), so "Tromso"
finds Tromsø, "Grunerlokka" Grünerløkka and "karasjohka" Kárášjohka.

The gazetteer, ``booking/data/municipalities.json``, holds every Norwegian
municipality: numbers and names as in force from 1 January 2024, from
Kartverket's list (CC BY 4.0) renumbered and supplemented by
``scripts/municipalities.py``. A point is the administrative centre where the
script lists one (the north and the Sami areas), else Kartverket's point
inside the municipality; either is enough to order clinics by distance. A
municipality with a clinic is also found by the names on its clinics.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from math import asin, cos, radians, sin, sqrt
from pathlib import Path
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
    #: In the Sami administrative area (Sami has equal standing there).
    sami_area: bool = False

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.also)


#: Every municipality, written by ``scripts/municipalities.py`` from
#: Kartverket's list (CC BY 4.0; the file's "source" says so).
DATA_FILE: Final = Path(__file__).resolve().parent / "data" / "municipalities.json"


@cache
def municipalities() -> tuple[Municipality, ...]:
    """Every Norwegian municipality, read from :data:`DATA_FILE` once."""
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return tuple(Municipality(str(m["number"]), str(m["name"]),
                              tuple(str(a) for a in m["also"]),
                              float(m["latitude"]), float(m["longitude"]), bool(m["sami"]))
                 for m in data["municipalities"])


def municipalities_named(query: str) -> list[Municipality]:
    """The municipalities one of whose names the folded ``query`` begins,
    those with a name that is the whole ``query`` first ("Nes" before Nesna)."""
    found = [m for m in municipalities() if any(matches(query, name) for name in m.names())]
    return sorted(found, key=lambda m: not any(
        query in name_parts(name) for name in m.names()))
