"""The public clinic directory: counties, and finding active clinics by
county, place (any name of a municipality, a postal town, a postcode) and
name, ignoring case and accents (:func:`booking.places.fold`); for a
municipality without a clinic, the nearest clinics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from booking import places
from booking.models import Clinic, County
from core.db import Database

#: More results than a person reads; the page asks them to narrow the search.
DEFAULT_LIMIT = 50
#: How many clinics to show near a municipality that has none.
NEAREST = 5


@dataclass(frozen=True)
class CountyChoice:
    id: int
    name: str


@dataclass(frozen=True)
class ClinicListing:
    """One line of a search result."""

    slug: str
    name: str
    street_address: str
    postal_code: str
    postal_town: str
    municipality_name: str
    county_name: str
    #: Straight-line distance from the place searched for, when it has no clinic.
    distance_km: int | None = None


@dataclass(frozen=True)
class SearchResult:
    clinics: list[ClinicListing]
    #: More clinics matched than were returned.
    truncated: bool
    #: The municipality searched for, which has no clinic: ``clinics`` are
    #: the nearest ones, nearest first.
    near: str | None = None


async def counties(db: Database) -> list[CountyChoice]:
    """Counties that have at least one active clinic, by name."""
    async with db.read() as session:
        rows = await session.execute(
            select(County.id, County.name)
            .where(County.id.in_(select(Clinic.county_id).where(Clinic.active.is_(True))))
            .order_by(County.name)
        )
        return [CountyChoice(row.id, row.name) for row in rows]


async def municipality_names(db: Database, *, county_id: int | None = None) -> list[str]:
    """Names of municipalities with an active clinic (for suggestions)."""
    async with db.read() as session:
        query = (select(Clinic.municipality_name).distinct()
                 .where(Clinic.active.is_(True)).order_by(Clinic.municipality_name))
        if county_id is not None:
            query = query.where(Clinic.county_id == county_id)
        return list((await session.execute(query)).scalars())


@dataclass(frozen=True)
class _Row:
    listing: ClinicListing
    county_id: int
    municipality_code: str
    latitude: float
    longitude: float


async def _active_clinics(db: Database, county_id: int | None) -> list[_Row]:
    query = (select(Clinic.slug, Clinic.name, Clinic.street_address, Clinic.postal_code,
                    Clinic.postal_town, Clinic.municipality_name, County.name.label("county"),
                    Clinic.county_id, Clinic.municipality_code, Clinic.latitude,
                    Clinic.longitude)
             .join(County, County.id == Clinic.county_id)
             .where(Clinic.active.is_(True))
             .order_by(Clinic.name, Clinic.id))
    if county_id is not None:
        query = query.where(Clinic.county_id == county_id)
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    return [_Row(ClinicListing(r.slug, r.name, r.street_address, r.postal_code, r.postal_town,
                               r.municipality_name, r.county),
                 r.county_id, r.municipality_code, r.latitude, r.longitude) for r in rows]


def _at_place(row: _Row, query: str, codes: set[str]) -> bool:
    """The clinic is in the place: one of its municipality's names, its postal
    town or the place in its name begins with ``query`` (folded)."""
    listing = row.listing
    return (row.municipality_code in codes
            or places.matches(query, listing.municipality_name)
            or places.matches(query, listing.postal_town)
            or places.matches(query, listing.name))


def _by_number(rows: list[_Row], number: str) -> list[_Row]:
    """A municipality number (prefix) or a postcode (prefix); for a whole
    postcode no clinic has, the clinics whose postcodes share the most
    leading digits with it (postcodes run by area)."""
    found = [r for r in rows if r.municipality_code.startswith(number)
             or r.listing.postal_code.startswith(number)]
    if found or len(number) != 4:
        return found
    for digits in (3, 2):
        found = [r for r in rows if r.listing.postal_code.startswith(number[:digits])]
        if found:
            return sorted(found, key=lambda r: (abs(int(r.listing.postal_code) - int(number)),
                                                r.listing.name))
    return []


def _nearest(rows: list[_Row], place: places.Municipality, count: int) -> list[ClinicListing]:
    by_distance = sorted(rows, key=lambda r: places.distance_km(
        place.latitude, place.longitude, r.latitude, r.longitude))
    return [replace(r.listing, distance_km=round(places.distance_km(
        place.latitude, place.longitude, r.latitude, r.longitude)))
        for r in by_distance[:count]]


async def search_clinics(db: Database, *, county_id: int | None = None,
                         municipality: str | None = None, name: str | None = None,
                         municipality_code: str | None = None,
                         limit: int = DEFAULT_LIMIT) -> SearchResult:
    """Active clinics, by name, that match every filter given.

    ``municipality`` is a place: digits are a municipality number or a
    postcode, or the start of one ("03", "0301", "9730"); words are the start
    of any of a municipality's names (Karasjok and Kárášjohka alike), of a
    postal town or of a word in a clinic's name. ``name`` is a part of the
    clinic's name. Case and accents are ignored ("tromso" finds Tromsø).
    ``municipality_code`` is a whole municipality number, nothing else.
    When a place is a municipality without a clinic, the result is the
    :data:`NEAREST` clinics nearest to it, by distance, and says so.

    The directory is a few hundred rows: they are read and matched here,
    the same on SQLite and PostgreSQL.
    """
    rows = await _active_clinics(db, county_id)
    if municipality_code is not None:
        rows = [r for r in rows if r.municipality_code == municipality_code]
    place = (municipality or "").strip()
    query = places.fold(place)
    if place.isdigit():
        rows = _by_number(rows, place)
    elif query:
        named = places.municipalities_named(query)
        codes = {m.code for m in named}
        at_place = [r for r in rows if _at_place(r, query, codes)]
        if not at_place and named:
            wanted = places.fold(name or "")
            near = [r for r in rows if wanted in places.fold(r.listing.name)]
            return SearchResult(_nearest(near, named[0], NEAREST), truncated=False,
                                near=named[0].name)
        rows = at_place
    wanted = places.fold(name or "")
    if wanted:
        rows = [r for r in rows if wanted in places.fold(r.listing.name)]
    listings = [r.listing for r in rows]
    return SearchResult(listings[:limit], truncated=len(listings) > limit)


async def clinic_by_slug(db: Database, slug: str) -> Clinic | None:
    """An active clinic with its county loaded, or None."""
    async with db.read() as session:
        return (await session.execute(
            select(Clinic).options(joinedload(Clinic.county))
            .where(Clinic.slug == slug, Clinic.active.is_(True))
        )).scalar_one_or_none()
