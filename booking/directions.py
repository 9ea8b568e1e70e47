"""How to get to a clinic: links, built from the clinic's coordinates, that
hand the journey to the phone's map app and to Entur's journey planner.

Pure functions; nothing about the patient or the appointment goes into a
link, only the clinic's place (and its name, which is public).

Map: Google's "Maps URLs" (https://developers.google.com/maps/documentation/urls),
``https://www.google.com/maps/search/?api=1&query=<lat>,<lon>``. It is the one
https address documented to open the installed map app on both Android and
iOS, and a web map anywhere else. A ``geo:`` URI (RFC 5870) opens nothing on
iOS, and an OpenStreetMap address always stays in the browser (the clinic
page keeps one for that reason: no app, no Google).

Public transport: Entur's documented deep link into its app, which falls back
to entur.no (https://developer.entur.org/pages-deep-links, "Linking to a
Travel Search"): ``https://entur.no/travel-result?stopLat=…&stopLon=…``. With
no start given, Entur starts from the user's own position (or asks). Entur
treats a start or stop id (``NSR:StopPlace:…``) the same way, but we keep no
stop ids for clinics, so the clinic's coordinates are the destination.
``stopName`` is not in that table but is what entur.no's own result links
carry to label the destination; Entur ignores parameters it does not know.
No date: the trip is planned from "now", and the appointment time stays out of
third parties' logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from booking.models import Clinic

GOOGLE_MAPS_SEARCH: Final = "https://www.google.com/maps/search/"
ENTUR_TRAVEL_RESULT: Final = "https://entur.no/travel-result"


def _coordinate(value: float, limit: float) -> str:
    """Six decimals (about 10 cm): enough for a door, short in an SMS."""
    if not -limit <= value <= limit:
        raise ValueError(f"coordinate {value} out of range")
    return f"{value:.6f}"


def _place(latitude: float, longitude: float) -> tuple[str, str]:
    return _coordinate(latitude, 90), _coordinate(longitude, 180)


def map_link(latitude: float, longitude: float) -> str:
    """Opens the map app (or a web map) with a pin on the coordinates."""
    lat, lon = _place(latitude, longitude)
    return f"{GOOGLE_MAPS_SEARCH}?{urlencode({'api': '1', 'query': f'{lat},{lon}'})}"


def entur_link(latitude: float, longitude: float, name: str | None = None) -> str:
    """A public-transport journey from where the user is to the coordinates."""
    lat, lon = _place(latitude, longitude)
    params = {"stopLat": lat, "stopLon": lon}
    if name:
        params["stopName"] = name
    return f"{ENTUR_TRAVEL_RESULT}?{urlencode(params)}"


@dataclass(frozen=True)
class Directions:
    map_url: str
    public_transport_url: str


def directions_to(clinic: Clinic) -> Directions:
    return Directions(
        map_url=map_link(clinic.latitude, clinic.longitude),
        public_transport_url=entur_link(clinic.latitude, clinic.longitude, clinic.name),
    )
