"""The staff directory: who logged in, for which county, with which roles
and clinics (:class:`web.oversight.models.StaffDirectoryEntry`), kept at
every staff login."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from booking.audit import Actor
from core.db import Database, utcnow
from web.auth.roles import COUNTY_WIDE
from web.auth.staff import StaffGrant
from web.oversight.models import StaffDirectoryEntry


def actor_id(grant: StaffGrant) -> str:
    return Actor.staff(grant.subject, frozenset()).id


async def remember(db: Database, grant: StaffGrant, now: datetime | None = None) -> None:
    """Add or refresh the staff member's entry."""
    now = now or utcnow()
    key = actor_id(grant)
    values = dict(name=grant.name[:200] or key, county_id=grant.county_id,
                  roles=sorted(grant.roles), clinic_ids=sorted(grant.clinic_ids),
                  last_login_at=now)
    for _ in range(2):  # two first logins at once: the second updates
        try:
            async with db.write() as session:
                row = await session.get(StaffDirectoryEntry, key)
                if row is None:
                    session.add(StaffDirectoryEntry(actor_id=key, **values))
                else:
                    for name, value in values.items():
                        setattr(row, name, value)
            return
        except IntegrityError:
            continue


async def names(db: Database, county_id: int) -> dict[str, str]:
    """Actor id → name, for the county's staff."""
    async with db.read() as session:
        return {a: n for a, n in (await session.execute(
            select(StaffDirectoryEntry.actor_id, StaffDirectoryEntry.name)
            .where(StaffDirectoryEntry.county_id == county_id)
            .order_by(StaffDirectoryEntry.name))).all()}


def is_county_wide(roles: list[str]) -> bool:
    """Whether these roles act for every clinic of the county."""
    return any(role in {r.value for r in COUNTY_WIDE} for role in roles)

