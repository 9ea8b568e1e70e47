"""Reminders that escalate: after the confirmation at booking and the
reminders (``ReminderPolicy``, which the outbox writes), an appointment
that is still not confirmed

* ``second_reminder_hours`` (default ``SECOND_REMINDER_HOURS``, 48) before it
  starts gets a **second reminder**, in the county's sending hours. The row
  is written only while the appointment is unconfirmed and carries
  ``unless_confirmed``: delivery's judge step (``delivery.judge``) ends it if
  the appointment was confirmed in the meantime, so a confirmed appointment
  never gets it;
* ``call_task_hours`` (default ``CALL_TASK_HOURS``, 24) before it starts, if
  the patient missed an appointment (``no_show``) in the last
  ``CALL_TASK_NO_SHOW_DAYS`` (365), becomes a **call task** for its clinic
  (``booking.call_tasks``, one per appointment), listed for the clinic's staff
  on the call-back list.

Both steps only apply to appointments booked before their mark (someone who
books 30 hours ahead has just had the confirmation). A county may set
``second_reminder_hours`` and ``call_task_hours`` in its ``quiet_hours``
settings (0 turns a step off). The marks are elapsed hours, so a DST change
in between moves nothing. The system only asks and informs: nothing here
changes or cancels an appointment, and the staff who call decide.

A cron job of the worker (every minute), and a periodic pass of the
in-process runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import structlog
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import call_tasks
from booking.audit import Actor
from booking.call_tasks import CallTask
from booking.models import Appointment, Clinic, County, Patient
from booking.rules import local_date
from booking.statuses import AppointmentStatus
from core.db import Database
from notifications.models import Notification
from notifications.outbox import dispatch_after_commit
from notifications.recipients import recipients_for
from notifications.runtime import EscalationDefaults, runtime_of
from notifications.schedule import LAST_REMINDER_MARGIN, MIN_VALIDITY, SendingWindow
from notifications.statuses import Channel, NotificationStatus, Purpose

log = structlog.get_logger(__name__)

#: No county's marks reach further ahead than this (hours).
MAX_HOURS: Final = 7 * 24
ACTOR: Final = Actor.system("escalation")


@dataclass(frozen=True)
class EscalationPolicy:
    second_reminder_hours: int
    call_task_hours: int
    no_show_days: int


def _hours(value: Any, default: int) -> int:
    try:
        hours = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(hours, 0), MAX_HOURS)


def policy_for(quiet_hours: Mapping[str, Any] | None,
               defaults: EscalationDefaults) -> EscalationPolicy:
    """The county's own marks (keys of ``County.quiet_hours``), else the defaults."""
    settings = quiet_hours or {}
    return EscalationPolicy(
        _hours(settings.get("second_reminder_hours"), defaults.second_reminder_hours),
        _hours(settings.get("call_task_hours"), defaults.call_task_hours),
        defaults.no_show_days)


async def escalate(ctx: dict[str, Any]) -> int:
    """Cron: write the second reminders and call tasks now due; returns how many."""
    runtime = runtime_of(ctx)
    return await run(runtime.db, runtime.clock(), runtime.config.escalation)


async def run(db: Database, now: datetime, defaults: EscalationDefaults) -> int:
    done = 0
    async with db.write() as session:
        # Only as far ahead as the furthest mark of any county.
        furthest = max((max(p.second_reminder_hours, p.call_task_hours) for p in (
            policy_for(q, defaults) for q in (await session.execute(
                select(County.quiet_hours))).scalars())), default=0)
        if furthest <= 0:
            return 0
        candidates = (await session.execute(
            select(Appointment, County.quiet_hours)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .join(County, County.id == Clinic.county_id)
            .where(Appointment.status == AppointmentStatus.BOOKED,
                   Appointment.starts_at > now,
                   Appointment.starts_at <= now + timedelta(hours=furthest),
                   ~exists().where(CallTask.appointment_id == Appointment.id)
                   | ~exists().where(Notification.appointment_id == Appointment.id,
                                     Notification.unless_confirmed.is_(True)))
            .order_by(Appointment.starts_at, Appointment.id))).all()
        for appointment, quiet_hours in candidates:
            policy = policy_for(quiet_hours, defaults)
            window = SendingWindow.from_county(quiet_hours)
            done += await _second_reminder(session, appointment, policy, window, now)
            done += await _call_task(session, appointment, policy, now)
    if done:
        log.info("escalation_written", count=done)
    return done


def _passed(appointment: Appointment, hours: int, now: datetime) -> bool:
    """Is ``now`` past the mark ``hours`` before the start, for an
    appointment that was booked before that mark?"""
    if hours <= 0:
        return False
    mark = appointment.starts_at - timedelta(hours=hours)
    return appointment.created_at <= mark <= now


async def _second_reminder(session: AsyncSession, appointment: Appointment,
                           policy: EscalationPolicy, window: SendingWindow,
                           now: datetime) -> int:
    hours = policy.second_reminder_hours
    if not _passed(appointment, hours, now):
        return 0
    offset = hours * 60
    written = (await session.execute(select(exists().where(
        Notification.appointment_id == appointment.id,
        Notification.appointment_version == appointment.version,
        Notification.purpose == Purpose.REMINDER,
        Notification.channel == Channel.SMS,
        Notification.unless_confirmed.is_(True) | (Notification.offset_minutes == offset),
    )))).scalar()
    if written:
        return 0
    send_after = window.next_open(now)
    expires = appointment.starts_at - LAST_REMINDER_MARGIN
    if send_after + MIN_VALIDITY > expires:
        return 0  # too late to be worth a text
    patient = await session.get(Patient, appointment.patient_id)
    assert patient is not None
    rows = [Notification(
        appointment_id=appointment.id, appointment_version=appointment.version,
        patient_id=patient.id, purpose=Purpose.REMINDER, offset_minutes=offset,
        channel=Channel.SMS, recipient_id=recipient.patient_id,
        recipient_role=recipient.role, status=NotificationStatus.CREATED,
        created_at=now, status_at=now,
        due_at=appointment.starts_at - timedelta(hours=hours),
        send_after=send_after, expires_at=expires, unless_confirmed=True)
        for recipient in await recipients_for(session, patient, local_date(send_after))]
    session.add_all(rows)
    await session.flush()
    dispatch_after_commit(session, [row.id for row in rows if row.send_after <= now])
    return len(rows)


async def _call_task(session: AsyncSession, appointment: Appointment, policy: EscalationPolicy,
                     now: datetime) -> int:
    if not _passed(appointment, policy.call_task_hours, now):
        return 0
    missed = (await session.execute(select(exists().where(
        Appointment.patient_id == appointment.patient_id,
        Appointment.status == AppointmentStatus.NO_SHOW,
        Appointment.starts_at >= now - timedelta(days=policy.no_show_days),
        Appointment.starts_at < now)))).scalar()
    if not missed:
        return 0
    return 1 if await call_tasks.create(session, ACTOR, appointment, now) else 0
