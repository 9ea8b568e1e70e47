"""Who may run a clinic's week: clinic admins for their clinics, county
admins for every clinic of their county. Any other clinic, and any id that
is not the clinic's own, is answered 404 and written to the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request

from booking import audit
from booking.models import Clinic
from booking.schedule_changes import PURPOSE
from core.db import Database, utcnow
from web.auth.access import require_staff
from web.auth.roles import StaffRole
from web.auth.staff import StaffPrincipal

BASE: Final = "/staff/klinikk/{slug}"
ROLES: Final = (StaffRole.CLINIC_ADMIN, StaffRole.COUNTY_ADMIN)


@dataclass(frozen=True)
class ClinicScope:
    staff: StaffPrincipal
    clinic_id: int
    county_id: int
    slug: str
    name: str

    @property
    def base(self) -> str:
        return f"/staff/klinikk/{self.slug}"


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def refuse(request: Request, staff: StaffPrincipal, **detail: object) -> HTTPException:
    """Audit an attempt outside the staff member's scope; the 404 to raise."""
    async with db_of(request).write() as session:
        await audit.record(session, staff.actor, "staff.out_of_scope", purpose=PURPOSE,
                           detail={"path": request.url.path[:200], **detail},
                           now=utcnow())
    return HTTPException(404)


async def clinic_scope(request: Request) -> ClinicScope:
    """The clinic of the path, if this staff member may run its week."""
    staff = await require_staff(request)
    if not staff.has_role(*ROLES):
        raise HTTPException(403)
    slug = str(request.path_params["slug"])[:120]
    async with db_of(request).read() as session:
        clinic = (await session.execute(select(Clinic).where(Clinic.slug == slug))
                  ).scalar_one_or_none()
    if clinic is None or clinic.id not in staff.actor.clinic_ids:
        raise await refuse(request, staff, clinic_id=clinic.id if clinic else None)
    return ClinicScope(staff, clinic.id, clinic.county_id, clinic.slug, clinic.name)
