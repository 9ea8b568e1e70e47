"""Where a clinic or county admin starts (``/staff/ukeplaner``): the clinics
whose week they run, and for county admins the county's appointment types."""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from booking.models import Clinic
from web.auth.access import require_staff
from web.auth.roles import StaffRole
from web.templating import render
from web.views.schedule_admin.scope import ROLES, db_of

PATH: Final = "/staff/ukeplaner"


async def index(request: Request) -> Response:
    staff = await require_staff(request)
    if not staff.has_role(*ROLES):
        raise HTTPException(403)
    async with db_of(request).read() as session:
        clinics = list((await session.execute(
            select(Clinic.slug, Clinic.name).where(Clinic.id.in_(list(staff.actor.clinic_ids)))
            .order_by(Clinic.name))).all())
    return render(request, "schedule_admin/clinics.html", {
        "clinics": clinics, "county_admin": staff.has_role(StaffRole.COUNTY_ADMIN),
    })
