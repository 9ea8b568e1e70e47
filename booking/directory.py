"""The public clinic directory: counties, and finding active clinics by
county, municipality and name.

Matching ignores case the same way on SQLite and PostgreSQL. SQLite's
``lower()`` and ``LIKE`` fold ASCII letters only, so both sides are folded
explicitly: ``lower()`` for ASCII, then the capital letters of Norwegian and
Northern Sami place names (Æ Ø Å, Á Č Đ Ŋ Š Ŧ Ž, and Ä Ö for Kven and
Swedish) replaced one by one. The directory is a few hundred rows, so the
scan this costs does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, joinedload

from booking.models import Clinic, County
from core.db import Database

_CAPITALS = "ÆØÅÁČĐŊŠŦŽÄÖ"
_LIKE_ESCAPE = "\\"
#: More results than a person reads; the page asks them to narrow the search.
DEFAULT_LIMIT = 50


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


@dataclass(frozen=True)
class SearchResult:
    clinics: list[ClinicListing]
    #: More clinics matched than were returned.
    truncated: bool


def _fold(column: InstrumentedAttribute[str]) -> ColumnElement[str]:
    folded: ColumnElement[str] = func.lower(column)
    for capital in _CAPITALS:
        folded = func.replace(folded, capital, capital.lower())
    return folded


def _like_literal(text: str) -> str:
    """``text`` with LIKE's wildcards escaped, so "50%" means 50%."""
    return (text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
            .replace("%", _LIKE_ESCAPE + "%").replace("_", _LIKE_ESCAPE + "_"))


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


async def search_clinics(db: Database, *, county_id: int | None = None,
                         municipality: str | None = None, name: str | None = None,
                         limit: int = DEFAULT_LIMIT) -> SearchResult:
    """Active clinics, by name, that match every filter given.

    ``municipality`` is a municipality number prefix when it is all digits
    ("03", "0301"), otherwise a name prefix ("tromsø" finds Tromsø);
    ``name`` is a part of the clinic's name. Case is ignored.
    """
    query = (select(Clinic.slug, Clinic.name, Clinic.street_address, Clinic.postal_code,
                    Clinic.postal_town, Clinic.municipality_name, County.name.label("county"))
             .join(County, County.id == Clinic.county_id)
             .where(Clinic.active.is_(True)))
    if county_id is not None:
        query = query.where(Clinic.county_id == county_id)
    municipality = (municipality or "").strip()
    if municipality.isdigit():
        query = query.where(Clinic.municipality_code.like(
            _like_literal(municipality) + "%", escape=_LIKE_ESCAPE))
    elif municipality:
        query = query.where(_fold(Clinic.municipality_name).like(
            _like_literal(municipality.lower()) + "%", escape=_LIKE_ESCAPE))
    name = (name or "").strip()
    if name:
        query = query.where(_fold(Clinic.name).like(
            "%" + _like_literal(name.lower()) + "%", escape=_LIKE_ESCAPE))
    query = query.order_by(Clinic.name, Clinic.id).limit(limit + 1)
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    listings = [ClinicListing(row.slug, row.name, row.street_address, row.postal_code,
                              row.postal_town, row.municipality_name, row.county)
                for row in rows[:limit]]
    return SearchResult(listings, truncated=len(rows) > limit)


async def clinic_by_slug(db: Database, slug: str) -> Clinic | None:
    """An active clinic with its county loaded, or None."""
    async with db.read() as session:
        return (await session.execute(
            select(Clinic).options(joinedload(Clinic.county))
            .where(Clinic.slug == slug, Clinic.active.is_(True))
        )).scalar_one_or_none()
