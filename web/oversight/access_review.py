"""The access review (helsepersonelloven § 21, pasientjournalloven § 22):
the staff look-ups of patients where the patient had no appointment at the
staff member's clinics within ``ACCESS_REVIEW_WINDOW_DAYS`` before or after
the look-up, for a county administrator to review and mark with a note.

The staff member's clinics are those of their latest login (the staff
directory): every clinic of the county for the county-wide roles (support,
county administrators), the named clinics for the others. A look-up that
found several patients, or tried another county's patient, counts for each
of them. Only look-ups by the administrator's own county's staff are listed,
from the last :data:`LOOKBACK_DAYS` days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select

from booking import audit
from booking.audit import Actor
from booking.models import Appointment, AuditEntry, Clinic, Patient
from booking.statuses import ActorKind
from core.db import Database, utcnow
from notifications import support
from web.oversight.directory import is_county_wide
from web.oversight.models import AccessReview, StaffDirectoryEntry

AUDIT_PURPOSE: Final = "oversight"
REVIEW_ACTION: Final = "oversight.access.reviewed"
#: The audit actions that are a staff member looking a patient up or at them.
LOOKUP_ACTIONS: Final = (support.LOOKUP_ACTION, support.VIEW_ACTION, support.REVEAL_ACTION)
#: How far back the review looks.
LOOKBACK_DAYS: Final = 366
PAGE_SIZE: Final = 50
NOTE_LIMIT: Final = 500


class ReviewRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Line:
    entry_id: int
    occurred_at: datetime
    actor_id: str
    staff_name: str
    action: str
    #: The purpose the staff member stated (a ``LookupPurpose`` value), if any.
    lookup_purpose: str | None
    patient_ids: tuple[int, ...]
    #: Names of those of the patients who are the county's.
    patient_names: tuple[str, ...]
    reviewed_by_name: str | None = None
    reviewed_at: datetime | None = None
    note: str | None = None


def _patients(entry: AuditEntry) -> tuple[int, ...]:
    ids: list[int] = []
    if entry.subject_patient_id is not None:
        ids.append(entry.subject_patient_id)
    detail = entry.detail or {}
    for key in ("found", "outside_county"):
        value = detail.get(key)
        if isinstance(value, list):
            ids += [i for i in value if isinstance(i, int) and i not in ids]
    return tuple(ids)


async def unexplained(db: Database, county_id: int, *, window_days: int,
                      now: datetime | None = None) -> list[Line]:
    """Every flagged look-up, newest first, with its review if it has one."""
    now = now or utcnow()
    async with db.read() as session:
        county_clinics = set((await session.execute(
            select(Clinic.id).where(Clinic.county_id == county_id))).scalars())
        staff = {row.actor_id: row for row in (await session.execute(
            select(StaffDirectoryEntry).where(
                StaffDirectoryEntry.county_id == county_id))).scalars()}
        if not staff:
            return []
        entries = list((await session.execute(
            select(AuditEntry).where(
                AuditEntry.actor_kind == ActorKind.STAFF,
                AuditEntry.actor_id.in_(sorted(staff)),
                AuditEntry.action.in_(LOOKUP_ACTIONS),
                AuditEntry.occurred_at >= now - timedelta(days=LOOKBACK_DAYS))
            .order_by(AuditEntry.id.desc()))).scalars())
        patient_ids = sorted({p for e in entries for p in _patients(e)})
        visits: dict[int, list[tuple[int, datetime]]] = {}
        for patient_id, clinic_id, starts_at in (await session.execute(
                select(Appointment.patient_id, Appointment.clinic_id, Appointment.starts_at)
                .where(Appointment.patient_id.in_(patient_ids)))).all() if patient_ids else []:
            visits.setdefault(patient_id, []).append((clinic_id, starts_at))
        names = {p.id: f"{p.given_name} {p.family_name}" for p in (await session.execute(
            select(Patient).where(Patient.id.in_(patient_ids)))).scalars()} \
            if patient_ids else {}
        reviews = {r.audit_entry_id: r for r in (await session.execute(
            select(AccessReview).where(AccessReview.county_id == county_id))).scalars()}
    window = timedelta(days=window_days)
    lines = []
    for entry in entries:
        member = staff[entry.actor_id]
        clinics = (county_clinics if is_county_wide(list(member.roles))
                   else county_clinics & {int(c) for c in member.clinic_ids or ()})
        flagged = [p for p in _patients(entry) if not any(
            clinic in clinics and abs(starts_at - entry.occurred_at) <= window
            for clinic, starts_at in visits.get(p, ()))]
        if not flagged:
            continue
        in_county = [names[p] for p in flagged if p in names and any(
            clinic in county_clinics for clinic, _ in visits.get(p, ()))]
        review = reviews.get(entry.id)
        purpose = (entry.detail or {}).get("lookup_purpose")
        lines.append(Line(
            entry.id, entry.occurred_at, entry.actor_id, member.name, entry.action,
            purpose if isinstance(purpose, str) else None, tuple(flagged), tuple(in_county),
            review.reviewed_by_name if review else None,
            review.reviewed_at if review else None, review.note if review else None))
    return lines


async def mark_reviewed(db: Database, actor: Actor, county_id: int, reviewer_name: str,
                        entry_id: int, note: str, *, window_days: int,
                        now: datetime | None = None) -> None:
    """Store the review with its note; audited (the note stays in the
    review, where it can be read, not in the log)."""
    now = now or utcnow()
    note = " ".join(note.split())[:NOTE_LIMIT]
    lines = {line.entry_id: line for line in await unexplained(
        db, county_id, window_days=window_days, now=now)}
    line = lines.get(entry_id)
    if line is None:
        raise ReviewRefused("unknown_entry")
    if not note:
        raise ReviewRefused("note_required")
    if line.reviewed_at is not None:
        raise ReviewRefused("already_reviewed")
    async with db.write() as session:
        session.add(AccessReview(audit_entry_id=entry_id, county_id=county_id,
                                 reviewed_by=actor.id, reviewed_by_name=reviewer_name[:200],
                                 reviewed_at=now, note=note))
        await session.flush()
        await audit.record(session, actor, REVIEW_ACTION, purpose=AUDIT_PURPOSE,
                           detail={"county_id": county_id, "audit_entry_id": entry_id},
                           now=now)
