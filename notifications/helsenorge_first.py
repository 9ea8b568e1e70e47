"""Reminders: Helsenorge first where the patient chose it, SMS as today.

A patient of 16 or more may choose on the profile page
(``Patient.reminder_channel``) to be reminded on Helsenorge. When the
**first** reminder of an appointment (the reminder row with the largest
offset of its version: nothing else has reminded them yet) is due for them
themself (``Role.SELF``), :func:`route` does not text them; instead:

1. it writes a ``helsenorge`` row of purpose ``reminder`` (due at once, on
   the support timeline like every row): ``helsenorge_delivery`` PUTs the
   appointment with the ``paminnelse`` meta tag, asking Helsenorge to remind
   them by its own notice (SMS or e-mail by their Helsenorge settings);
2. the SMS reminder row waits (``Reason.HELSENORGE_FIRST``) for that row's
   answer, at most :data:`HELSENORGE_PATIENCE`;
3. Helsenorge accepted it: the SMS row ends ``cancelled`` with
   ``Reason.BY_HELSENORGE`` (no double reminder). Helsenorge refused it, it
   expired, or there is no Helsenorge channel: the SMS row goes as today
   (the same row, so the SMS is sent once at most). :func:`wake` hurries the
   waiting SMS row on as soon as the Helsenorge row has its answer.

A county reminder at the second reminder's mark is the second reminder
(``notifications.escalation``), so it stays SMS. Everything else stays SMS:
the second reminder (``notifications.escalation``,
48 hours before if still unconfirmed), later reminders, children's reminders
to their guardians, and everything when Helsenorge is not available
(``Runtime.helsenorge`` is None). Helsenorge offers no read-back, so the
patient's own choice is the only way to know they use it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import structlog
from sqlalchemy import exists, select, update

from booking.models import Appointment, Clinic, County
from booking.representation import OF_AGE_IN_HEALTH_MATTERS
from booking.rules import age_on, local_date
from booking.statuses import ReminderChannel
from notifications.escalation import policy_for
from notifications.models import Notification
from notifications.outbox import dispatch_after_commit
from notifications.recipients import Role
from notifications.runtime import Runtime
from notifications.schedule import MIN_VALIDITY
from notifications.statuses import Channel, NotificationStatus, Purpose, Reason
from notifications.transitions import Snapshot, locked, move

log = structlog.get_logger(__name__)
S = NotificationStatus

#: How long the SMS reminder waits for Helsenorge's answer: the Helsenorge
#: row expires then (a technical failure), and the SMS goes after all.
HELSENORGE_PATIENCE: Final = timedelta(minutes=30)


def may_apply(snapshot: Snapshot, now: datetime) -> bool:
    """Could this SMS row be the patient's own reminder they chose to get on
    Helsenorge? (Without the database: whether it is the *first* reminder,
    and whether Helsenorge is available, :func:`route` decides.)"""
    row = snapshot.row
    return (row.channel == Channel.SMS and row.purpose == Purpose.REMINDER
            and not row.unless_confirmed and row.recipient_role == Role.SELF
            and row.recipient_id == row.patient_id and snapshot.appointment is not None
            and snapshot.patient_reminder_channel == ReminderChannel.HELSENORGE
            and snapshot.patient_birth_date is not None
            and age_on(snapshot.patient_birth_date, local_date(now)) >= OF_AGE_IN_HEALTH_MATTERS)


async def route(runtime: Runtime, snapshot: Snapshot, now: datetime) -> str | None:
    """For a due SMS reminder about to be sent: None to send it as today,
    else what happened instead (see the module docstring)."""
    row = snapshot.row
    if runtime.helsenorge is None or row.attempts or row.in_doubt \
            or not may_apply(snapshot, now):
        return None
    async with runtime.db.write() as session:
        current = await locked(session, row.id)
        if current is None or current.status != S.CREATED:
            return "not_waiting"
        if current.claimed_until is not None and current.claimed_until > now:
            return "claimed"
        earlier = (await session.execute(select(exists().where(
            Notification.appointment_id == row.appointment_id,
            Notification.appointment_version == row.appointment_version,
            Notification.channel == Channel.SMS, Notification.purpose == Purpose.REMINDER,
            Notification.offset_minutes > row.offset_minutes)))).scalar()
        if earlier:
            return None  # not the first reminder: SMS as today
        quiet_hours = (await session.execute(
            select(County.quiet_hours).join(Clinic, Clinic.county_id == County.id)
            .join(Appointment, Appointment.clinic_id == Clinic.id)
            .where(Appointment.id == row.appointment_id))).scalar_one_or_none()
        policy = policy_for(quiet_hours, runtime.config.escalation)
        if row.offset_minutes == policy.second_reminder_hours * 60:
            return None  # at the second reminder's mark it is the second one: SMS
        asked = (await session.execute(
            select(Notification).where(
                Notification.appointment_id == row.appointment_id,
                Notification.appointment_version == row.appointment_version,
                Notification.channel == Channel.HELSENORGE,
                Notification.purpose == Purpose.REMINDER)
            .order_by(Notification.id.desc()).limit(1))).scalar_one_or_none()
        if asked is None:
            expires = min(now + HELSENORGE_PATIENCE, row.expires_at - MIN_VALIDITY)
            if expires <= now:
                return None
            asked = Notification(
                appointment_id=row.appointment_id, appointment_version=row.appointment_version,
                patient_id=row.patient_id, purpose=Purpose.REMINDER,
                offset_minutes=row.offset_minutes, channel=Channel.HELSENORGE,
                recipient_id=row.patient_id, recipient_role=Role.SELF,
                status=S.CREATED, created_at=now, status_at=now, due_at=row.due_at,
                send_after=now, expires_at=expires)
            session.add(asked)
            await session.flush()
            current.send_after = expires
            current.reason = Reason.HELSENORGE_FIRST
            dispatch_after_commit(session, [asked.id])
            log.info("reminder_helsenorge_first", notification_id=row.id,
                     helsenorge_id=asked.id)
            return "helsenorge_first"
        if asked.status == S.CREATED:
            current.send_after = max(asked.expires_at, now + timedelta(seconds=1))
            current.reason = Reason.HELSENORGE_FIRST
            return "waiting"
        if asked.status == S.DELIVERED:
            move(session, current, S.CANCELLED, now, "job", Reason.BY_HELSENORGE)
            current.claim_token = None
            current.claimed_until = None
            return S.CANCELLED.value
    log.info("reminder_helsenorge_fallback", notification_id=row.id, helsenorge_id=asked.id,
             helsenorge_status=asked.status)
    return None  # refused, expired or no channel: the SMS goes


async def wake(runtime: Runtime, row: Notification, now: datetime) -> None:
    """A Helsenorge reminder row has its answer: the SMS reminder waiting for
    it is due now (to end, or to go as the fallback)."""
    if row.purpose != Purpose.REMINDER or row.channel != Channel.HELSENORGE:
        return
    async with runtime.db.write() as session:
        status = (await session.execute(select(Notification.status).where(
            Notification.id == row.id))).scalar_one_or_none()
        if status is None or status == S.CREATED:
            return
        woken = list((await session.execute(
            update(Notification)
            .where(Notification.appointment_id == row.appointment_id,
                   Notification.appointment_version == row.appointment_version,
                   Notification.channel == Channel.SMS,
                   Notification.purpose == Purpose.REMINDER,
                   Notification.status == S.CREATED,
                   Notification.reason == Reason.HELSENORGE_FIRST,
                   Notification.send_after > now)
            .values(send_after=now)
            .returning(Notification.id, Notification.attempts)
            .execution_options(synchronize_session=False))).all())
    if woken and runtime.queue is not None:
        await runtime.queue.enqueue_deliveries([(nid, attempts) for nid, attempts in woken])
