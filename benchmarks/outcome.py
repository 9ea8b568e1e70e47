"""``python -m benchmarks.outcome``: a simulated county month, toolkit off and on.

The demo's reference data (real counties, clinics, appointment types and
weekly templates, ``demo.seed``) is loaded into a fresh database; slots are
made for the clinics of one county for eight weeks by the service's own
``booking.schedule.generate_slots``; the released slots are booked ahead by
synthetic patients (children's slots as clinic-issued recalls); then a month
runs, event by event, where patients cancel, fail to turn up, ask for an
earlier time and answer offers at the rates in ``benchmarks/data/behaviour.json``
(each rate with its source). Every booking, cancellation, wave, hold and
accept goes through the service's own code (``booking.service``,
``booking.refill``, ``notifications.refill.run``, the outbox); only the
patients' choices are drawn. The same seed gives both modes the same
patients and the same fates.

* **off**: no waitlist and no two-way SMS; a clinic phones through its list
  and refills ``manual_backfill_rate`` of slots freed 24 h or more ahead.
* **on**: two-way SMS cuts no-shows (``two_way_sms_no_show_reduction``; some
  of the avoided no-shows cancel ahead instead); patients ask for earlier
  times; freed slots are offered wave by wave; the clinic phones for the
  slots nobody on the waitlist took.

Reported: no-shows as a share of clinical time (minutes of no-shows over
minutes of appointments that were due), the share of slots freed 24 h or
more ahead that were refilled (goal: 80 % or more), and SMS segments sent
(each outbox row's text rendered with the real templates and counted with
``notifications.segments``; reminders of the appointments booked before the
month counted as the outbox would write them).

A second, real-time measurement: a refill offer handed to the (in-memory)
SMS provider after a cancellation in sending hours, through the in-process
runner on the machine's clock, beside a baseline in the same run: a booking
confirmation handed over after a booking. Goal: within 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import func, insert, select, update

import web.schema  # noqa: F401  (every table, for create_all)
from booking import service
from booking.audit import Actor
from booking.models import (
    Appointment,
    AppointmentType,
    BookingEvent,
    Clinic,
    County,
    Patient,
    Slot,
    schedule_template_types,
)
from booking.refill import RefillPolicy
from booking.refill_models import RefillOffer, RefillRound, WaitlistEntry
from booking.schedule import generate_slots
from booking.service import BookingRefused
from booking.statuses import AppointmentStatus, SlotStatus
from core.db import Base, Database, create_database
from demo.seed import SeedReport, _seed_reference_data
from notifications import outbox, refill
from notifications.channels.base import SendOutcome, SmsResult
from notifications.models import Notification
from notifications.recipients import ProfileDirectory
from notifications.refill_texts import render as render_refill
from notifications.runner import InProcessRunner
from notifications.runtime import DeliveryConfig, Runtime
from notifications.segments import count_segments
from notifications.statuses import Channel, NotificationStatus, Purpose
from notifications.templates import Audience, Links, MessageContext, link_key, render

DATA = Path(__file__).parent / "data" / "behaviour.json"
PUBLIC_URL = "https://tannhelse.example.no"
SECRET = "outcome-benchmark-secret-not-used-elsewhere"
SYSTEM = Actor.staff("outcome-benchmark", set())


def rates(path: Path = DATA) -> dict[str, Any]:
    return {name: entry["value"] for name, entry in json.loads(path.read_text()).items()
            if not name.startswith("_")}


async def fresh(directory: str, name: str) -> Database:
    db = create_database(f"sqlite+aiosqlite:///{directory}/{name}.sqlite3")
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return db


def monday_after(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7 or 7)


@dataclass
class County_:
    clinic_ids: list[int]
    types: dict[str, AppointmentType]
    clinic_name: str


async def county_world(db: Database, today: date, clinics: int, weeks: int) -> County_:
    async with db.write() as session:
        await _seed_reference_data(session, SeedReport(), today)
    async with db.read() as session:
        county_id = (await session.execute(
            select(Clinic.county_id).group_by(Clinic.county_id)
            .order_by(func.count().desc(), Clinic.county_id).limit(1))).scalar_one()
        chosen = list((await session.execute(
            select(Clinic).where(Clinic.county_id == county_id).order_by(Clinic.id)
            .limit(clinics))).scalars())
        types = {t.code: t for t in (await session.execute(
            select(AppointmentType).where(AppointmentType.county_id == county_id))).scalars()}
    await generate_slots(db, start=today, weeks=weeks, clinic_ids=[c.id for c in chosen],
                         now=datetime.combine(today, datetime.min.time(), tzinfo=UTC))
    async with db.write() as session:  # the county's sending hours: the default 08-21
        await session.execute(update(County).values(quiet_hours=None))
    return County_([c.id for c in chosen], types, chosen[0].name)


@dataclass
class Booked:
    id: int
    patient_id: int
    slot_id: int
    starts_at: datetime
    minutes: int
    child: bool


async def book_ahead(db: Database, rng: random.Random, world: County_, r: dict[str, Any],
                     booked_at: datetime) -> list[Booked]:
    """``fill_rate`` of the released slots booked before the month, in bulk
    (synthetic patients: no identity number is needed for this)."""
    child_type, adult_type = world.types["child-exam"], world.types["adult-exam"]
    async with db.read() as session:
        slots = (await session.execute(
            select(Slot.id, Slot.clinic_id, Slot.chair_id, Slot.starts_at,
                   schedule_template_types.c.appointment_type_id)
            .join(schedule_template_types,
                  schedule_template_types.c.template_id == Slot.template_id)
            .where(Slot.released.is_(True), Slot.status == SlotStatus.FREE,
                   schedule_template_types.c.appointment_type_id.in_(
                       [child_type.id, adult_type.id]))
            .order_by(Slot.starts_at, Slot.id))).all()
    picked = [s for s in slots if rng.random() < r["fill_rate"]]
    out: list[Booked] = []
    async with db.write() as session:
        for offset in range(0, len(picked), 500):
            chunk = picked[offset:offset + 500]
            patients = await _insert(session, Patient, [dict(
                identity_hash=os.urandom(32), identity_encrypted=b"", given_name="Sim",
                family_name="Pasient",
                birth_date=date(2015, 6, 1) if s.appointment_type_id == child_type.id
                else date(1975, 6, 1), mobile=f"+479{offset + i:07d}",
                preferred_language="nb", confidential_address="none",
                created_at=booked_at) for i, s in enumerate(chunk)])
            rows = []
            for s, patient_id in zip(chunk, patients, strict=True):
                kind = child_type if s.appointment_type_id == child_type.id else adult_type
                rows.append(dict(
                    patient_id=patient_id, clinic_id=s.clinic_id, chair_id=s.chair_id,
                    slot_id=s.id, appointment_type_id=kind.id, starts_at=s.starts_at,
                    ends_at=s.starts_at + timedelta(minutes=kind.duration_minutes),
                    status=AppointmentStatus.BOOKED, source="record_system",
                    created_by_kind="record_system", created_by="system:outcome",
                    created_at=booked_at, updated_at=booked_at, version=1,
                    self_reschedules=0, clinic_issued=kind is child_type))
            ids = await _insert(session, Appointment, rows)
            await session.execute(update(Appointment).where(Appointment.id.in_(ids))
                                  .values(chain_id=Appointment.id))
            await session.execute(update(Slot).where(Slot.id.in_([s.id for s in chunk]))
                                  .values(status=SlotStatus.BOOKED))
            out += [Booked(i, row["patient_id"], row["slot_id"], row["starts_at"],
                           (row["ends_at"] - row["starts_at"]).seconds // 60,
                           row["clinic_issued"]) for i, row in zip(ids, rows, strict=True)]
    return out


async def _insert(session: Any, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    result = await session.execute(
        insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


@dataclass
class Fate:
    cancel_at: datetime | None = None
    no_show: bool = False


def fates(rng: random.Random, appointments: list[Booked], r: dict[str, Any],
          month: tuple[datetime, datetime], toolkit: bool) -> dict[int, Fate]:
    """Each appointment in the month: cancels (when), does not turn up, or comes.
    Drawn in the same order with the same numbers in both modes."""
    start, end = month
    out: dict[int, Fate] = {}
    for a in appointments:
        u, lead_u, v, w = rng.random(), rng.random(), rng.random(), rng.random()
        if not start <= a.starts_at < end:
            continue
        if u < r["cancel_rate"]:
            acc = 0.0
            for share, low, high in r["cancel_lead_hours"]:
                acc += share
                if lead_u <= acc:
                    hours = low + (high - low) * v
                    break
            out[a.id] = Fate(cancel_at=max(start, a.starts_at - timedelta(hours=hours)))
        elif u < r["cancel_rate"] + r["no_show_rate"]:
            if toolkit and v < r["two_way_sms_no_show_reduction"]:
                if w < r["avoided_no_show_cancels_ahead"]:
                    out[a.id] = Fate(cancel_at=max(
                        start, a.starts_at - timedelta(hours=48 + 24 * w)))
                # else: reminded, they come
            else:
                out[a.id] = Fate(no_show=True)
    return out


def willing(r: dict[str, Any], notice_hours: float) -> float:
    for up_to, share in r["willing_to_take_earlier"]:
        if notice_hours <= up_to:
            return float(share)
    return float(r["willing_to_take_earlier"][-1][1])


@dataclass
class Sim:
    db: Database
    rng: random.Random
    r: dict[str, Any]
    world: County_
    toolkit: bool
    policy: RefillPolicy
    month: tuple[datetime, datetime]
    events: list[tuple[datetime, int, str, Any]] = field(default_factory=list)
    seq: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def at(self, when: datetime, kind: str, payload: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, payload))

    def runtime(self, now: datetime) -> Runtime:
        config = DeliveryConfig(public_url=PUBLIC_URL, link_key=link_key(SECRET),
                                refill=self.policy)
        return Runtime(db=self.db, sms=None, contacts=None, config=config,  # type: ignore[arg-type]
                       clock=lambda: now)

    async def run(self, appointments: list[Booked], fate: dict[int, Fate]) -> None:
        by_id = {a.id: a for a in appointments}
        for appointment_id, f in fate.items():
            if f.cancel_at is not None:
                self.at(f.cancel_at, "cancel", by_id[appointment_id])
        end = self.month[1]
        while self.events:
            when, _, kind, payload = heapq.heappop(self.events)
            if when >= end:
                break
            await self._deliver(when)
            await getattr(self, "_" + kind)(when, payload)
            await self._deliver(when)
        await self._deliver(end)

    async def _deliver(self, now: datetime) -> None:
        """Every text due by ``now`` reaches the phone at once (the real
        delivery is measured elsewhere): what is sent is what the outbox
        wrote and did not cancel before it was due."""
        async with self.db.write() as session:
            await session.execute(
                update(Notification)
                .where(Notification.status == NotificationStatus.CREATED,
                       Notification.channel == Channel.SMS, Notification.send_after <= now)
                .values(status=NotificationStatus.SENDING, handed_over_at=now, status_at=now)
                .execution_options(synchronize_session=False))

    async def _cancel(self, now: datetime, a: Booked) -> None:
        try:
            await service.cancel(self.db, Actor.patient(a.patient_id), appointment_id=a.id,
                                 now=now)
        except BookingRefused:
            return  # moved earlier by an offer meanwhile
        self.counts["cancelled"] += 1
        if a.starts_at - now >= timedelta(hours=24):
            if self.toolkit:
                self.at(now + timedelta(seconds=5), "tick")
            else:
                self._maybe_phone(now, a.slot_id)

    def _maybe_phone(self, now: datetime, slot_id: int) -> None:
        if self.rng.random() < self.r["manual_backfill_rate"]:
            self.at(now + timedelta(hours=2), "phone", slot_id)

    async def _phone(self, now: datetime, slot_id: int) -> None:
        """The clinic phones someone who takes the freed time."""
        async with self.db.read() as session:
            slot = await session.get(Slot, slot_id)
            if slot is None or slot.status != SlotStatus.FREE or slot.starts_at <= now:
                return
            kind = (await session.execute(
                select(schedule_template_types.c.appointment_type_id)
                .where(schedule_template_types.c.template_id == slot.template_id))
                ).scalars().first()
        async with self.db.write() as session:
            child = kind == self.world.types["child-exam"].id
            [patient_id] = await _insert(session, Patient, [dict(
                identity_hash=os.urandom(32), identity_encrypted=b"", given_name="Sim",
                family_name="Ringt", birth_date=date(2015, 6, 1) if child else date(1975, 6, 1),
                mobile=f"+4748{self.seq:06d}", preferred_language="nb",
                confidential_address="none", created_at=now)])
        staff = Actor.staff("outcome", set(self.world.clinic_ids))
        try:
            await service.book(self.db, staff, patient_id=patient_id, slot_id=slot_id,
                               appointment_type_id=kind or 0, now=now)
            self.counts["phoned_in"] += 1
        except BookingRefused:
            pass

    async def _tick(self, now: datetime, _: Any = None) -> None:
        runtime = self.runtime(now)
        async with self.db.write() as session:  # what the rounds look like before
            before = set((await session.execute(
                select(RefillOffer.id))).scalars())
        await refill.run(runtime, now)
        async with self.db.read() as session:
            new = list((await session.execute(
                select(RefillOffer, Slot.starts_at).join(Slot, Slot.id == RefillOffer.slot_id)
                .where(RefillOffer.id.not_in(before or {-1})))).all())
            closed = list((await session.execute(
                select(Slot.id, Slot.starts_at).join(
                    refill_rounds, refill_rounds.c.slot_id == Slot.id)
                .where(refill_rounds.c.closed_at == now,
                       refill_rounds.c.status.in_(["exhausted", "too_late"])))).all())
            next_at = (await session.execute(
                select(func.min(refill_rounds.c.next_at))
                .where(refill_rounds.c.status == "open"))).scalar()
        for offer, starts_at in new:
            self.counts["offers"] += 1
            notice = (starts_at - now).total_seconds() / 3600
            if self.rng.random() < willing(self.r, notice) * self.r["reply_within_offer"]:
                delay = self.rng.random() * 0.9 * self.policy.offer_minutes
                self.at(now + timedelta(minutes=delay), "accept", offer)
        for slot_id, starts_at in closed:
            if starts_at - now >= timedelta(hours=24):
                self._maybe_phone(now, slot_id)
        if next_at is not None:
            self.at(max(next_at, now + timedelta(seconds=1)), "tick")

    async def _accept(self, now: datetime, offer: RefillOffer) -> None:
        from booking.refill import accept

        try:
            await accept(self.db, Actor.patient(offer.patient_id), offer_id=offer.id, now=now)
            self.counts["accepted"] += 1
            self.at(now + timedelta(seconds=5), "tick")  # the old slot is offered on
        except BookingRefused:
            self.counts["too_late_to_accept"] += 1


refill_rounds = RefillRound.__table__


async def join_waitlist(db: Database, rng: random.Random, r: dict[str, Any],
                        appointments: list[Booked], world: County_, month_start: datetime,
                        ) -> int:
    """``waitlist_join_rate`` of those with an appointment two weeks or more
    into the month ask for an earlier time (their own clinic, any day, 24 h)."""
    rows = []
    for a in appointments:
        if rng.random() < r["waitlist_join_rate"] and a.starts_at >= month_start + timedelta(
                days=14):
            rows.append(dict(
                patient_id=a.patient_id, appointment_id=a.id,
                appointment_type_id=(world.types["child-exam"] if a.child
                                     else world.types["adult-exam"]).id,
                clinic_ids=world.clinic_ids, weekdays=[], notice_hours=24,
                status="waiting", created_at=month_start - timedelta(
                    hours=1 + rng.random() * 24 * 14),
                created_by_kind="patient", created_by=f"patient:{a.patient_id}"))
    async with db.write() as session:
        for i in range(0, len(rows), 500):
            await _insert(session, WaitlistEntry, rows[i:i + 500])
    return len(rows)


def segment_table(clinic_name: str) -> dict[str, int]:
    """Segments of each kind of text in Bokmål (to a patient themself)."""
    starts = datetime(2030, 9, 18, 8, 45, tzinfo=UTC)  # a long weekday and month
    links = Links(f"{PUBLIC_URL}/t/AAAAAAAAAAAA", f"{PUBLIC_URL}/t/AAAAAAAAAAAA.ics",
                  f"{PUBLIC_URL}/t/AAAAAAAAAAAA/kart")
    table = {p.value: count_segments(render(p, Audience.SELF, "nb", MessageContext(
        clinic_name, starts, links)).body).segments
        for p in (Purpose.CONFIRMATION, Purpose.INNKALLING, Purpose.CHANGE,
                  Purpose.CANCELLATION, Purpose.REMINDER)}
    for purpose in (Purpose.REFILL_OFFER, Purpose.REFILL_TAKEN):
        table[purpose.value] = count_segments(render_refill(
            purpose, Audience.SELF, "nb", clinic=clinic_name, starts_at=starts, code="4821",
            url=f"{PUBLIC_URL}/ledig/AAAAAAAAAAAA", minutes=30).body).segments
    return table


async def outcome(directory: str, toolkit: bool, args: argparse.Namespace,
                  r: dict[str, Any]) -> dict[str, Any]:
    db = await fresh(directory, "on" if toolkit else "off")
    previous = outbox.subscribe()
    try:
        rng = random.Random(args.seed)
        today = date.fromisoformat(args.month_start) - timedelta(days=14)
        month_start = datetime.combine(monday_after(today + timedelta(days=13)),
                                       datetime.min.time(), tzinfo=UTC)
        month = (month_start, month_start + timedelta(days=args.days))
        world = await county_world(db, today, args.clinics, weeks=10)
        appointments = await book_ahead(db, rng, world, r, month_start - timedelta(days=14))
        drawn = fates(random.Random(args.seed + 1), appointments, r, month, toolkit)
        waiting = (await join_waitlist(db, random.Random(args.seed + 2), r, appointments, world,
                                       month_start) if toolkit else 0)
        policy = RefillPolicy(offer_minutes=args.offer_minutes, wave_size=args.wave_size)
        sim = Sim(db, random.Random(args.seed + 3), r, world, toolkit, policy, month)
        started = time.perf_counter()
        await sim.run(appointments, drawn)
        elapsed = time.perf_counter() - started
        return await measure(db, sim, appointments, drawn, month, world, waiting, elapsed)
    finally:
        outbox.set_dispatcher(None)
        from booking import events

        events.set_listener(previous)
        await db.dispose()


async def measure(db: Database, sim: Sim, appointments: list[Booked], drawn: dict[int, Fate],
                  month: tuple[datetime, datetime], world: County_, waiting: int,
                  elapsed: float) -> dict[str, Any]:
    start, end = month
    async with db.read() as session:
        live = (await session.execute(
            select(Appointment.id, Appointment.patient_id, Appointment.starts_at,
                   Appointment.ends_at, Appointment.replaces_id)
            .where(Appointment.status.in_(["booked", "confirmed"]),
                   Appointment.starts_at >= start, Appointment.starts_at < end))).all()
        freed = (await session.execute(
            select(BookingEvent.slot_id, BookingEvent.occurred_at, Slot.starts_at, Slot.status)
            .join(Slot, Slot.id == BookingEvent.slot_id)
            .where(BookingEvent.kind == "slot_freed", Slot.starts_at >= start,
                   Slot.starts_at < end))).all()
        rows = (await session.execute(
            select(Notification.purpose, Notification.appointment_id, func.count())
            .where(Notification.channel == Channel.SMS,
                   Notification.handed_over_at.is_not(None),
                   Notification.handed_over_at >= start, Notification.handed_over_at <= end)
            .group_by(Notification.purpose, Notification.appointment_id))).all()
        offers = Counter((await session.execute(select(RefillOffer.status))).scalars())
    no_show_ids = {a for a, f in drawn.items() if f.no_show}
    due = sum((e - s).total_seconds() / 60 for _, _, s, e, _ in live)
    missed = sum((e - s).total_seconds() / 60 for i, _, s, e, _ in live if i in no_show_ids)
    ahead = {(slot_id) for slot_id, at, starts, _ in freed if starts - at >= timedelta(hours=24)}
    status_of = {slot_id: status for slot_id, _, _, status in freed}
    refilled = sum(1 for slot_id in ahead if status_of[slot_id] == SlotStatus.BOOKED)
    seg = segment_table(world.clinic_name)
    segments = Counter[str]()
    with_rows = {appointment_id for _, appointment_id, _ in rows}
    for purpose, _, n in rows:
        segments[purpose] += seg.get(purpose, 1) * n
    # The outbox writes reminders when it books; the month's appointments
    # booked ahead in bulk have none, so count theirs as it would: two each.
    bulk_live = [i for i, _, _, _, replaces in live if replaces is None and i not in with_rows]
    segments["reminder"] += 2 * seg["reminder"] * len(bulk_live)
    return {
        "toolkit": "on" if sim.toolkit else "off",
        "appointments_due": len(live),
        "no_show_share_of_clinical_time": missed / due if due else 0.0,
        "freed_24h_ahead": len(ahead),
        "refilled_24h_ahead": refilled,
        "refilled_share": refilled / len(ahead) if ahead else 0.0,
        "sms_segments": sum(segments.values()),
        "sms_segments_by_purpose": dict(sorted(segments.items())),
        "waitlist_entries": waiting,
        "offers": dict(offers),
        "events": dict(sim.counts),
        "simulated_in_seconds": round(elapsed, 1),
    }


# --- latency ------------------------------------------------------------------

@dataclass
class ClockedSms:
    """An SMS provider in memory that notes when each text arrived."""

    arrived: dict[int, float] = field(default_factory=dict)

    async def send(self, *, notification_id: int, to_e164: str, body: str,
                   validity_seconds: int) -> SmsResult:
        self.arrived.setdefault(notification_id, time.monotonic())
        return SmsResult(SendOutcome.ACCEPTED, provider_ref=f"SM{notification_id:032d}",
                         status="sending")

    async def lookup(self, **_: Any) -> SmsResult | None:
        return None

    async def aclose(self) -> None:
        return None


async def latency(directory: str, trials: int) -> dict[str, Any]:
    """Cancellation → refill offer handed over, beside booking → confirmation
    handed over, through the in-process runner on the real clock."""
    db = await fresh(directory, "latency")
    previous = outbox.subscribe()
    sms = ClockedSms()
    now = datetime.now(UTC)
    today = now.date()
    world = await county_world(db, today, 1, weeks=3)
    async with db.write() as session:  # always inside sending hours for this measurement
        await session.execute(update(County).values(
            quiet_hours={"send_from": "00:00", "send_until": "23:59"}))
    appointments = await book_ahead(db, random.Random(5), world, {"fill_rate": 0.95},
                                    now - timedelta(days=1))
    ahead = [a for a in appointments if a.starts_at > now + timedelta(days=2)]
    ahead.sort(key=lambda a: a.starts_at)
    cancel, waiting = ahead[:trials], ahead[-3 * trials:]
    async with db.write() as session:
        await _insert(session, WaitlistEntry, [dict(
            patient_id=a.patient_id, appointment_id=a.id,
            appointment_type_id=(world.types["child-exam"] if a.child
                                 else world.types["adult-exam"]).id,
            clinic_ids=world.clinic_ids, weekdays=[], notice_hours=24, status="waiting",
            created_at=now - timedelta(days=1), created_by_kind="patient",
            created_by=f"patient:{a.patient_id}") for a in waiting])
        # Times nobody holds, for the baseline bookings.
        free = list((await session.execute(
            select(Slot.id, schedule_template_types.c.appointment_type_id)
            .join(schedule_template_types,
                  schedule_template_types.c.template_id == Slot.template_id)
            .where(Slot.status == SlotStatus.FREE, Slot.released.is_(True),
                   Slot.starts_at > now + timedelta(days=1),
                   schedule_template_types.c.appointment_type_id.in_(
                       [world.types["adult-exam"].id]))
            .limit(trials))).all())
    runtime = Runtime(db=db, sms=sms, contacts=ProfileDirectory(db),
                      config=DeliveryConfig(public_url=PUBLIC_URL, link_key=link_key(SECRET),
                                            refill=RefillPolicy(wave_size=1)))
    runner = InProcessRunner(runtime)
    await runner.start()
    offer_s: list[float] = []
    confirm_s: list[float] = []
    try:
        for a, (slot_id, type_id) in zip(cancel, free, strict=False):
            started = time.monotonic()
            await service.cancel(db, Actor.patient(a.patient_id), appointment_id=a.id)
            offer_s.append(await _handed(db, sms, started, Purpose.REFILL_OFFER,
                                         lambda a=a: RefillOffer.slot_id == a.slot_id))
            async with db.write() as session:
                [patient_id] = await _insert(session, Patient, [dict(
                    identity_hash=os.urandom(32), identity_encrypted=b"", given_name="Sim",
                    family_name="Ny", birth_date=date(1975, 6, 1),
                    mobile=f"+4747{slot_id:06d}", preferred_language="nb",
                    confidential_address="none", created_at=now)])
            started = time.monotonic()
            booked = await service.book(
                db, Actor.staff("latency", set(world.clinic_ids)), patient_id=patient_id,
                slot_id=slot_id, appointment_type_id=type_id)
            confirm_s.append(await _handed(db, sms, started, Purpose.CONFIRMATION,
                                           lambda b=booked: b.appointment.id))
    finally:
        await runner.stop()
        from booking import events

        events.set_listener(previous)
        await db.dispose()
    return {"trials": len(offer_s), "offer_seconds": offer_s, "confirmation_seconds": confirm_s}


async def _handed(db: Database, sms: ClockedSms, started: float, purpose: Purpose,
                  which: Any, within: float = 120.0) -> float:
    while time.monotonic() - started < within:
        async with db.read() as session:
            if purpose is Purpose.REFILL_OFFER:
                offer_ids = list((await session.execute(
                    select(RefillOffer.id).where(which()))).scalars())
                ids = list((await session.execute(select(Notification.id).where(
                    Notification.purpose == purpose,
                    Notification.offset_minutes.in_(offer_ids or [-1])))).scalars())
            else:
                ids = list((await session.execute(select(Notification.id).where(
                    Notification.purpose == purpose, Notification.channel == Channel.SMS,
                    Notification.appointment_id == which()))).scalars())
        got = [sms.arrived[i] for i in ids if i in sms.arrived]
        if got:
            return min(got) - started
        await asyncio.sleep(0.05)
    return float("inf")


# --- report ---------------------------------------------------------------------

def pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def report(off: dict[str, Any], on: dict[str, Any], lat: dict[str, Any] | None) -> str:
    lines = ["Outcome of a simulated county month (benchmarks/data/behaviour.json)", "",
             f"{'':44}{'toolkit off':>14}{'toolkit on':>14}"]

    def row(label: str, key: str, fmt: Any = str) -> None:
        lines.append(f"{label:44}{fmt(off[key]):>14}{fmt(on[key]):>14}")

    row("Appointments due in the month", "appointments_due")
    row("No-shows, share of clinical time", "no_show_share_of_clinical_time", pct)
    row("Slots freed 24 h or more ahead", "freed_24h_ahead")
    row("  of those refilled", "refilled_24h_ahead")
    row("  share refilled (goal >= 80 %)", "refilled_share", pct)
    row("SMS segments sent", "sms_segments")
    row("Waitlist entries", "waitlist_entries")
    lines.append("")
    lines.append(f"Offers (on): {on['offers']}; events: off {off['events']}, on {on['events']}")
    lines.append(f"Segments by purpose (on): {on['sms_segments_by_purpose']}")
    if lat is not None and lat["trials"]:
        o, c = lat["offer_seconds"], lat["confirmation_seconds"]
        mo, mc = statistics.median(o), statistics.median(c)
        lines += ["", "Latency in sending hours (in-process runner, real clock; goal <= 60 s):",
                  f"  cancellation -> refill offer handed over: median {mo:.2f} s,"
                  f" max {max(o):.2f} s ({len(o)} trials)",
                  f"  baseline, booking -> confirmation handed over: median {mc:.2f} s,"
                  f" max {max(c):.2f} s",
                  f"  ratio (median): {mo / max(mc, 1e-6):.1f}x"]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.outcome",
                                     description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--clinics", type=int, default=2,
                        help="clinics of the county simulated (default 2)")
    parser.add_argument("--month-start", default="2030-09-02",
                        help="the month simulated starts the Monday after this day + 13 days")
    parser.add_argument("--days", type=int, default=28,
                        help="length of the simulated month (default 28; fewer for a smoke run)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--wave-size", type=int, default=3)
    parser.add_argument("--offer-minutes", type=int, default=30)
    parser.add_argument("--latency-trials", type=int, default=5,
                        help="cancellations timed on the real clock (0: skip)")
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> int:
    r = rates()
    with tempfile.TemporaryDirectory(prefix="tanntid-outcome-") as directory:
        off = await outcome(directory, False, args, r)
        on = await outcome(directory, True, args, r)
        lat = await latency(directory, args.latency_trials) if args.latency_trials else None
    print(report(off, on, lat))
    if args.json:
        args.json.write_text(json.dumps({"off": off, "on": on, "latency": lat}, indent=2,
                                        default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
