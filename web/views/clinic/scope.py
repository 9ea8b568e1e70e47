"""Who may open which clinic in the clinic console.

Reception and clinic admins act for the clinics named for them, county
admins for every clinic of their county (``web.auth.staff``). A clinic or an
appointment outside that scope, or one that does not exist, is a 404, and
the attempt is written to the audit log first: a staff member probing other
clinics' ids is detectable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request

from booking import audit
from booking.models import Appointment, Clinic
from core.db import Database
from web.acting import parse_id
from web.auth.access import require_staff
from web.auth.roles import StaffRole
from web.auth.staff import StaffPrincipal

BASE: Final = "/staff/klinikk"
#: The roles of the reception part of the console.
ROLES: Final = (StaffRole.RECEPTION, StaffRole.CLINIC_ADMIN, StaffRole.COUNTY_ADMIN)
AUDIT_PURPOSE: Final = "reception"
REFUSED_ACTION: Final = "clinic.access.refused"


@dataclass(frozen=True)
class AtClinic:
    staff: StaffPrincipal
    clinic: Clinic

    @property
    def base(self) -> str:
        return f"{BASE}/{self.clinic.slug}"


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def refuse(request: Request, staff: StaffPrincipal, *, patient_id: int | None = None,
                 **detail: Any) -> HTTPException:
    """Audit a refused attempt and return the 404 to raise."""
    route = request.scope.get("route")
    async with db_of(request).write() as session:
        await audit.record(session, staff.actor, REFUSED_ACTION, purpose=AUDIT_PURPOSE,
                           subject_patient_id=patient_id,
                           detail={"route": getattr(route, "name", None), **detail})
    return HTTPException(404)


async def reception(request: Request) -> StaffPrincipal:
    staff = await require_staff(request)
    if not staff.has_role(*ROLES):
        raise HTTPException(403)
    return staff


async def at_clinic(request: Request) -> AtClinic:
    """The clinic named in the path, if the staff member acts for it."""
    staff = await reception(request)
    slug = str(request.path_params.get("slug", ""))[:120]
    async with db_of(request).read() as session:
        clinic = (await session.execute(
            select(Clinic).where(Clinic.slug == slug))).scalar_one_or_none()
    if clinic is None or clinic.id not in staff.actor.clinic_ids:
        raise await refuse(request, staff, clinic_id=clinic.id if clinic else None)
    return AtClinic(staff, clinic)


async def appointment_at(request: Request, here: AtClinic) -> Appointment:
    """The appointment named in the path, if it is at this clinic."""
    appointment_id = parse_id(request.path_params.get("appointment_id"))
    appointment = None
    if appointment_id is not None:
        async with db_of(request).read() as session:
            appointment = await session.get(Appointment, appointment_id)
    if appointment is None or appointment.clinic_id != here.clinic.id:
        raise await refuse(
            request, here.staff, clinic_id=here.clinic.id, appointment_id=appointment_id,
            patient_id=appointment.patient_id if appointment is not None else None)
    return appointment
