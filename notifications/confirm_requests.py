"""One numbered text to a guardian whose several children have appointments
awaiting an answer: "Svar JA 1 for Emma, JA 2 for Jonas, JA for begge"
(:func:`ask_guardian`, the ``ask_to_confirm`` job).

The appointments awaiting an answer are those the clinic booked and asked to
have confirmed (``booking.rules.confirmation_requested``), still ahead, of
the children the guardian may act for today. With two or more, one message
(``Purpose.CONFIRM_REQUEST``) numbers them, in the county's sending hours,
and its lines are kept (:class:`~notifications.models.SmsReplyChoice`) so a
reply maps to the right child (``notifications.reply_actions``): ``JA 2``
confirms the second, ``JA`` all of them. The reminders that ask for JA call
this for a guardian instead (``delivery.siblings_asked_together``): the
children's reminders still go, without asking.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select

from booking.models import Appointment, Clinic, County, Patient
from booking.relations import LocalRelations, guardian_children
from booking.representation import Access
from booking.rules import confirmation_requested, local_date
from notifications.models import Notification, SmsReplyChoice
from notifications.outbox import dispatch_after_commit
from notifications.recipients import Role, blocks_for, check_contact
from notifications.reply_texts import VERSION, Item, choices, describe, render
from notifications.runtime import Runtime
from notifications.schedule import SendingWindow
from notifications.statuses import Channel, NotificationStatus, Purpose

log = structlog.get_logger(__name__)
#: A guardian is asked at most once in this period.
ASK_AGAIN_AFTER = timedelta(hours=12)


async def awaiting_answer(runtime: Runtime, guardian_id: int, now: datetime
                          ) -> list[tuple[Appointment, str, str, Any]]:
    """The appointments, still ahead, that the clinic awaits an answer to, of
    the children ``guardian_id`` may act for today, each with the child's
    name, the clinic's name and its county's sending hours; by time."""
    relations = runtime.relations or LocalRelations(runtime.db)
    children = [c.patient_id for c in await guardian_children(relations, guardian_id,
                                                               local_date(now))
                if c.access is not Access.NONE]
    if not children:
        return []
    async with runtime.db.read() as session:
        found = (await session.execute(
            select(Appointment, Patient.given_name, Clinic.name, County.quiet_hours)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .join(County, County.id == Clinic.county_id)
            .where(Appointment.patient_id.in_(children), Appointment.starts_at > now)
            .order_by(Appointment.starts_at, Appointment.id))).all()
    return [(a, name, clinic, hours) for a, name, clinic, hours in found
            if confirmation_requested(a)]


async def ask_guardian(runtime: Runtime, guardian_id: int, now: datetime,
                       waiting: list[tuple[Appointment, str, str, Any]] | None = None
                       ) -> int | None:
    """Write the numbered request to ``guardian_id`` if two or more of their
    children's appointments await an answer (``waiting``, when the caller has
    just read :func:`awaiting_answer`); returns the outbox row's id."""
    if waiting is None:
        waiting = await awaiting_answer(runtime, guardian_id, now)
    if len(waiting) < 2:
        return None
    contact = (await runtime.contacts.contacts([guardian_id])).get(guardian_id)
    e164, why = check_contact(contact, local_date(now))
    if e164 is None:
        log.info("confirm_request_not_sent", guardian_id=guardian_id, reason=why)
        return None
    language = (contact.language if contact else None) or "nb"
    names = [name.split()[0] if name.split() else "" for _, name, _, _ in waiting]
    answer = render("confirm_request", language, clinic=waiting[0][2],
                    list=describe([Item(a.starts_at, n) for (a, *_), n in zip(
                        waiting, names, strict=True)], language, numbered=True),
                    choices=choices("word_confirm", names, language, everyone=True))
    window = SendingWindow.from_county(waiting[0][3])
    send_after = now if window.is_open(now) else window.next_open(now)
    async with runtime.db.write() as session:
        # Once in ASK_AGAIN_AFTER (the job may run twice), never to a blocked number.
        asked = (await session.execute(
            select(Notification.id).where(Notification.recipient_id == guardian_id,
                                          Notification.purpose == Purpose.CONFIRM_REQUEST,
                                          Notification.created_at > now - ASK_AGAIN_AFTER)
            .limit(1))).scalar_one_or_none()
        if asked is not None or await blocks_for(session, [e164]):
            return None
        row = Notification(
            appointment_id=None, appointment_version=None, patient_id=guardian_id,
            purpose=Purpose.CONFIRM_REQUEST, offset_minutes=0, channel=Channel.SMS,
            recipient_id=guardian_id, recipient_role=Role.GUARDIAN,
            status=NotificationStatus.CREATED, created_at=now, status_at=now, due_at=now,
            send_after=send_after, expires_at=min(a.starts_at for a, *_ in waiting),
            to_e164=e164, body=answer.body, language=answer.language,
            template_id=answer.template_id, template_version=VERSION)
        session.add(row)
        await session.flush()
        session.add_all(SmsReplyChoice(notification_id=row.id, e164=e164, position=position,
                                       appointment_id=a.id, created_at=now)
                        for position, (a, *_) in enumerate(waiting, 1))
        dispatch_after_commit(session, [row.id] if send_after <= now else [])
        row_id = row.id
    log.info("confirm_request_written", guardian_id=guardian_id, notification_id=row_id,
             count=len(waiting))
    return row_id
