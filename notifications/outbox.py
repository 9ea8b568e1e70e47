"""Writing notifications in the booking's own transaction ("save first, then queue").

``booking.service`` emits one appointment event per unit of work
(``booking.events``; :data:`EVENTS` is the listener the composition roots
register) inside its ``async with db.write() as session:`` block, so the
notification rows commit or roll back with the booking change itself:

* :func:`on_booked`: a confirmation (or, for a clinic-issued appointment, the
  *innkalling* asking to confirm) and the reminders;
* :func:`on_changed`: the old appointment's waiting notifications are
  cancelled; a change notice and new reminders for the new one;
* :func:`on_cancelled`: waiting notifications are cancelled; a cancellation
  notice;
* :func:`on_move_requested`: the clinic asks the patient to pick a new time
  (a schedule change took the slot away); the SMS links to the offered times.

Each of them also writes one Helsenorge row (``Channel.HELSENORGE``): the
appointment as it now stands goes to the patient's Helsenorge
(``notifications.helsenorge_sync``), due at once and whatever the patient's
SMS reservation. A change keeps the chain's identifier there, so it is one
PUT, and the old version's waiting row is cancelled like its SMS.

Rows name their recipients (patients) only; the number, the language and the
words are settled when the message is prepared for sending (a contact
register lookup does not belong inside a booking transaction). Nobody who was
never told about an appointment is told it is moved or cancelled: the change
notice becomes a confirmation, and the cancellation notice is left out.

After the commit, a registered :data:`Dispatcher` hears the ids of the rows
due now, so they go at once (the in-process runner wakes up, or the web
process puts them on the arq queue). If that fails, nothing is lost: the
``enqueue_due`` cron finds every due row in the database.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, cast

import structlog
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from booking.events import AppointmentEvents, set_listener
from booking.models import Appointment, Clinic, County, Patient
from booking.rules import local_date
from notifications.models import Notification, NotificationEvent, ReminderPolicy
from notifications.recipients import Recipient, Role, recipients_for
from notifications.schedule import (
    DEFAULT_REMINDER_OFFSETS,
    SendingWindow,
    Timing,
    notice_timing,
    reminder_timings,
)
from notifications.statuses import Channel, NotificationStatus, Purpose, Reason

log = structlog.get_logger(__name__)

#: A notice (not a reminder) to someone who got another notice this recently
#: waits this long: a burst of bookings, changes and cancellations then
#: supersedes its own unsent notices (``Reason.SUPERSEDED``) and ends in one
#: text about how things stand, instead of one text per click.
BURST_WINDOW = timedelta(minutes=2)

#: Told, after the commit, the ids of notifications that may go now. Must not
#: block or raise: it only nudges the queue.
Dispatcher = Callable[[Sequence[int]], None]
# Per process by design: how this process hands freshly committed rows on
# (to arq, or to its in-process runner). Only a wake-up: the outbox rows in
# the database are the truth, and any process's runner or the sweeper picks
# up rows whose wake-up was lost.
_dispatcher: Dispatcher | None = None
_PENDING_KEY = "tanntid_outbox_due_ids"
#: Who is being answered by text right now (``notifications.reply_actions``):
#: that person's answer says what the reply did, so the booking's own notice
#: to them (booked, moved, cancelled) is not written as well. Reminders are.
_answering: ContextVar[int | None] = ContextVar("tanntid_outbox_answering", default=None)


@contextmanager
def answering(patient_id: int) -> Iterator[None]:
    """Within: no notice (but reminders) to ``patient_id``; see :data:`_answering`."""
    reset = _answering.set(patient_id)
    try:
        yield
    finally:
        _answering.reset(reset)


def set_dispatcher(dispatcher: Dispatcher | None) -> Dispatcher | None:
    """Install the process's dispatcher (None removes it); returns the previous one."""
    global _dispatcher
    previous, _dispatcher = _dispatcher, dispatcher
    return previous


def dispatch_after_commit(session: AsyncSession, ids: Sequence[int]) -> None:
    """Hand ``ids`` to the dispatcher once ``session``'s transaction commits."""
    if not ids:
        return
    pending: list[int] | None = session.info.get(_PENDING_KEY)
    if pending is None:
        pending = session.info[_PENDING_KEY] = []

        def after_commit(sync_session: Any) -> None:
            due = sync_session.info.pop(_PENDING_KEY, [])
            if _dispatcher is not None and due:
                try:
                    _dispatcher(list(due))
                except Exception:  # the cron picks them up anyway
                    log.warning("notification_dispatch_failed", count=len(due), exc_info=True)

        def after_rollback(sync_session: Any, _transaction: Any) -> None:
            sync_session.info.pop(_PENDING_KEY, None)

        sa_event.listen(session.sync_session, "after_commit", after_commit, once=True)
        sa_event.listen(session.sync_session, "after_soft_rollback", after_rollback, once=True)
    pending.extend(ids)


# --- unit-of-work hooks ------------------------------------------------------

async def on_booked(session: AsyncSession, appointment: Appointment, *, now: datetime
                    ) -> list[Notification]:
    purpose = Purpose.INNKALLING if appointment.clinic_issued else Purpose.CONFIRMATION
    rows = await _plan(session, appointment, purpose, now)
    rows.append(_helsenorge_row(appointment, purpose, now))
    await _insert(session, rows)
    return rows


async def on_changed(session: AsyncSession, old: Appointment, new: Appointment, *,
                     now: datetime) -> list[Notification]:
    await cancel_waiting(session, old.id, now=now)
    booked = Purpose.INNKALLING if new.clinic_issued else Purpose.CONFIRMATION
    told = await _anyone_told(session, old)
    written = await _write(session, new, Purpose.CHANGE if told else booked, now)
    told = await _anyone_told(session, old, Channel.HELSENORGE)
    return written + await _write_helsenorge(session, new, Purpose.CHANGE if told else booked,
                                             now)


async def on_cancelled(session: AsyncSession, appointment: Appointment, *, now: datetime
                       ) -> list[Notification]:
    await cancel_waiting(session, appointment.id, now=now)
    written: list[Notification] = []
    if await _anyone_told(session, appointment):
        written = await _write(session, appointment, Purpose.CANCELLATION, now,
                               reminders=False)
    if await _anyone_told(session, appointment, Channel.HELSENORGE):
        written += await _write_helsenorge(session, appointment, Purpose.CANCELLATION, now)
    return written


async def on_move_requested(session: AsyncSession, appointment: Appointment, *,
                            now: datetime) -> list[Notification]:
    """The clinic asks the patient (and the guardians the representation
    rules allow) to pick a new time: one SMS each with a link to the offered
    times, and the appointment as it stands to Helsenorge."""
    written = await _write(session, appointment, Purpose.MOVE_REQUEST, now, reminders=False)
    return written + await _write_helsenorge(session, appointment, Purpose.MOVE_REQUEST, now)


class OutboxEvents:
    """The outbox as the booking's :class:`~booking.events.AppointmentEvents`:
    each event writes its rows in the booking's transaction. The composition
    roots register :data:`EVENTS` with ``booking.events.set_listener``."""

    async def on_booked(self, session: AsyncSession, appointment: Appointment, *,
                        now: datetime) -> list[Notification]:
        return await on_booked(session, appointment, now=now)

    async def on_changed(self, session: AsyncSession, old: Appointment, new: Appointment, *,
                         now: datetime) -> list[Notification]:
        return await on_changed(session, old, new, now=now)

    async def on_cancelled(self, session: AsyncSession, appointment: Appointment, *,
                           now: datetime) -> list[Notification]:
        return await on_cancelled(session, appointment, now=now)

    async def on_move_requested(self, session: AsyncSession, appointment: Appointment, *,
                                now: datetime) -> list[Notification]:
        return await on_move_requested(session, appointment, now=now)


#: The listener every composition root registers (``booking.events.set_listener``).
EVENTS = OutboxEvents()


def subscribe() -> AppointmentEvents | None:
    """Register :data:`EVENTS` as the process's appointment events listener;
    returns the previous one."""
    return set_listener(EVENTS)


async def cancel_waiting(session: AsyncSession, appointment_id: int, *, now: datetime,
                         reason: Reason = Reason.SUPERSEDED) -> list[int]:
    """Cancel the appointment's notifications that are still waiting. A row
    that a worker is handing over right now (or whose hand-over is in doubt)
    is left alone: the worker re-checks the appointment before it sends."""
    result = await session.execute(
        update(Notification)
        .where(Notification.appointment_id == appointment_id,
               Notification.status == NotificationStatus.CREATED,
               Notification.in_doubt.is_(False),
               or_(Notification.claimed_until.is_(None), Notification.claimed_until < now))
        .values(status=NotificationStatus.CANCELLED, reason=reason, status_at=now,
                claim_token=None, claimed_until=None)
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    )
    ids = list(result.scalars())
    session.add_all(NotificationEvent(
        notification_id=nid, occurred_at=now, from_status=NotificationStatus.CREATED,
        to_status=NotificationStatus.CANCELLED, source="outbox", reason=reason)
        for nid in ids)
    return ids


# --- internals ---------------------------------------------------------------

async def _anyone_told(session: AsyncSession, appointment: Appointment,
                       channel: Channel = Channel.SMS) -> bool:
    """Did any notification of ``channel`` about this chain of appointments
    (maybe) reach someone? For Helsenorge: was a PUT ever attempted (one that
    failed may still have been stored there)."""
    chain = appointment.chain_id or appointment.id
    told: ColumnElement[bool] = (
        Notification.status.not_in([NotificationStatus.CREATED, NotificationStatus.CANCELLED])
        | Notification.in_doubt.is_(True))
    if channel is Channel.HELSENORGE:
        told = Notification.attempts > 0
    query = select(exists().where(
        Notification.appointment_id == Appointment.id,
        or_(Appointment.chain_id == chain, Appointment.id == appointment.id),
        Notification.channel == channel, told))
    return bool((await session.execute(query)).scalar())


@dataclass(frozen=True)
class _Settings:
    """What the outbox needs of a clinic's county for one kind of appointment."""

    county_id: int
    window: SendingWindow
    reminder_offsets: tuple[int, ...]


#: How long a process keeps a clinic's county settings (the sending window)
#: and a kind's reminder policy, which every booking reads and only an
#: administrator's edit changes: an edit shows in every process within this
#: many seconds, and at once in a process that calls :func:`forget_settings`.
#: A row written meanwhile keeps the times it was written with, as it would
#: had it been written a moment before the edit.
SETTINGS_SECONDS: Final = 10.0
#: The clock of that expiry (monotonic; a test may replace it).
settings_clock: Callable[[], float] = time.monotonic
_SettingsCache = dict[tuple[int, int], tuple[float, _Settings]]
#: Per database (engine), so that two databases in one process never mix.
_settings: weakref.WeakKeyDictionary[Any, _SettingsCache] = weakref.WeakKeyDictionary()


def forget_settings() -> None:
    """Read the counties' sending windows and reminder policies afresh."""
    _settings.clear()


async def _settings_for(session: AsyncSession, clinic_id: int, appointment_type_id: int
                        ) -> _Settings:
    """The county, its sending window and the kind's reminder offsets (the
    kind's own policy, else the county's, else 3 and 1 days): kept for
    :data:`SETTINGS_SECONDS`, read in one statement when not."""
    bind = session.get_bind()
    cache = _settings.setdefault(getattr(bind, "engine", bind), {})
    key = (clinic_id, appointment_type_id)
    kept = cache.get(key)
    now = settings_clock()
    if kept is not None and now < kept[0]:
        return kept[1]
    rows = (await session.execute(
        select(County.id, County.quiet_hours, ReminderPolicy.id,
               ReminderPolicy.appointment_type_id, ReminderPolicy.offsets_minutes)
        .join(Clinic, Clinic.county_id == County.id)
        .outerjoin(ReminderPolicy, and_(
            ReminderPolicy.county_id == County.id,
            or_(ReminderPolicy.appointment_type_id == appointment_type_id,
                ReminderPolicy.appointment_type_id.is_(None))))
        .where(Clinic.id == clinic_id))).all()
    by_type = {type_id: offsets for _, _, policy_id, type_id, offsets in rows
               if policy_id is not None}
    chosen = by_type.get(appointment_type_id, by_type.get(None))
    found = _Settings(rows[0][0], SendingWindow.from_county(rows[0][1]),
                      DEFAULT_REMINDER_OFFSETS if chosen is None
                      else tuple(int(o) for o in chosen))
    cache[key] = (now + SETTINGS_SECONDS, found)
    return found


async def _write(session: AsyncSession, appointment: Appointment, purpose: Purpose,
                 now: datetime, *, reminders: bool = True) -> list[Notification]:
    rows = await _plan(session, appointment, purpose, now, reminders=reminders)
    await _insert(session, rows)
    return rows


_notifications = cast(Table, Notification.__table__)
#: The columns the outbox sets on a new row (every row the same, so the rows
#: of one event go in one INSERT); the others take their defaults.
_WRITTEN = ("appointment_id", "appointment_version", "patient_id", "purpose", "offset_minutes",
            "channel", "recipient_id", "recipient_role", "status", "created_at", "status_at",
            "due_at", "send_after", "expires_at", "reason")
_INSERT = insert(_notifications).returning(_notifications.c.id, sort_by_parameter_order=True)


async def _insert(session: AsyncSession, rows: list[Notification]) -> None:
    """Write ``rows`` in one INSERT (no unit of work: the objects stay out of
    the session and get their ids) and hand those due now to the dispatcher
    after the commit."""
    if not rows:
        return
    ids = (await session.execute(
        _INSERT, [{name: getattr(row, name) for name in _WRITTEN} for row in rows])).scalars()
    for row, new_id in zip(rows, ids, strict=True):
        row.id = new_id
    dispatch_after_commit(session, [row.id for row in rows if row.send_after <= row.created_at])


async def _plan(session: AsyncSession, appointment: Appointment, purpose: Purpose,
                now: datetime, *, reminders: bool = True) -> list[Notification]:
    """The SMS rows of ``purpose`` (and the reminders) for the appointment, not yet added."""
    patient = await session.get(Patient, appointment.patient_id)
    assert patient is not None
    settings = await _settings_for(session, appointment.clinic_id,
                                   appointment.appointment_type_id)
    window = settings.window
    plan: list[tuple[Purpose, Timing]] = [
        (purpose, notice_timing(now, appointment.starts_at, window))]
    if reminders:
        plan += [(Purpose.REMINDER, timing)
                 for timing in reminder_timings(appointment.starts_at,
                                                settings.reminder_offsets, window, now)]
    rows: list[Notification] = []
    recipients_on: dict[date, list[Recipient]] = {}
    answered = _answering.get()
    for kind, timing in plan:
        # Who is told is judged on the day the message goes.
        day = local_date(timing.send_after)
        if day not in recipients_on:
            recipients_on[day] = await recipients_for(session, patient, day)
        bursting = (await _recently_noticed(session, [r.patient_id for r in recipients_on[day]],
                                            now) if kind is not Purpose.REMINDER else set())
        for recipient in recipients_on[day]:
            if kind is not Purpose.REMINDER and recipient.patient_id == answered:
                continue  # told by the answer to their text message
            send_after, reason = timing.send_after, None
            if recipient.patient_id in bursting and send_after < now + BURST_WINDOW:
                send_after, reason = now + BURST_WINDOW, Reason.BURST
            rows.append(Notification(
                appointment_id=appointment.id, appointment_version=appointment.version,
                patient_id=patient.id, purpose=kind, offset_minutes=timing.offset_minutes,
                channel=Channel.SMS, recipient_id=recipient.patient_id,
                recipient_role=recipient.role, status=NotificationStatus.CREATED,
                created_at=now, status_at=now, due_at=timing.due_at,
                send_after=send_after, expires_at=timing.expires_at, reason=reason,
            ))
    log.info("notifications_written", appointment_id=appointment.id, purpose=purpose.value,
             count=len(rows))
    return rows


async def _recently_noticed(session: AsyncSession, recipient_ids: Sequence[int],
                            now: datetime) -> set[int]:
    """Those of ``recipient_ids`` written an SMS notice in the last :data:`BURST_WINDOW`."""
    if not recipient_ids:
        return set()
    return set((await session.execute(_RECENT, {
        "p_ids": sorted(set(recipient_ids)), "p_since": now - BURST_WINDOW})).scalars())


_RECENT = (select(_notifications.c.recipient_id).distinct()
           .where(_notifications.c.recipient_id.in_(bindparam("p_ids", expanding=True)),
                  _notifications.c.channel == Channel.SMS,
                  _notifications.c.purpose.not_in([Purpose.REMINDER, Purpose.NUMBER_CHECK]),
                  _notifications.c.created_at > bindparam("p_since")))


async def _write_helsenorge(session: AsyncSession, appointment: Appointment, purpose: Purpose,
                            now: datetime) -> list[Notification]:
    """One Helsenorge row for this version of the appointment (the PUT carries
    its state then). Addressed to the patient: Helsenorge shows it to them and
    to whoever represents them there. Due at once (a PUT is not an SMS: no
    sending window), whatever the patient's SMS reservation, and pointless
    after the appointment has ended."""
    rows = [_helsenorge_row(appointment, purpose, now)]
    await _insert(session, rows)
    return rows


def _helsenorge_row(appointment: Appointment, purpose: Purpose, now: datetime
                    ) -> Notification:
    """The row of :func:`_write_helsenorge` (the same columns as an SMS row's,
    so the two go in one INSERT)."""
    return Notification(
        appointment_id=appointment.id, appointment_version=appointment.version,
        patient_id=appointment.patient_id, purpose=purpose, offset_minutes=0,
        channel=Channel.HELSENORGE, recipient_id=appointment.patient_id,
        recipient_role=Role.SELF, status=NotificationStatus.CREATED, created_at=now,
        status_at=now, due_at=now, send_after=now, expires_at=appointment.ends_at,
        reason=None)


async def waiting_count(session: AsyncSession, appointment_id: int) -> int:
    """How many of the appointment's notifications still wait (for tests and support)."""
    return int((await session.execute(
        select(func.count()).select_from(Notification)
        .where(Notification.appointment_id == appointment_id,
               Notification.status == NotificationStatus.CREATED))).scalar_one())
