"""What the appointment page says about the pre-visit form: a prominent link
while it can be filled in, for the person who may fill it in (a guardian of a
young person of 12 to 15 gets nothing: not even whether it was filled in), at
a clinic that uses the form (the county's ``previsit_form`` setting, as for
the reminders' link)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from starlette.requests import Request

from booking import previsit
from booking.models import Appointment, Clinic, County
from core.db import Database, utcnow
from web.acting import Acting


@dataclass(frozen=True)
class PrevisitLink:
    href: str
    filled: bool


async def previsit_link(request: Request, who: Acting, appointment: Appointment
                        ) -> PrevisitLink | None:
    if not previsit.is_open(appointment, utcnow()):
        return None
    if previsit.who_fills(for_child=who.for_child, access=who.access,
                          age=who.subject_age) is not None:
        return None
    db: Database = request.app.state.db
    async with db.read() as session:
        slug, settings = (await session.execute(
            select(Clinic.slug, County.quiet_hours).join(County, County.id == Clinic.county_id)
            .where(Clinic.id == appointment.clinic_id))).one()
        if not previsit.clinic_uses_form(settings, slug):
            return None
        filled = (await session.execute(select(previsit.PrevisitForm.chain_id).where(
            previsit.PrevisitForm.chain_id == previsit.chain_of(appointment)))).first()
    return PrevisitLink(who.link(f"/timer/{appointment.id}/helseskjema"), filled is not None)
