"""Bulk resend after an outage: every failed message of a time window that
matches what support chose (status or provider error code, channel, clinic),
sent again once.

Each message goes through :func:`notifications.service.resend_in`, exactly as
a single resend (linked to its original, with the reason, audited per
message), in a transaction of its own that also records a
:class:`BulkResendItem`. The selection's fingerprint (the criteria and the
county) makes the run idempotent: an original this selection already sent
again is skipped, and so is one that was sent again in any other way since
(``expected_resends=0``, under the original's row lock), and the resends a
run made never count as failures of the same selection. Appointments that
have started or were cancelled are skipped and counted.

A selection that matches nothing, or more than the cap
(``BULK_RESEND_MAX``), is refused with a reason and nothing changes.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import structlog
from sqlalchemy import func, select

from booking import audit
from booking.audit import Actor
from booking.models import Appointment, Clinic
from booking.statuses import ACTIVE
from core.db import Database, utcnow
from notifications import service
from notifications.bulk_models import BulkResendItem, BulkResendRun
from notifications.models import Notification
from notifications.statuses import FAILED, Channel

log = structlog.get_logger(__name__)

RUN_ACTION: Final = "support.bulk_resend"
PREVIEW_ACTION: Final = "support.bulk_resend.preview"
AUDIT_PURPOSE: Final = "support"
#: How many matching messages the preview shows.
SAMPLE_SIZE: Final = 10
#: The default cap on one bulk resend (``BULK_RESEND_MAX``).
DEFAULT_MAX: Final = 1000


class BulkRefused(Exception):
    """Why a selection cannot be sent again (a ``notifications.support``
    refusal-text key); nothing was written."""

    def __init__(self, code: str, **values: Any) -> None:
        super().__init__(code)
        self.code = code
        self.values = values


@dataclass(frozen=True)
class Selection:
    """What failed: in ``[since, until)`` (when it got its failed status,
    UTC), in one of ``statuses`` (every failure when empty), with
    ``error_code`` if given, on ``channel``, at ``clinic_id`` (every clinic of
    the county when None)."""

    since: datetime
    until: datetime
    statuses: tuple[str, ...] = ()
    error_code: int | None = None
    channel: str = Channel.SMS
    clinic_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(),
                "statuses": sorted(self.statuses), "error_code": self.error_code,
                "channel": self.channel, "clinic_id": self.clinic_id}

    def fingerprint(self, county_id: int) -> str:
        text = json.dumps([county_id, self.as_dict()], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Candidate:
    notification_id: int
    status: str
    error_code: int | None
    status_at: datetime
    purpose: str
    appointment_starts_at: datetime
    appointment_status: str
    clinic_name: str


@dataclass(frozen=True)
class Preview:
    count: int
    sample: tuple[Candidate, ...]
    #: Of the matches, how many would be skipped now and why.
    would_skip: dict[str, int]


@dataclass
class RunResult:
    run_id: int
    matched: int
    resent: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


def _check(actor: Actor, selection: Selection) -> None:
    if selection.until <= selection.since:
        raise BulkRefused("window_order")
    if selection.clinic_id is not None and selection.clinic_id not in actor.clinic_ids:
        raise BulkRefused("unknown_clinic")
    if selection.channel not in set(Channel):
        raise BulkRefused("choose_channel")
    if any(s not in FAILED for s in selection.statuses):
        raise BulkRefused("choose_status")


async def _candidates(db: Database, actor: Actor, selection: Selection, county_id: int,
                      limit: int) -> tuple[int, list[Candidate]]:
    """How many match, and the first ``limit`` of them (oldest failure first)."""
    clinics = ([selection.clinic_id] if selection.clinic_id is not None
               else sorted(actor.clinic_ids))
    own = select(BulkResendItem.resend_id).where(
        BulkResendItem.fingerprint == selection.fingerprint(county_id))
    where = [
        Appointment.clinic_id.in_(clinics),
        Notification.channel == selection.channel,
        Notification.status.in_(sorted(selection.statuses or FAILED)),
        Notification.status_at >= selection.since,
        Notification.status_at < selection.until,
        Notification.id.not_in(own),
    ]
    if selection.error_code is not None:
        where.append(Notification.error_code == selection.error_code)
    base = (select(Notification.id).join(Appointment,
                                         Appointment.id == Notification.appointment_id)
            .where(*where))
    async with db.read() as session:
        count = int((await session.execute(
            select(func.count()).select_from(base.subquery()))).scalar_one())
        rows = (await session.execute(
            select(Notification.id, Notification.status, Notification.error_code,
                   Notification.status_at, Notification.purpose, Appointment.starts_at,
                   Appointment.status, Clinic.name)
            .join(Appointment, Appointment.id == Notification.appointment_id)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .where(*where).order_by(Notification.status_at, Notification.id)
            .limit(limit))).all()
    return count, [Candidate(*row) for row in rows]


def _skip_reason(candidate: Candidate, now: datetime) -> str | None:
    if candidate.appointment_status not in ACTIVE:
        return "appointment_cancelled"
    if candidate.appointment_starts_at <= now:
        return "appointment_passed"
    return None


async def preview(db: Database, actor: Actor, county_id: int, selection: Selection, *,
                  cap: int = DEFAULT_MAX, now: datetime | None = None) -> Preview:
    """The count and a sample; refused when empty or over ``cap``. Audited
    (no patient: the staff member's own chain, with the county)."""
    now = now or utcnow()
    _check(actor, selection)
    count, rows = await _candidates(db, actor, selection, county_id, cap + 1)
    async with db.write() as session:
        await audit.record(session, actor, PREVIEW_ACTION, purpose=AUDIT_PURPOSE,
                           detail={"county_id": county_id, "matched": count,
                                   "selection": selection.as_dict()}, now=now)
    if count == 0:
        raise BulkRefused("nothing_matches")
    if count > cap:
        raise BulkRefused("too_many", count=count, cap=cap)
    would_skip = Counter(r for r in (_skip_reason(c, now) for c in rows) if r)
    return Preview(count, tuple(rows[:SAMPLE_SIZE]), dict(would_skip))


async def run(db: Database, actor: Actor, county_id: int, selection: Selection, *,
              reason: str, cap: int = DEFAULT_MAX, now: datetime | None = None) -> RunResult:
    """Send every match again once (see the module's description)."""
    now = now or utcnow()
    reason = reason.strip()[:200]
    if not reason:
        raise BulkRefused("reason_required")
    _check(actor, selection)
    count, rows = await _candidates(db, actor, selection, county_id, cap + 1)
    if count == 0:
        raise BulkRefused("nothing_matches")
    if count > cap:
        raise BulkRefused("too_many", count=count, cap=cap)
    fingerprint = selection.fingerprint(county_id)
    async with db.write() as session:
        record = BulkResendRun(fingerprint=fingerprint, county_id=county_id,
                               selection=selection.as_dict(), actor_id=actor.id,
                               started_at=now, matched=count, resent=0, skipped={})
        session.add(record)
        await session.flush()
        run_id = record.id
        await audit.record(session, actor, RUN_ACTION, purpose=AUDIT_PURPOSE,
                           detail={"county_id": county_id, "bulk_run_id": run_id,
                                   "matched": count}, now=now)
    result = RunResult(run_id, count)
    for candidate in rows:
        skip = _skip_reason(candidate, now)
        if skip is not None:
            result.skipped[skip] += 1
            continue
        try:
            async with db.write() as session:
                done = (await session.execute(select(BulkResendItem.id).where(
                    BulkResendItem.fingerprint == fingerprint,
                    BulkResendItem.original_id == candidate.notification_id))).first()
                if done is not None:
                    raise service.ResendRefused("already_resent")
                copy = await service.resend_in(
                    session, candidate.notification_id, reason=reason, actor=actor, now=now,
                    expected_resends=0, audit_detail={"bulk_run_id": run_id})
                session.add(BulkResendItem(run_id=run_id, fingerprint=fingerprint,
                                           original_id=candidate.notification_id,
                                           resend_id=copy.id))
        except service.ResendRefused as refused:
            code = {"appointment_started": "appointment_passed"}.get(refused.code,
                                                                      refused.code)
            result.skipped[code] += 1
            continue
        result.resent += 1
    async with db.write() as session:
        stored = await session.get(BulkResendRun, run_id)
        assert stored is not None
        stored.resent = result.resent
        stored.skipped = dict(result.skipped)
        stored.finished_at = now
    log.info("bulk_resend", bulk_run_id=run_id, matched=count, resent=result.resent,
             skipped=sum(result.skipped.values()), actor_kind=actor.kind.value)
    return result
