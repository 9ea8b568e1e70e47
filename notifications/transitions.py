"""How a notification row changes, for every job that touches one.

Each change is guarded: :func:`move` follows only the allowed transitions
(``statuses.may_move``) and writes the event; :func:`end`, :func:`wait` and
:func:`take_lease` are compare-and-swap updates that act only if the row is
still waiting and nobody else holds its lease; :func:`claimable` is the
condition of a claim, which also checks that the appointment is still as the
row knew it (:func:`superseded`). A :class:`Snapshot` is a due row with what a
hand-over needs of it, read in one query.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final, Protocol

import structlog
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Appointment, Clinic, County, Patient
from booking.previsit import clinic_uses_form
from booking.statuses import ACTIVE, AppointmentStatus
from core.db import Database
from notifications.models import Notification, NotificationEvent
from notifications.recipients import block_number
from notifications.schedule import SendingWindow
from notifications.statuses import (
    BlockReason,
    NotificationStatus,
    Purpose,
    Reason,
    may_move,
)

log = structlog.get_logger(__name__)
S = NotificationStatus


class NumberVerdict(Protocol):
    """What a provider said about the number (``SmsResult``, a mapped receipt)."""

    @property
    def opted_out(self) -> bool: ...

    @property
    def number_unusable(self) -> bool: ...


# --- status changes ----------------------------------------------------------

def move(session: AsyncSession, row: Notification, new: NotificationStatus, now: datetime,
         source: str, reason: str | None = None, error_code: int | None = None) -> bool:
    """Change ``row.status`` if the transition is allowed; log and ignore otherwise."""
    if row.status == new or not may_move(row.status, new):
        if row.status != new:
            log.info("notification_transition_ignored", notification_id=row.id,
                     current=row.status, proposed=new.value, source=source)
        return False
    session.add(NotificationEvent(notification_id=row.id, occurred_at=now,
                                  from_status=row.status, to_status=new, source=source,
                                  reason=reason, error_code=error_code))
    row.status = new
    row.status_at = now
    if reason is not None:
        row.reason = reason[:64]
    if error_code is not None:
        row.error_code = error_code
    if new is not S.CREATED:
        row.in_doubt = False
    return True


async def locked(session: AsyncSession, notification_id: int) -> Notification | None:
    return (await session.execute(
        select(Notification).where(Notification.id == notification_id).with_for_update()
    )).scalar_one_or_none()


# --- what a job reads --------------------------------------------------------

@dataclass
class Snapshot:
    row: Notification
    #: None for a ``number_check`` (a code to a number, about no appointment).
    appointment: Appointment | None
    clinic_name: str
    window: SendingWindow
    patient_given_name: str
    #: The patient's birth date (who may fill in the pre-visit form goes by age).
    patient_birth_date: date | None = None
    #: Does the appointment's clinic use the pre-visit form
    #: (``booking.previsit.clinic_uses_form``)?
    clinic_uses_form: bool = False
    #: The patient's choice for their own first reminder (``ReminderChannel``).
    patient_reminder_channel: str = "sms"


#: A code the patient just asked for goes at any hour (their own request).
ANY_HOUR: Final = SendingWindow(time(0, 0), time(23, 59, 59, 999999))


async def read_snapshots(db: Database, notification_ids: Sequence[int]) -> dict[int, Snapshot]:
    """The rows with what a hand-over needs of them, in one query."""
    async with db.read() as session:
        found = (await session.execute(
            select(Notification, Appointment, Clinic.name, Clinic.slug, County.quiet_hours,
                   Patient.given_name, Patient.birth_date, Patient.reminder_channel)
            .outerjoin(Appointment, Appointment.id == Notification.appointment_id)
            .outerjoin(Clinic, Clinic.id == Appointment.clinic_id)
            .outerjoin(County, County.id == Clinic.county_id)
            .join(Patient, Patient.id == Notification.patient_id)
            .where(Notification.id.in_(list(notification_ids))))).all()
    return {row.id: Snapshot(row, appointment, clinic_name or "",
                             SendingWindow.from_county(quiet_hours) if appointment is not None
                             else ANY_HOUR, given_name, birth_date,
                             appointment is not None
                             and clinic_uses_form(quiet_hours, clinic_slug or ""),
                             reminder_channel)
            for (row, appointment, clinic_name, clinic_slug, quiet_hours, given_name, birth_date,
                 reminder_channel) in found}


async def read_snapshot(db: Database, notification_id: int) -> Snapshot | None:
    return (await read_snapshots(db, [notification_id])).get(notification_id)


def superseded(row: Notification, appointment: Appointment | None) -> bool:
    """Was the appointment changed or cancelled after this notice was written?
    (A number check is about no appointment: never.)"""
    if appointment is None:
        return row.appointment_id is not None
    if appointment.version != row.appointment_version:
        return True
    if row.purpose == Purpose.CANCELLATION:
        return appointment.status != AppointmentStatus.CANCELLED
    return appointment.status not in ACTIVE


def not_superseded() -> ColumnElement[bool]:
    """:func:`superseded`, negated, as SQL on a ``notifications`` row: its
    appointment is still at the row's version, in a status the row is about."""
    return select(Appointment.id).where(
        Appointment.id == Notification.appointment_id,
        Appointment.version == Notification.appointment_version,
        or_(and_(Notification.purpose == Purpose.CANCELLATION,
                 Appointment.status == AppointmentStatus.CANCELLED),
            and_(Notification.purpose != Purpose.CANCELLATION,
                 Appointment.status.in_(list(ACTIVE))))).exists()


# --- ending, waiting, leasing ------------------------------------------------

async def end(db: Database, row: Notification, status: NotificationStatus, reason: str,
              now: datetime, token: str | None) -> str:
    """End a waiting row without a hand-over (unless someone else holds it):
    ``reason`` is a :class:`Reason` or, for a row that cannot be built, a
    short text saying why."""
    async with db.write() as session:
        current = await locked(session, row.id)
        if current is None or current.status != S.CREATED:
            return "not_waiting"
        if current.claim_token not in (None, token) and current.claimed_until is not None \
                and current.claimed_until > now:
            return "claimed"
        move(session, current, status, now, "job", reason)
        current.claim_token = None
        current.claimed_until = None
    log.info("notification_ended", notification_id=row.id, status=status.value,
             reason=str(reason)[:64])
    return status.value


async def wait(db: Database, row: Notification, until: datetime, reason: Reason,
               now: datetime, token: str | None) -> str:
    async with db.write() as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == row.id, Notification.status == S.CREATED,
                   or_(Notification.claim_token.is_(None), Notification.claim_token == token,
                       Notification.claimed_until <= now))
            .values(send_after=until, reason=reason, claim_token=None, claimed_until=None)
            .execution_options(synchronize_session=False))
    return "waiting"


async def take_lease(db: Database, row: Notification, now: datetime, lease: timedelta
                      ) -> str | None:
    token = secrets.token_hex(16)
    async with db.write() as session:
        result = await session.execute(
            update(Notification)
            .where(Notification.id == row.id, Notification.status == S.CREATED,
                   Notification.attempts == row.attempts,
                   or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now))
            .values(claim_token=token, claimed_until=now + lease, send_after=now + lease)
            .execution_options(synchronize_session=False))
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


def claimable(row: Notification, appointment: Appointment | None, now: datetime,
              token: str | None = None) -> ColumnElement[bool]:
    """The compare-and-swap condition of a claim on ``row``: still waiting,
    with the attempt count it had when read, its lease free (or held under
    ``token``), and the appointment still the one it was read with."""
    lease_free = or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now)
    if token is not None:
        lease_free = or_(lease_free, Notification.claim_token == token)
    same_appointment: ColumnElement[bool]
    if appointment is None:  # a number check: about no appointment
        same_appointment = Notification.appointment_id.is_(None)
    else:
        same_appointment = select(Appointment.id).where(
            Appointment.id == appointment.id, Appointment.version == appointment.version,
            Appointment.status == appointment.status).exists()
    return and_(Notification.id == row.id, Notification.status == S.CREATED,
                Notification.attempts == row.attempts, lease_free, same_appointment)


def not_ready(row: Notification, now: datetime) -> str | None:
    """Why a row is not to be handed over by this job now, if it is not."""
    if row.status != S.CREATED:
        log.info("notification_not_waiting", notification_id=row.id, status=row.status)
        return "not_waiting"
    if row.claimed_until is not None and row.claimed_until > now:
        return "claimed"
    if row.send_after > now:
        return "not_due"
    return None


async def block_if_needed(session: AsyncSession, row: Notification, result: NumberVerdict,
                          now: datetime) -> None:
    """Block the row's number after an opt-out or a number that cannot take SMS."""
    if not row.to_e164:
        return
    if result.opted_out:
        await block_number(session, row.to_e164, BlockReason.OPTED_OUT, now, row.id)
    elif result.number_unusable:
        await block_number(session, row.to_e164, BlockReason.PERMANENT_FAILURE, now, row.id)

