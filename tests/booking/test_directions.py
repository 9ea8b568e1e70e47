"""Links to a clinic: the map app (Google Maps URLs) and Entur's journey
planner, with the clinic's coordinates and nothing else."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from booking.directions import Directions, directions_to, entur_link, map_link
from booking.models import Clinic


def _parts(url: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(url)
    assert parts.fragment == ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query,
                                                                   strict_parsing=True)


def test_map_link_is_a_google_maps_search_for_the_coordinates() -> None:
    url = map_link(69.6496, 18.9560)
    assert url == "https://www.google.com/maps/search/?api=1&query=69.649600%2C18.956000"
    base, query = _parts(url)
    assert base == "https://www.google.com/maps/search/"
    assert query == {"api": ["1"], "query": ["69.649600,18.956000"]}


def test_map_link_keeps_the_sign_of_western_and_southern_coordinates() -> None:
    _, query = _parts(map_link(-33.5, -0.25))
    assert query["query"] == ["-33.500000,-0.250000"]


def test_entur_link_plans_a_trip_from_the_users_position_to_the_clinic() -> None:
    url = entur_link(59.91, 10.75, "Grünerløkka tannklinikk & kjeveortoped")
    base, query = _parts(url)
    assert base == "https://entur.no/travel-result"
    assert query == {
        "stopLat": ["59.910000"],
        "stopLon": ["10.750000"],
        "stopName": ["Grünerløkka tannklinikk & kjeveortoped"],
    }
    # No start: Entur starts from where the user is.
    assert not {"startId", "startLat", "startLon", "date"} & set(query)


def test_entur_link_without_a_name_has_only_the_coordinates() -> None:
    assert entur_link(63.4305, 10.3951) == (
        "https://entur.no/travel-result?stopLat=63.430500&stopLon=10.395100")


@pytest.mark.parametrize(("latitude", "longitude"), [(90.5, 10.0), (-91.0, 0.0),
                                                     (59.9, 180.01), (59.9, -200.0)])
def test_impossible_coordinates_are_refused(latitude: float, longitude: float) -> None:
    with pytest.raises(ValueError, match="out of range"):
        map_link(latitude, longitude)
    with pytest.raises(ValueError, match="out of range"):
        entur_link(latitude, longitude)


def test_directions_to_a_clinic() -> None:
    clinic = Clinic(name="Åsane tannklinikk", latitude=60.4656, longitude=5.3221)
    assert directions_to(clinic) == Directions(
        map_url="https://www.google.com/maps/search/?api=1&query=60.465600%2C5.322100",
        public_transport_url=("https://entur.no/travel-result?stopLat=60.465600"
                              "&stopLon=5.322100&stopName=%C3%85sane+tannklinikk"),
    )
