"""``GET /min-side``: the page after login. The next appointments of the user
and of each child they may act for today, with what can be done now, and
the way to book."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from core.db import Database, utcnow
from web import i18n
from web.acting import PersonChoice, acting
from web.templating import render
from web.views.patient.presenting import AppointmentView, present, upcoming_of

#: Appointments shown per person; the list page has the rest.
NEXT_PER_PERSON = 3
BOOKING_PATH = "/bestill"


@dataclass(frozen=True)
class PersonSection:
    person: PersonChoice
    items: list[AppointmentView]
    more: int

    @property
    def book_href(self) -> str:
        return self.person.href(BOOKING_PATH)

    @property
    def list_href(self) -> str:
        return self.person.href("/timer")


@dataclass(frozen=True)
class UnavailableChild:
    given_name: str
    reason: str


async def home(request: Request) -> Response:
    who = await acting(request)
    i18n.activate(request)
    db: Database = request.app.state.db
    now = utcnow()
    upcoming = await upcoming_of(db, [p.patient_id for p in who.people], now)
    sections = []
    for person in who.people:
        mine = [a for a in upcoming if a.patient_id == person.patient_id]
        items = [present(a, who.patients[person.patient_id], who.actor_for(person.patient_id),
                         person.access, now, me_id=who.me.id)
                 for a in mine[:NEXT_PER_PERSON]]
        sections.append(PersonSection(person, items, max(0, len(mine) - NEXT_PER_PERSON)))
    unavailable = [UnavailableChild(child.given_name, i18n.translate(child.reason_text))
                   for child in who.unavailable]
    await who.audit_view(request, [p.patient_id for p in who.people if not p.is_me],
                         detail={"page": "home"})
    return render(request, "patient/home.html", {
        "acting": who, "sections": sections, "unavailable": unavailable,
    }, headers={"Cache-Control": "no-store"})
