"""The county administrator's audit viewer: search the audit log, page
through it, export a search as CSV, and verify the chains.

Scope: an administrator sees the entries about the patients of their county
(a patient with an appointment at one of its clinics) and the entries
written by their county's staff (the staff directory). Every search, export
and verification is itself audited; a search by patient is an entry about
that patient (so it shows in "who has seen my data").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, func, or_, select

from booking import audit
from booking.audit import Actor
from booking.models import Appointment, AuditEntry
from core.db import Database, utcnow
from core.locale import OSLO
from web.oversight.models import AuditVerification, StaffDirectoryEntry

AUDIT_PURPOSE: Final = "oversight"
SEARCH_ACTION: Final = "oversight.audit.search"
EXPORT_ACTION: Final = "oversight.audit.export"
VERIFY_ACTION: Final = "oversight.audit.verify"
PAGE_SIZE: Final = 50
#: Most rows one CSV export holds.
EXPORT_LIMIT: Final = 10_000


@dataclass(frozen=True)
class Search:
    patient_id: int | None = None
    #: The staff member's actor id (``staff:<user id>``).
    staff: str | None = None
    #: An action, or the start of one (``support.`` finds every support action).
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_detail(self) -> dict[str, Any]:
        return {"patient_id": self.patient_id, "staff": self.staff, "action": self.action,
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None}


@dataclass(frozen=True)
class Page:
    entries: tuple[AuditEntry, ...]
    total: int
    page: int
    pages: int


def scope(county_id: int, clinic_ids: Sequence[int]) -> ColumnElement[bool]:
    """Entries about the county's patients or written by its staff."""
    patients = select(Appointment.patient_id).where(Appointment.clinic_id.in_(list(clinic_ids)))
    staff = select(StaffDirectoryEntry.actor_id).where(StaffDirectoryEntry.county_id == county_id)
    return or_(AuditEntry.subject_patient_id.in_(patients), AuditEntry.actor_id.in_(staff))


def _where(county_id: int, clinic_ids: Sequence[int], search: Search) -> list[Any]:
    where: list[Any] = [scope(county_id, clinic_ids)]
    if search.patient_id is not None:
        where.append(AuditEntry.subject_patient_id == search.patient_id)
    if search.staff:
        where.append(AuditEntry.actor_id == search.staff)
    if search.action:
        escaped = search.action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(AuditEntry.action.like(f"{escaped}%", escape="\\"))
    if search.since is not None:
        where.append(AuditEntry.occurred_at >= search.since)
    if search.until is not None:
        where.append(AuditEntry.occurred_at < search.until)
    return where


async def _record(db: Database, actor: Actor, action: str, county_id: int, search: Search,
                  now: datetime | None, **detail: Any) -> None:
    async with db.write() as session:
        await audit.record(session, actor, action, purpose=AUDIT_PURPOSE,
                           subject_patient_id=search.patient_id,
                           detail={"county_id": county_id, "search": search.as_detail(),
                                   **detail}, now=now)


async def search(db: Database, actor: Actor, county_id: int, query: Search, page: int = 1,
                 now: datetime | None = None) -> Page:
    """One page of the matching entries, newest first; audited."""
    where = _where(county_id, sorted(actor.clinic_ids), query)
    async with db.read() as session:
        total = int((await session.execute(
            select(func.count()).select_from(AuditEntry).where(*where))).scalar_one())
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(1, page), pages)
        entries = tuple((await session.execute(
            select(AuditEntry).where(*where).order_by(AuditEntry.id.desc())
            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))).scalars())
    await _record(db, actor, SEARCH_ACTION, county_id, query, now, page=page, total=total)
    return Page(entries, total, page, pages)


CSV_COLUMNS: Final = ("id", "occurred_at_oslo", "actor_kind", "actor_id", "staff_name",
                      "subject_patient_id", "on_behalf_of_id", "action", "purpose", "detail")


async def export_csv(db: Database, actor: Actor, county_id: int, query: Search,
                     staff_names: dict[str, str], now: datetime | None = None) -> str:
    """The matching entries (at most :data:`EXPORT_LIMIT`, newest first) as
    CSV; audited with the number of rows."""
    where = _where(county_id, sorted(actor.clinic_ids), query)
    async with db.read() as session:
        entries = list((await session.execute(
            select(AuditEntry).where(*where).order_by(AuditEntry.id.desc())
            .limit(EXPORT_LIMIT))).scalars())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow([
            e.id, e.occurred_at.astimezone(OSLO).isoformat(timespec="seconds"), e.actor_kind,
            e.actor_id, _safe(staff_names.get(e.actor_id, "")), e.subject_patient_id or "",
            e.on_behalf_of_id or "", e.action, e.purpose,
            json.dumps(e.detail, sort_keys=True, ensure_ascii=False)])
    await _record(db, actor, EXPORT_ACTION, county_id, query, now, rows=len(entries))
    return out.getvalue()


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


# --- verification ----------------------------------------------------------------

async def last_verification(db: Database) -> AuditVerification | None:
    async with db.read() as session:
        return (await session.execute(
            select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1)
        )).scalar_one_or_none()


async def keep_result(db: Database, report: audit.ChainReport, actor_id: str,
                      now: datetime | None = None) -> AuditVerification:
    """Store a verification's result (the viewer shows the latest); the
    command line's ``tanntid audit verify`` keeps its result too."""
    async with db.write() as session:
        row = AuditVerification(
            verified_at=now or utcnow(), actor_id=actor_id, intact=report.intact,
            entries=report.entries, chains=report.chains, seals=report.seals,
            first_broken_id=report.first_broken_id,
            first_broken_seal_id=report.first_broken_seal_id,
            cut_chains=list(report.cut_chains))
        session.add(row)
    return row


async def verify(db: Database, actor: Actor, county_id: int,
                 now: datetime | None = None) -> AuditVerification:
    """Verify every chain and the seals now (:func:`booking.audit.verify`),
    keep the result and audit it."""
    now = now or utcnow()
    async with db.read() as session:
        report = await audit.verify(session)
    row = await keep_result(db, report, actor.id, now)
    async with db.write() as session:
        await audit.record(session, actor, VERIFY_ACTION, purpose=AUDIT_PURPOSE,
                           detail={"county_id": county_id, "verification_id": row.id,
                                   "intact": report.intact}, now=now)
    return row
