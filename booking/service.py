"""Book, change, cancel, confirm: each a unit of work in one transaction.

The order inside each is fixed so concurrent units never deadlock: patient
row, appointment row, slot rows, then the tail of the patient's audit chain.
Slots are claimed with a compare-and-swap update (``... WHERE status =
'free'``) that behaves the same on SQLite and PostgreSQL, and a partial unique
index on live appointments per slot backs it up: the database, not the
application, is what makes a double booking impossible.

A booking is a handful of statements, each built once with bound parameters
and read as rows rather than ORM queries: one small read of the slot, whether
the idempotency key was used, and (unless the slot is booked or closed) the
patient's row, locked; a slot already taken is refused right there
(:func:`booking.rules.may_book_slot`), which is how most attempts at a
popular time end. Otherwise: read the slot, its clinic, the kind of
appointment, whether the slot's template offers it, the patient's upcoming
appointments and the tail of their audit chain in one query; claim the slot
and insert the appointment in one statement (PostgreSQL; two on SQLite); the
notification outbox's rows (its burst check and one INSERT; the county's
settings are kept per process, ``notifications.outbox.SETTINGS_SECONDS``);
the audit entry (:func:`booking.audit.record`, one statement given the tail,
no lock shared with other patients). The rules are still decided by
:mod:`booking.rules` on the rows that query loaded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from booking import audit, events, queries, rules, search
from booking.audit import Actor
from booking.models import (
    Appointment,
    AppointmentType,
    BookingEvent,
    Clinic,
    Patient,
    Slot,
    schedule_template_types,
)
from booking.reasons import Reason, Warning
from booking.statuses import ACTIVE, ActorKind, AppointmentStatus, SlotStatus, Source
from core.db import Database, utcnow

log = structlog.get_logger(__name__)

HOLD_TIME = timedelta(minutes=10)
#: Booking event kinds: a slot became free again; a cancellation came inside
#: ``rules.LATE_CANCELLATION_WINDOW`` (for the clinic's refill work).
SLOT_FREED = "slot_freed"
LATE_CANCELLATION = "late_cancellation"
SOURCE_OF = {
    ActorKind.PATIENT: Source.SELF,
    ActorKind.GUARDIAN: Source.GUARDIAN,
    ActorKind.STAFF: Source.STAFF,
    ActorKind.SUPPORT: Source.STAFF,
    ActorKind.RECORD_SYSTEM: Source.RECORD_SYSTEM,
    ActorKind.SYSTEM: Source.RECORD_SYSTEM,
}
PURPOSE_OF = {
    ActorKind.PATIENT: "self_service",
    ActorKind.GUARDIAN: "guardian_for_child",
    ActorKind.STAFF: "reception",
    ActorKind.SUPPORT: "support",
    ActorKind.RECORD_SYSTEM: "record_system_sync",
    ActorKind.SYSTEM: "system",
}


class BookingRefused(Exception):
    """The request is not allowed or no longer possible; nothing was changed."""

    def __init__(self, reason: Reason, **params: int) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.params = params


@dataclass(frozen=True)
class Outcome:
    appointment: Appointment
    warnings: tuple[Warning, ...] = ()
    replayed: bool = False  # the same request was already done (idempotency key)


def _raise_unless(decision: rules.Decision) -> None:
    if not decision:
        assert decision.reason is not None
        raise BookingRefused(decision.reason, **decision.params)


def _is_free(now: datetime, hold_key: str | None = None) -> ColumnElement[bool]:
    """SQL condition: the slot may be claimed now (free, or held by us, or an
    expired hold)."""
    held_claimable = and_(Slot.status == SlotStatus.HELD, Slot.held_until < now)
    if hold_key is not None:
        held_claimable = or_(held_claimable,
                             and_(Slot.status == SlotStatus.HELD, Slot.hold_key == hold_key))
    return or_(Slot.status == SlotStatus.FREE, held_claimable)


async def _free_slot(session: AsyncSession, slot_id: int, appointment_id: int,
                     now: datetime) -> None:
    await session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.status == SlotStatus.BOOKED)
        .values(status=SlotStatus.FREE, version=Slot.version + 1)
        .execution_options(synchronize_session=False)
    )
    session.add(BookingEvent(kind="slot_freed", slot_id=slot_id,
                             appointment_id=appointment_id, occurred_at=now))


_LOCK_PATIENT = select(Patient).where(Patient.id == bindparam("p_patient")).with_for_update()


async def _lock_patient(session: AsyncSession, patient_id: int) -> Patient:
    patient = (
        await session.execute(_LOCK_PATIENT, {"p_patient": patient_id})
    ).scalar_one_or_none()
    if patient is None:
        raise BookingRefused(Reason.UNKNOWN_PATIENT)
    return patient


async def _lock_appointment(session: AsyncSession, appointment_id: int) -> Appointment:
    appointment = (
        await session.execute(
            select(Appointment).where(Appointment.id == appointment_id).with_for_update()
        )
    ).scalar_one_or_none()
    if appointment is None:
        raise BookingRefused(Reason.UNKNOWN_APPOINTMENT)
    return appointment


@dataclass(frozen=True)
class _Booking:
    """What :func:`rules.may_book` needs about a slot, read in one query."""

    slot: Slot
    appointment_type: AppointmentType
    slot_type_ids: frozenset[int]
    upcoming: list[Appointment]
    #: The id of the appointment an earlier request with the same idempotency
    #: key made, if any (asked in the same query).
    replay_id: int | None = None
    #: The newest entry of the patient's audit chain (position, hash), for
    #: ``audit.record(tail=...)``.
    audit_tail: tuple[int | None, str | None] | None = None


_slots = cast(Table, Slot.__table__)
_types = cast(Table, AppointmentType.__table__)
_appointments = cast(Table, Appointment.__table__)
_clinics = cast(Table, Clinic.__table__)
_SLOT_NAMES = tuple(column.name for column in _slots.c)
_TYPE_NAMES = tuple(column.name for column in _types.c)
#: What the rules ask of the patient's other appointments.
_UPCOMING_NAMES = ("id", "status", "starts_at", "ends_at", "appointment_type_id")
_ACTIVE_VALUES = sorted(s.value for s in ACTIVE)


def _replay_of_key() -> Any:
    """The id of the appointment made with the idempotency key ``p_key``, if any."""
    return (select(_appointments.c.id)
            .where(_appointments.c.idempotency_key == bindparam("p_key"))
            .scalar_subquery())


def _load_statement() -> Any:
    """Built once: the slot, its clinic's county, the kind, whether the slot's
    template offers the kind, the appointment an idempotency key made, and the
    patient's upcoming active appointments (outer-joined, one row each).
    Columns, not ORM entities: the rules read plain attributes, and a loser
    of a race never needs more."""
    offered = exists().where(
        schedule_template_types.c.template_id == _slots.c.template_id,
        schedule_template_types.c.appointment_type_id == _types.c.id,
    )
    replay = _replay_of_key()
    upcoming = _appointments.alias("upcoming")
    return (
        select(*_slots.c, _clinics.c.county_id, *_types.c, offered, replay,
               *audit.tail_columns(bindparam("p_chain")),
               *[upcoming.c[name] for name in _UPCOMING_NAMES])
        .select_from(
            _slots.join(_clinics, _clinics.c.id == _slots.c.clinic_id)
            .join(_types, _types.c.id == bindparam("p_type"))
            .outerjoin(upcoming, and_(upcoming.c.patient_id == bindparam("p_patient"),
                                      upcoming.c.status.in_(_ACTIVE_VALUES),
                                      upcoming.c.ends_at > bindparam("p_now"))))
        .where(_slots.c.id == bindparam("p_slot"))
    )


_LOAD = _load_statement()
_N_SLOT, _N_TYPE = len(_SLOT_NAMES), len(_TYPE_NAMES)


async def _load_booking(session: AsyncSession, slot_id: int, appointment_type_id: int,
                        patient_id: int, now: datetime, idempotency_key: str | None = None
                        ) -> _Booking:
    """The slot with its clinic, the kind of appointment, whether the slot's
    template offers that kind, the patient's upcoming active appointments and
    the appointment ``idempotency_key`` made (if any): one statement. Call it
    after the patient's row is locked, so it sees their latest appointments.
    The objects it returns are not in the session (read-only facts for the
    rules)."""
    rows = (await session.execute(_LOAD, {
        "p_slot": slot_id, "p_type": appointment_type_id, "p_patient": patient_id,
        "p_now": now, "p_key": idempotency_key,
        "p_chain": audit.chain_of("", patient_id)})).all()
    if not rows:
        # Only on the way to a refusal: which one is missing?
        if await session.get(Slot, slot_id) is None:
            raise BookingRefused(Reason.UNKNOWN_SLOT)
        raise BookingRefused(Reason.UNKNOWN_TYPE)
    first = rows[0]
    slot = Slot(**dict(zip(_SLOT_NAMES, first[:_N_SLOT], strict=True)))
    slot.clinic = Clinic(id=slot.clinic_id, county_id=first[_N_SLOT])
    at = _N_SLOT + 1
    appointment_type = AppointmentType(
        **dict(zip(_TYPE_NAMES, first[at:at + _N_TYPE], strict=True)))
    at += _N_TYPE
    is_offered, replay_id = bool(first[at]), first[at + 1]
    tail = (first[at + 2], first[at + 3])
    at += 4
    upcoming = [Appointment(**dict(zip(_UPCOMING_NAMES, row[at:], strict=True)))
                for row in rows if row[at] is not None]
    return _Booking(slot, appointment_type,
                    frozenset({appointment_type.id}) if is_offered else frozenset(),
                    upcoming, replay_id, tail)


def _early_statement() -> Any:
    """Built once: what :func:`rules.may_book_slot` needs of the slot, whether
    the patient exists, the appointment an idempotency key made and, unless
    the slot is booked or closed already, the patient's row, locked."""
    exists_patient = (select(_patients.c.id).where(_patients.c.id == bindparam("p_patient"))
                      .scalar_subquery())
    replay = _replay_of_key()
    open_slot = exists().where(
        _slots.c.id == bindparam("p_slot"),
        _slots.c.status.in_([SlotStatus.FREE.value, SlotStatus.HELD.value]))
    locked = (select(*_patients.c)
              .where(_patients.c.id == bindparam("p_patient"), open_slot)
              .with_for_update(of=_patients).cte("locked"))
    return (select(*[_slots.c[name] for name in _EARLY_NAMES], exists_patient, replay,
                   *locked.c)
            .select_from(_slots.outerjoin(locked, literal(True)))
            .where(_slots.c.id == bindparam("p_slot")))


_patients = cast(Table, Patient.__table__)
_PATIENT_NAMES = tuple(column.name for column in _patients.c)
_EARLY_NAMES = ("id", "clinic_id", "starts_at", "ends_at", "status", "hold_key", "held_until")
_N_EARLY = len(_EARLY_NAMES)
_EARLY = _early_statement()


async def _refused_early(session: AsyncSession, actor: Actor, patient_id: int, slot_id: int,
                         clinic_id: int | None, idempotency_key: str | None,
                         hold_key: str | None, now: datetime
                         ) -> tuple[rules.Decision | None, Patient | None]:
    """A refusal that needs no lock, from one small read before any: the slot
    is already taken (or closed, or past, or not the actor's to book:
    :func:`rules.may_book_slot`), the patient exists and the idempotency key
    was not used. Most attempts on a popular time end here: it was taken
    before they came. In the booking's transaction, on its connection (a
    second connection per attempt would cost more than the read).

    The same statement locks the patient's row when the slot is neither
    booked nor closed (it then returns the patient, in the session): the
    booking goes on under that lock and reads everything again. None when it
    did not lock (call :func:`_lock_patient`)."""
    row = (await session.execute(_EARLY, {
        "p_slot": slot_id, "p_patient": patient_id, "p_key": idempotency_key,
    })).one_or_none()
    if row is None:
        return None, None  # unknown slot: the full path says so
    patient: Patient | None = None
    if row[_N_EARLY + 2] is not None:
        patient = Patient(**dict(zip(_PATIENT_NAMES, row[_N_EARLY + 2:], strict=True)))
        make_transient_to_detached(patient)
        session.add(patient)
    if row[_N_EARLY] is None or row[_N_EARLY + 1] is not None:
        return None, patient  # unknown patient, or a replay: the full path says which
    slot = Slot(**dict(zip(_EARLY_NAMES, row[:_N_EARLY], strict=True)))
    if clinic_id is not None and slot.clinic_id != clinic_id:
        return None, patient
    decision = rules.may_book_slot(actor, patient_id, slot, now, hold_key)
    return (None if decision else decision), patient


def _appointment_values(slot: Slot, patient: Patient, appointment_type: AppointmentType,
                        actor: Actor, now: datetime, **fields: Any) -> dict[str, Any]:
    """The columns of a new booked appointment of ``patient`` in ``slot``."""
    values: dict[str, Any] = dict(
        patient_id=patient.id, clinic_id=slot.clinic_id, chair_id=slot.chair_id,
        slot_id=slot.id, appointment_type_id=appointment_type.id, starts_at=slot.starts_at,
        ends_at=slot.starts_at + timedelta(minutes=appointment_type.duration_minutes),
        status=AppointmentStatus.BOOKED.value, source=SOURCE_OF[actor.kind].value,
        created_by_kind=actor.kind.value, created_by=actor.id,
        on_behalf_of_id=_behalf(actor, patient.id), created_at=now, updated_at=now,
        version=1, self_reschedules=0, clinic_issued=False, idempotency_key=None,
        external_ref=None, replaces_id=None, chain_id=None, overbooked=False,
        staff_note=None, overbook_reason=None)
    values.update(fields)
    return values


def _claim_insert_statement(names: tuple[str, ...], new_chain: bool) -> Any:
    """The claim-and-insert of :func:`_claim_and_insert` for appointments with
    the columns ``names``, with bound parameters (``v_<column>``, ``p_slot``,
    ``p_now``, ``p_hold_key``); built once per shape. With ``new_chain``, the
    new appointment is its own chain (``chain_id`` = its id)."""
    now: Any = bindparam("p_now")
    hold_key: Any = bindparam("p_hold_key")
    held = _slots.c.status == SlotStatus.HELD
    claimed = (update(_slots)
               .where(_slots.c.id == bindparam("p_slot"),
                      or_(_slots.c.status == SlotStatus.FREE,
                          and_(held, _slots.c.held_until < now),
                          and_(held, _slots.c.hold_key == hold_key)))
               .values(status=SlotStatus.BOOKED, hold_key=None, hold_owner=None,
                       held_until=None, version=_slots.c.version + 1)
               .returning(_slots.c.id).cte("claimed"))
    new_id = select(
        func.nextval(func.pg_get_serial_sequence("appointments", "id")).label("id")
    ).cte("new_id")
    source = select(new_id.c.id, *[
        new_id.c.id if name == "chain_id" and new_chain
        else bindparam(f"v_{name}", type_=_appointments.c[name].type)
        for name in names
    ]).select_from(claimed).join(new_id, literal(True))
    return (insert(_appointments).from_select(["id", *names], source)
            .returning(*_appointments.c))


_CLAIM_INSERT: dict[tuple[tuple[str, ...], bool], Any] = {}


async def _claim_and_insert(session: AsyncSession, values: dict[str, Any], now: datetime,
                            hold_key: str | None) -> Appointment | None:
    """Claim the slot (compare-and-swap) and insert the appointment; None when
    the slot was not free. On PostgreSQL one statement: the insert selects
    from the claim's ``RETURNING``, so it inserts nothing when the claim
    updated nothing, and a new chain gets its own id as ``chain_id``. The
    appointment comes back as a row and enters the session as loaded, with no
    ORM query in between."""
    if session.get_bind().dialect.name == "postgresql":
        names = tuple(values)
        new_chain = values["chain_id"] is None
        statement = _CLAIM_INSERT.get((names, new_chain))
        if statement is None:
            statement = _CLAIM_INSERT[names, new_chain] = _claim_insert_statement(
                names, new_chain)
        params = {f"v_{name}": value for name, value in values.items()}
        params.update(p_slot=values["slot_id"], p_now=now, p_hold_key=hold_key)
        row = (await session.execute(statement, params)).one_or_none()
        if row is None:
            return None
        appointment = Appointment(**row._asdict())
        make_transient_to_detached(appointment)
        session.add(appointment)
        return appointment
    claim = (update(Slot)
             .where(Slot.id == values["slot_id"], _is_free(now, hold_key))
             .values(status=SlotStatus.BOOKED, hold_key=None, hold_owner=None, held_until=None,
                     version=Slot.version + 1))
    updated = await session.execute(claim.execution_options(synchronize_session=False))
    if updated.rowcount != 1:  # type: ignore[attr-defined]
        return None
    appointment = Appointment(**values)
    session.add(appointment)
    await session.flush()
    if appointment.chain_id is None:
        appointment.chain_id = appointment.id
    return appointment


async def _lock_appointment_with_kind(session: AsyncSession, appointment_id: int
                                      ) -> tuple[Appointment, AppointmentType, Patient]:
    """The appointment (locked), its kind and its patient: one statement."""
    found = (await session.execute(
        select(Appointment, AppointmentType, Patient)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(Appointment.id == appointment_id)
        .with_for_update(of=Appointment)
    )).one_or_none()
    if found is None:
        raise BookingRefused(Reason.UNKNOWN_APPOINTMENT)
    return found[0], found[1], found[2]


async def _replay(db: Database, key: str | None, patient_id: int | None = None, *,
                  actor: Actor | None = None, changing: int | None = None
                  ) -> Outcome | None:
    """The earlier outcome of a request with the same idempotency key. A key
    answers only for its own patient (the appointment being changed, when
    ``changing``) and, when ``actor`` is given, its own actor: anyone else's
    key is refused and books or moves nothing."""
    async with db.read() as session:
        return await _replayed(session, key, patient_id, actor=actor, changing=changing)


async def _replayed(session: AsyncSession, key: str | None, patient_id: int | None = None, *,
                    actor: Actor | None = None, changing: int | None = None
                    ) -> Outcome | None:
    """:func:`_replay` inside an open transaction."""
    existing = await queries.by_idempotency_key(session, key)
    if existing is not None and changing is not None:
        changed = await session.get(Appointment, changing)
        patient_id = changed.patient_id if changed is not None else -1
    if existing is None:
        return None
    if patient_id is not None and existing.patient_id != patient_id:
        raise BookingRefused(Reason.SLOT_TAKEN)
    if actor is not None and existing.created_by != actor.id:
        raise BookingRefused(Reason.SLOT_TAKEN)
    return Outcome(existing, replayed=True)


async def book(db: Database, actor: Actor, *, patient_id: int, slot_id: int,
               appointment_type_id: int, idempotency_key: str | None = None,
               clinic_id: int | None = None, hold_key: str | None = None,
               clinic_issued: bool = False, external_ref: str | None = None,
               staff_note: str | None = None, audit_detail: dict[str, Any] | None = None,
               now: datetime | None = None) -> Outcome:
    """Book ``slot_id`` for ``patient_id``. Repeating the call with the same
    ``idempotency_key`` returns the first result and books nothing more.
    ``staff_note`` and ``audit_detail`` are for staff acting for the patient
    (:mod:`booking.staff_booking`): the reason, and what their audit entry adds."""
    now = now or utcnow()
    try:
        async with db.write() as session:
            early, locked = await _refused_early(session, actor, patient_id, slot_id,
                                                 clinic_id, idempotency_key, hold_key, now)
            if early is not None:
                _raise_unless(early)
            loaded: _Booking | None = None
            try:
                patient = locked or await _lock_patient(session, patient_id)
                loaded = await _load_booking(session, slot_id, appointment_type_id, patient_id,
                                             now, idempotency_key)
                slot, appointment_type = loaded.slot, loaded.appointment_type
                if clinic_id is not None and slot.clinic_id != clinic_id:
                    raise BookingRefused(Reason.WRONG_CLINIC)
                _raise_unless(rules.may_book(
                    actor, patient, appointment_type, slot, loaded.slot_type_ids, now,
                    loaded.upcoming, hold_key=hold_key))
                appointment = await _claim_and_insert(session, _appointment_values(
                    slot, patient, appointment_type, actor, now, clinic_issued=clinic_issued,
                    idempotency_key=idempotency_key, external_ref=external_ref,
                    staff_note=staff_note), now, hold_key)
                if appointment is None:
                    raise BookingRefused(Reason.SLOT_TAKEN)
                await events.listener().on_booked(session, appointment, now=now)
                await audit.record(
                    session, actor, "appointment.book", purpose=PURPOSE_OF[actor.kind],
                    subject_patient_id=patient.id, on_behalf_of_id=_behalf(actor, patient.id),
                    detail={"appointment_id": appointment.id, "slot_id": slot.id,
                            **(audit_detail or {})}, now=now, tail=loaded.audit_tail)
            except BookingRefused:
                # The same request may have been done already (idempotency
                # key): the slot is then taken, or the kind already booked, by
                # that request. Asked in the same transaction: no second one;
                # once the slot is read, that read already said whether the
                # key was used (the patient's lock keeps their own requests
                # out until this one ends).
                if loaded is None or loaded.replay_id is not None:
                    replay = await _replayed(session, idempotency_key, patient_id)
                    if replay:
                        return replay
                raise
    except IntegrityError:
        # A concurrent request with the same key, or the live-slot index.
        replay = await _replay(db, idempotency_key, patient_id)
        if replay:
            return replay
        raise BookingRefused(Reason.SLOT_TAKEN) from None
    search.forget_free_times(appointment.clinic_id)
    log.info("appointment_booked", appointment_id=appointment.id, slot_id=slot_id,
             actor_kind=actor.kind.value)
    return Outcome(appointment)


def _behalf(actor: Actor, patient_id: int) -> int | None:
    return patient_id if actor.patient_id != patient_id else None


#: Called inside a change's transaction after the move (old, new), e.g. by an
#: accepted refill offer (``booking.refill``) to close its round in the same commit.
AfterChange = Callable[[AsyncSession, Appointment, Appointment], Awaitable[object]]


async def change(db: Database, actor: Actor, *, appointment_id: int, new_slot_id: int,
                 idempotency_key: str | None = None, hold_key: str | None = None,
                 staff_note: str | None = None, audit_detail: dict[str, Any] | None = None,
                 now: datetime | None = None, other_clinic: bool = False,
                 after: AfterChange | None = None, clinic_asked: bool = False) -> Outcome:
    """Move an appointment to another slot. The new slot is claimed before the
    old one is released, in one transaction: if the new time is gone, the
    patient keeps the old one. ``other_clinic``: a patient may move to another
    clinic (an offer of freed time at a clinic they chose on the waitlist);
    ``after`` runs in the same transaction once the move is written;
    ``clinic_asked``: the clinic asked the patient to move (see
    ``rules.may_change``)."""
    now = now or utcnow()
    replay = await _replay(db, idempotency_key, actor=actor, changing=appointment_id)
    if replay:
        return replay
    try:
        async with db.write() as session:
            old = await _lock_appointment(session, appointment_id)
            patient = await _lock_patient(session, old.patient_id)
            loaded = await _load_booking(session, new_slot_id, old.appointment_type_id,
                                         patient.id, now)
            slot, appointment_type = loaded.slot, loaded.appointment_type
            decision = rules.may_change(actor, old, appointment_type, patient, now,
                                       clinic_asked=clinic_asked)
            _raise_unless(decision)
            if new_slot_id == old.slot_id:
                raise BookingRefused(Reason.SAME_SLOT)
            if (slot.clinic_id != old.clinic_id and rules.is_self_service(actor)
                    and not other_clinic):
                # Changing clinic is a new booking; keep change within the clinic.
                raise BookingRefused(Reason.WRONG_CLINIC)
            _raise_unless(rules.may_book(
                actor, patient, appointment_type, slot, loaded.slot_type_ids, now,
                loaded.upcoming, hold_key=hold_key, ignore_appointment_id=old.id))
            # The new slot is claimed (and the new appointment written) first.
            new = await _claim_and_insert(session, _appointment_values(
                slot, patient, appointment_type, actor, now,
                version=old.version + 1, replaces_id=old.id, chain_id=old.chain_id or old.id,
                self_reschedules=old.self_reschedules + (1 if rules.is_self_service(actor)
                                                          else 0),
                clinic_issued=old.clinic_issued, idempotency_key=idempotency_key,
                staff_note=staff_note),
                now, hold_key)
            if new is None:
                raise BookingRefused(Reason.SLOT_TAKEN)
            old.status = AppointmentStatus.CANCELLED
            old.cancelled_at = now
            old.cancelled_by = actor.id
            old.cancellation_reason = "changed"
            old.updated_at = now
            await _free_slot(session, old.slot_id, old.id, now)
            await events.listener().on_changed(session, old, new, now=now)
            if after is not None:
                await after(session, old, new)
            await audit.record(
                session, actor, "appointment.change", purpose=PURPOSE_OF[actor.kind],
                subject_patient_id=patient.id, on_behalf_of_id=_behalf(actor, patient.id),
                detail={"appointment_id": new.id, "replaces_id": old.id, "slot_id": slot.id,
                        **(audit_detail or {})},
                now=now)
    except IntegrityError:
        replay = await _replay(db, idempotency_key, actor=actor, changing=appointment_id)
        if replay:
            return replay
        raise BookingRefused(Reason.SLOT_TAKEN) from None
    search.forget_free_times(old.clinic_id)
    search.forget_free_times(new.clinic_id)
    log.info("appointment_changed", appointment_id=new.id, replaces_id=old.id,
             actor_kind=actor.kind.value)
    return Outcome(new, decision.warnings)


async def cancel(db: Database, actor: Actor, *, appointment_id: int, reason: str = "",
                 audit_detail: dict[str, Any] | None = None,
                 now: datetime | None = None) -> Outcome:
    """Cancel; the slot is free again at once and a ``slot_freed`` event is
    written for whoever is waiting for an earlier time. A patient may cancel
    until the appointment starts (``rules.may_cancel``); a late one also
    writes a ``late_cancellation`` event and says so in the audit entry."""
    now = now or utcnow()
    async with db.write() as session:
        appointment, appointment_type, patient = await _lock_appointment_with_kind(
            session, appointment_id)
        decision = rules.may_cancel(actor, appointment, appointment_type, patient, now)
        _raise_unless(decision)
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancelled_at = now
        appointment.cancelled_by = actor.id
        appointment.cancellation_reason = reason[:200] or None
        appointment.updated_at = now
        appointment.version += 1
        await session.flush()
        await _free_slot(session, appointment.slot_id, appointment.id, now)
        late = rules.is_late_cancellation(appointment, now)
        if late:
            session.add(BookingEvent(kind=LATE_CANCELLATION, slot_id=appointment.slot_id,
                                     appointment_id=appointment.id, occurred_at=now))
        await events.listener().on_cancelled(session, appointment, now=now)
        await audit.record(
            session, actor, "appointment.cancel", purpose=PURPOSE_OF[actor.kind],
            subject_patient_id=patient.id, on_behalf_of_id=_behalf(actor, patient.id),
            detail={"appointment_id": appointment.id, "late": late,
                    "fee_warned": bool(decision.warnings), **(audit_detail or {})}, now=now)
    search.forget_free_times(appointment.clinic_id)
    log.info("appointment_cancelled", appointment_id=appointment_id,
             actor_kind=actor.kind.value)
    return Outcome(appointment, decision.warnings)


async def confirm(db: Database, actor: Actor, *, appointment_id: int,
                  now: datetime | None = None) -> Outcome:
    """The patient says "yes, I'm coming"."""
    now = now or utcnow()
    async with db.write() as session:
        appointment = await _lock_appointment(session, appointment_id)
        _raise_unless(rules.may_confirm(actor, appointment, now))
        appointment.status = AppointmentStatus.CONFIRMED
        appointment.confirmed_at = now
        appointment.updated_at = now
        await audit.record(
            session, actor, "appointment.confirm", purpose=PURPOSE_OF[actor.kind],
            subject_patient_id=appointment.patient_id,
            on_behalf_of_id=_behalf(actor, appointment.patient_id),
            detail={"appointment_id": appointment.id}, now=now)
    return Outcome(appointment)


async def record_attendance(db: Database, actor: Actor, *, appointment_id: int,
                            attended: bool, now: datetime | None = None) -> Outcome:
    """Mark completed or no-show (ikke møtt). Never triggers a sanction by
    itself: repeated no-shows of children are a signal for the clinic."""
    now = now or utcnow()
    async with db.write() as session:
        appointment = await _lock_appointment(session, appointment_id)
        _raise_unless(rules.may_record_attendance(actor, appointment, now))
        appointment.status = (AppointmentStatus.COMPLETED if attended
                              else AppointmentStatus.NO_SHOW)
        appointment.updated_at = now
        appointment.attendance_at = now
        await audit.record(
            session, actor, "appointment.completed" if attended else "appointment.no_show",
            purpose=PURPOSE_OF[actor.kind], subject_patient_id=appointment.patient_id,
            detail={"appointment_id": appointment.id}, now=now)
    return Outcome(appointment)


async def hold(db: Database, *, slot_id: int, hold_key: str, now: datetime | None = None,
               duration: timedelta = HOLD_TIME, owner: str | None = None) -> bool:
    """Keep a released slot for ``duration`` while someone completes a booking
    or change. True if this key holds it now. Holding it again with the same
    key keeps the first expiry: a hold is never renewed. With ``owner``, the
    owner's other holds are let go in the same transaction: one at a time."""
    now = now or utcnow()
    still_ours = and_(Slot.status == SlotStatus.HELD, Slot.hold_key == hold_key,
                      Slot.held_until >= now)
    async with db.write() as session:
        result = await session.execute(
            update(Slot)
            .where(Slot.id == slot_id, Slot.released.is_(True), Slot.starts_at > now,
                   _is_free(now, hold_key))
            .values(status=SlotStatus.HELD, hold_key=hold_key, hold_owner=owner,
                    held_until=case((still_ours, Slot.held_until), else_=now + duration))
            .execution_options(synchronize_session=False)
        )
        held = bool(result.rowcount == 1)  # type: ignore[attr-defined]
        if held and owner is not None:
            await session.execute(
                update(Slot)
                .where(Slot.hold_owner == owner, Slot.id != slot_id,
                       Slot.status == SlotStatus.HELD)
                .values(status=SlotStatus.FREE, hold_key=None, hold_owner=None,
                        held_until=None)
                .execution_options(synchronize_session=False)
            )
        return held


async def release_hold(db: Database, *, slot_id: int, hold_key: str) -> None:
    async with db.write() as session:
        await session.execute(
            update(Slot)
            .where(Slot.id == slot_id, Slot.status == SlotStatus.HELD, Slot.hold_key == hold_key)
            .values(status=SlotStatus.FREE, hold_key=None, hold_owner=None, held_until=None)
            .execution_options(synchronize_session=False)
        )
