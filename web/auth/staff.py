"""Who a logged-in staff member is, and for which clinics they may act.

At login the role and scope come from the local ``staff_users`` register when
it knows the person (issuer + subject), else from the identity provider's
claims: ``roles`` or ``tanntid_roles`` (a list of :class:`StaffRole` values),
``tanntid_county`` (the county's number, e.g. "03") and ``tanntid_clinics``
(clinic slugs). At every request :func:`staff_actor` turns that into a
:class:`~booking.audit.Actor` whose clinics are looked up again and always
lie inside the person's own county: a staff member of one county can never
act in another, whatever the claims say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from booking.audit import Actor
from booking.models import Clinic, County
from core.db import Database
from idporten.client import LoginFailed
from idporten.tokens import IDTokenClaims
from web.auth.models import StaffUser
from web.auth.roles import COUNTY_WIDE, StaffRole, parse_roles

COUNTY_CLAIM = "tanntid_county"
CLINICS_CLAIM = "tanntid_clinics"
ROLES_CLAIMS = ("tanntid_roles", "roles")


@dataclass(frozen=True)
class StaffGrant:
    """What a staff session remembers (no personal data beyond the name)."""

    subject: str
    name: str
    roles: tuple[str, ...]
    county_id: int
    clinic_ids: tuple[int, ...]

    def to_data(self) -> dict[str, Any]:
        return {**asdict(self), "roles": list(self.roles), "clinic_ids": list(self.clinic_ids)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StaffGrant:
        return cls(subject=str(data["subject"]), name=str(data.get("name", "")),
                   roles=tuple(data.get("roles", ())), county_id=int(data["county_id"]),
                   clinic_ids=tuple(int(c) for c in data.get("clinic_ids", ())))

    @property
    def role_set(self) -> frozenset[StaffRole]:
        return parse_roles(list(self.roles))


@dataclass(frozen=True)
class StaffPrincipal:
    grant: StaffGrant
    actor: Actor

    def has_role(self, *roles: StaffRole) -> bool:
        return bool(self.grant.role_set & set(roles))


async def grant_for_login(db: Database, issuer: str, claims: IDTokenClaims) -> StaffGrant:
    async with db.read() as session:
        row = (await session.execute(select(StaffUser).where(
            StaffUser.issuer == issuer, StaffUser.subject == claims.sub))).scalar_one_or_none()
        if row is not None:
            if not row.active:
                raise LoginFailed("not_staff")
            roles = parse_roles([row.role])
            county_id: int | None = row.county_id
            wanted = [int(c) for c in row.clinic_ids or ()]
            clinic_rows = (await session.execute(select(Clinic.id).where(
                Clinic.id.in_(wanted), Clinic.county_id == county_id))).scalars().all()
            name = row.display_name
        else:
            roles = frozenset()
            for claim in ROLES_CLAIMS:
                roles |= parse_roles(claims.claims.get(claim))
            code = claims.claims.get(COUNTY_CLAIM)
            county_id = (await session.execute(select(County.id).where(
                County.code == str(code)))).scalar_one_or_none() if code else None
            slugs = claims.claims.get(CLINICS_CLAIM) or []
            slugs = [s for s in slugs if isinstance(s, str)] if isinstance(slugs, list) else []
            clinic_rows = (await session.execute(select(Clinic.id).where(
                Clinic.slug.in_(slugs), Clinic.county_id == county_id))).scalars().all()
            raw_name = claims.claims.get("name")
            name = raw_name[:200] if isinstance(raw_name, str) else ""
    if not roles or county_id is None:
        raise LoginFailed("not_staff")
    return StaffGrant(subject=claims.sub, name=name, roles=tuple(sorted(roles)),
                      county_id=county_id, clinic_ids=tuple(sorted(clinic_rows)))


async def staff_actor(db: Database, grant: StaffGrant) -> Actor:
    """The actor for this request: county-wide roles act for every clinic of
    their county, the others for their named clinics, and only those still in
    the county."""
    query = select(Clinic.id).where(Clinic.county_id == grant.county_id)
    if not grant.role_set & COUNTY_WIDE:
        query = query.where(Clinic.id.in_(list(grant.clinic_ids)))
    async with db.read() as session:
        clinic_ids = frozenset((await session.execute(query)).scalars().all())
    return Actor.staff(grant.subject, clinic_ids)
