"""The authorisation step of every appointment page: the appointment named in
the path, and on whose behalf the user acts for it, or a 404.

The order is fixed: login first (a stranger is sent to log in, and learns
nothing about which ids exist), then the id's shape, then the row, then
whether this user may act for that appointment's patient today. A refusal
is audited in the patient's log (``web.acting.refuse``) before the 404 is
raised, and before any change is attempted.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from booking.models import Appointment
from booking.representation import Access
from core.db import Database
from web.acting import Acting, acting, parse_id, refuse, requested_subject
from web.auth.access import require_patient
from web.views.patient.presenting import load_appointment


async def acting_for_appointment(request: Request) -> tuple[Acting, Appointment]:
    principal = await require_patient(request)
    appointment_id = parse_id(request.path_params.get("appointment_id"))
    if appointment_id is None:
        raise HTTPException(404)
    given, for_id = requested_subject(request)
    if given and for_id is None:
        raise HTTPException(404)
    db: Database = request.app.state.db
    appointment = await load_appointment(db, appointment_id)
    if appointment is None:
        if for_id is not None:
            await acting(request, for_id)  # a tampered ``for`` is audited too
        raise HTTPException(404)
    detail = {"appointment_id": appointment.id}
    who = await acting(request, appointment.patient_id, refusal_detail=detail)
    if for_id is not None and who.access_to(for_id) is Access.NONE:
        # The appointment is the user's own, but ``for`` names someone else.
        raise await refuse(request, principal.patient_id, for_id,
                           represents=who.guardian_actor.represents, detail=detail)
    return who, appointment
