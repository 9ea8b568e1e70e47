"""Finding a patient as staff do: by identity number (its keyed hash), or by
full name and birth date; and whether a staff member may see them at all.

Shared by the support console (``notifications.support``) and the clinic
console (``web.views.clinic``). Staff see a patient only through appointments
at the clinics they act for (``Actor.clinic_ids``); anyone else is "not found",
exactly as a person who does not exist. Auditing the look-up, with its
purpose, is the caller's (each console has its own closed list of purposes).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import audit
from booking.audit import Actor
from booking.models import Appointment, Guardianship, Patient
from booking.representation import PersonFacts, guardian_access
from core.identity import IdentityVault

#: Longest typed name searched for.
NAME_LIMIT: Final = 200
#: At most this many people match one look-up.
MATCH_LIMIT: Final = 20


@dataclass(frozen=True)
class PatientHit:
    """What identifies a person in a list of results, and nothing more."""

    patient_id: int
    given_name: str
    family_name: str
    birth_date: date


def by_identity_number(vault: IdentityVault, identity_number: str) -> Select[Patient]:
    return select(Patient).where(Patient.identity_hash == vault.lookup_hash(
        identity_number.strip()))


def by_name_and_birth_date(name: str, birth_date: date) -> Select[Patient] | None:
    """Full name ("given family", any case and spacing) and birth date; None
    when the name is empty."""
    wanted = " ".join(name.split()).lower()[:NAME_LIMIT]
    if not wanted:
        return None
    return select(Patient).where(
        Patient.birth_date == birth_date,
        func.lower(Patient.given_name + " " + Patient.family_name) == wanted)


async def matches(session: AsyncSession, query: Select[Patient]) -> list[Patient]:
    return list((await session.execute(query.order_by(Patient.id).limit(MATCH_LIMIT))).scalars())


async def in_scope(session: AsyncSession, clinic_ids: Collection[int],
                   patient_ids: Sequence[int]) -> set[int]:
    """Those of ``patient_ids`` with an appointment at one of ``clinic_ids``."""
    if not patient_ids or not clinic_ids:
        return set()
    rows = await session.execute(
        select(Appointment.patient_id).where(
            Appointment.patient_id.in_(list(patient_ids)),
            Appointment.clinic_id.in_(sorted(clinic_ids))).distinct())
    return set(rows.scalars())


def hit(patient: Patient) -> PatientHit:
    return PatientHit(patient.id, patient.given_name, patient.family_name, patient.birth_date)


# --- the reception desk's look-ups --------------------------------------------

class ReceptionPurpose(StrEnum):
    """Why the reception desk looks a patient up: a closed list
    (helsepersonelloven § 21). ``DAY_LIST`` and ``WAITLIST`` are never
    chosen: they are the purposes of opening a patient from an appointment in
    the day view and from the clinic's waitlist."""

    BOOKING = "booking"
    PHONE_INQUIRY = "phone_inquiry"
    ARRIVAL = "arrival"
    DAY_LIST = "day_list"
    WAITLIST = "waitlist"


#: The purposes offered in the find form.
RECEPTION_CHOICES: Final = (ReceptionPurpose.BOOKING, ReceptionPurpose.PHONE_INQUIRY,
                            ReceptionPurpose.ARRIVAL)
RECEPTION_AUDIT_PURPOSE: Final = "reception"
RECEPTION_LOOKUP_ACTION: Final = "clinic.patient.lookup"
RECEPTION_VIEW_ACTION: Final = "clinic.patient.view"


class LookupRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def reception_find(session: AsyncSession, vault: IdentityVault, actor: Actor,
                         purpose: str, *, identity_number: str | None = None,
                         name: str | None = None, birth_date: date | None = None,
                         now: datetime | None = None) -> list[PatientHit]:
    """The patients with appointments at the actor's clinics matching an
    identity number, or a full name and birth date; audited with the
    purpose, also when nothing (or only someone outside) is found. Refused
    (``choose_purpose``, ``name_and_birth_date``) before anything is read."""
    if purpose not in RECEPTION_CHOICES:
        raise LookupRefused("choose_purpose")
    if identity_number:
        query: Select[Patient] | None = by_identity_number(vault, identity_number)
        by = "identity_number"
    else:
        query = (by_name_and_birth_date(name or "", birth_date)
                 if birth_date is not None else None)
        by = "name_and_birth_date"
    if query is None:
        raise LookupRefused("name_and_birth_date")
    found = await matches(session, query)
    visible = await in_scope(session, actor.clinic_ids, [p.id for p in found])
    hits = [hit(p) for p in found if p.id in visible]
    await audit.record(
        session, actor, RECEPTION_LOOKUP_ACTION, purpose=RECEPTION_AUDIT_PURPOSE,
        subject_patient_id=hits[0].patient_id if len(hits) == 1 else None,
        detail={"lookup_purpose": purpose, "by": by, "found": [h.patient_id for h in hits],
                "outside": [p.id for p in found if p.id not in visible]}, now=now)
    return hits


async def guardians_for_the_desk(session: AsyncSession, patient: Patient, day: date
                                 ) -> list[Patient]:
    """The guardians the service knows for a child (the ``guardianships``
    table) who may act for them on ``day`` under the representation rules:
    whom the desk may call about the child's appointment. None from 16,
    none for a child or a guardian with a confidential address."""
    guardians = list((await session.execute(
        select(Patient).join(Guardianship, Guardianship.guardian_id == Patient.id)
        .where(Guardianship.child_id == patient.id).order_by(Patient.id))).scalars())
    child = PersonFacts.from_patient(patient)
    facts = [PersonFacts.from_patient(g) for g in guardians]
    return [g for g, fact in zip(guardians, facts, strict=True)
            if guardian_access(guardian=fact, child=child, today=day,
                               other_guardians=[f for f in facts if f is not fact])]
