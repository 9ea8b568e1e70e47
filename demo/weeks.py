"""Twelve weeks of past appointments for the county dashboards.

For the counties that have a demo county administrator (Oslo and Rogaland),
every clinic gets a few appointments on each working day of the twelve weeks
up to the seed's moment (the dashboards' window, ``notifications.figures``),
written as they would stand today: most completed, some not attended, some
cancelled at various notice, booked by patients and guardians or by staff
and the record system, with the text messages and Helsenorge messages they
caused, delivered or failed as the provider reported (the fake Twilio makes
some fail the same way), their words and numbers already removed (older than
the retention period).

The rows are the record system's history, inserted in bulk so the seed stays
fast: they follow the booking rules (a slot of the chair's schedule per
appointment, the appointment type fitting the patient's age, self-service
only in released time) but have no audit entries of their own. The patients
are the generic demo patients (never the named ones who can log in).
Deterministic for one seed moment; made once per database.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import rules
from booking.models import (
    Appointment,
    AppointmentType,
    Chair,
    Clinic,
    County,
    Guardianship,
    Patient,
    ScheduleTemplate,
    Slot,
    schedule_template_types,
)
from core.db import Database
from core.locale import OSLO
from notifications.figures import WEEKS, last_weeks
from notifications.models import Notification, NotificationEvent

#: The counties with a county administrator among the local staff test users.
COUNTIES: Final = ("03", "11")
KEY_PREFIX: Final = "demo-weeks-"
#: Messages are removed from a row this long after it was sent (the default retention).
RETENTION: Final = timedelta(days=7)
REMINDER_BEFORE: Final = timedelta(days=1)


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


@dataclass(frozen=True)
class _Template:
    id: int
    chair_id: int
    weekday: int
    starts_at: time
    ends_at: time
    slot_minutes: int
    released: bool
    type_ids: frozenset[int]


@dataclass(frozen=True)
class _Person:
    id: int
    birth_date: Any
    mobile: str | None
    language: str | None
    guardian_id: int | None


@dataclass
class WeeksReport:
    slots: int = 0
    appointments: int = 0
    notifications: int = 0


async def seed_weeks(db: Database, *, now: datetime, year: int) -> WeeksReport:
    """The twelve weeks of history up to ``now``, unless the database has it
    already; what was made."""
    report = WeeksReport()
    async with db.write() as session:
        done = (await session.execute(select(Appointment.id).where(
            Appointment.idempotency_key.like(f"{KEY_PREFIX}%")).limit(1))).first()
        if done is not None:
            return report
        plan = await _Plan.load(session, now, year)
        await plan.write(session, report)
    return report


class _Plan:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.clinics: list[Clinic] = []
        self.templates: dict[int, list[_Template]] = defaultdict(list)  # by clinic
        self.types: dict[tuple[int, str], AppointmentType] = {}
        self.people: dict[int, list[_Person]] = defaultdict(list)  # by county
        self.taken: set[tuple[int, datetime]] = set()

    @classmethod
    async def load(cls, session: AsyncSession, now: datetime, year: int) -> _Plan:
        plan = cls(now)
        counties = {row.id: row.code for row in (await session.execute(
            select(County).where(County.code.in_(COUNTIES)))).scalars()}
        plan.clinics = list((await session.execute(
            select(Clinic).where(Clinic.county_id.in_(list(counties)))
            .order_by(Clinic.id))).scalars())
        clinic_ids = [c.id for c in plan.clinics]
        types_of: dict[int, set[int]] = defaultdict(set)
        for template_id, type_id in await session.execute(select(schedule_template_types)):
            types_of[template_id].add(type_id)
        for template, clinic_id in await session.execute(
                select(ScheduleTemplate, Chair.clinic_id)
                .join(Chair, Chair.id == ScheduleTemplate.chair_id)
                .where(Chair.clinic_id.in_(clinic_ids), Chair.active.is_(True))
                .order_by(ScheduleTemplate.id)):
            plan.templates[clinic_id].append(_Template(
                template.id, template.chair_id, template.weekday, template.starts_at,
                template.ends_at, template.slot_minutes, template.released,
                frozenset(types_of[template.id])))
        plan.types = {(t.county_id, t.code): t for t in (await session.execute(
            select(AppointmentType).where(AppointmentType.county_id.in_(list(counties)))
        )).scalars()}
        guardians = dict((await session.execute(
            select(Guardianship.child_id, Guardianship.guardian_id)
            .order_by(Guardianship.id))).all())
        for county_id, code in counties.items():
            rows = (await session.execute(
                select(Patient).where(Patient.address_key.like(f"demo-{year}-{code}-%"))
                .order_by(Patient.id))).scalars()
            plan.people[county_id] = [
                _Person(p.id, p.birth_date, p.mobile, p.preferred_language,
                        guardians.get(p.id)) for p in rows]
        first = last_weeks(now, WEEKS)[0].starts_at
        plan.taken = {(chair, start) for chair, start in await session.execute(
            select(Slot.chair_id, Slot.starts_at).where(
                Slot.clinic_id.in_(clinic_ids), Slot.starts_at >= first,
                Slot.starts_at < now))}
        return plan

    async def write(self, session: AsyncSession, report: WeeksReport) -> None:
        appointments: list[dict[str, Any]] = []
        slots: list[dict[str, Any]] = []
        for clinic in self.clinics:
            people = self.people[clinic.county_id]
            if not people or not self.templates[clinic.id]:
                continue
            for index, week in enumerate(last_weeks(self.now, WEEKS)):
                rng = random.Random(f"tanntid-demo-weeks:{clinic.slug}:{week.label}")
                # Each clinic's week has its own no-show rate; patients book
                # more of their appointments themselves as the weeks go by.
                no_show_rate = rng.uniform(0.02, 0.11)
                self_share = 0.30 + 0.02 * index + rng.uniform(-0.05, 0.05)
                for day in range(5):
                    for n in range(rng.randint(1, 3)):
                        made = self._appointment(rng, clinic, week.monday + timedelta(days=day),
                                                 people, no_show_rate, self_share,
                                                 f"{KEY_PREFIX}{clinic.id}-{week.label}-{day}{n}")
                        if made is not None:
                            slots.append(made[0])
                            appointments.append(made[1])
        if not appointments:
            return
        # Plain executemany (no RETURNING, which the ORM would do row by row);
        # the new rows are found again by their unique keys.
        first = min(row["starts_at"] for row in slots)
        await session.execute(insert(_table(Slot)), slots)
        slot_of = {(chair, start): slot_id for slot_id, chair, start in await session.execute(
            select(Slot.id, Slot.chair_id, Slot.starts_at).where(
                Slot.clinic_id.in_([c.id for c in self.clinics]), Slot.starts_at >= first,
                Slot.starts_at < self.now))}
        extras = []
        for row in appointments:
            row["slot_id"] = slot_of[(row["chair_id"], row["starts_at"])]
            extras.append(row.pop("_extra"))
        await session.execute(insert(_table(Appointment)), appointments)
        id_of = dict((await session.execute(
            select(Appointment.idempotency_key, Appointment.id).where(
                Appointment.idempotency_key.like(f"{KEY_PREFIX}%")))).all())
        messages: list[dict[str, Any]] = []
        for row, extra in zip(appointments, extras, strict=True):
            messages.extend(self._messages(id_of[row["idempotency_key"]], row, extra))
        await session.execute(insert(_table(Notification)), messages)
        mine = list(id_of.values())
        notification_of = {}
        for offset in range(0, len(mine), 500):
            for nid, appointment_id, purpose, channel in await session.execute(
                    select(Notification.id, Notification.appointment_id, Notification.purpose,
                           Notification.channel)
                    .where(Notification.appointment_id.in_(mine[offset:offset + 500]))):
                notification_of[(appointment_id, purpose, channel)] = nid
        await session.execute(insert(_table(NotificationEvent)), [
            dict(notification_id=notification_of[(m["appointment_id"], m["purpose"],
                                                   m["channel"])],
                 occurred_at=m["status_at"], from_status="created", to_status=m["status"],
                 source="demo-history", reason=m["reason"], error_code=m["error_code"])
            for m in messages])
        report.slots += len(slots)
        report.appointments += len(appointments)
        report.notifications += len(messages)

    def _appointment(self, rng: random.Random, clinic: Clinic, day: Any,
                     people: list[_Person], no_show_rate: float, self_share: float,
                     key: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        person = rng.choice(people)
        age = rules.age_on(person.birth_date, day)
        codes = ("child-exam",) if age <= 18 else ("adult-exam", "adult-exam", "hygienist")
        kind = self.types.get((clinic.county_id, rng.choice(codes)))
        if kind is None:
            return None
        if not (kind.min_age <= age and (kind.max_age is None or age <= kind.max_age)):
            return None
        child = person.guardian_id is not None and age < 16
        by_patient = rng.random() < self_share
        templates = [t for t in self.templates[clinic.id]
                     if t.weekday == day.weekday() and kind.id in t.type_ids
                     and (t.released or not by_patient)]
        if not templates:
            return None
        template = rng.choice(templates)
        begin = datetime.combine(day, template.starts_at)
        end = datetime.combine(day, template.ends_at)
        steps = int((end - begin).total_seconds() // 60 // template.slot_minutes)
        if steps <= 0:
            return None
        local = begin + timedelta(minutes=template.slot_minutes * rng.randrange(steps))
        starts_at = local.replace(tzinfo=OSLO)
        starts_utc = starts_at.astimezone(self.now.tzinfo)
        ends_utc = starts_utc + timedelta(minutes=template.slot_minutes)
        if starts_utc >= self.now - timedelta(hours=1) or \
                (template.chair_id, starts_utc) in self.taken:
            return None
        self.taken.add((template.chair_id, starts_utc))
        if by_patient:
            source, kind_of_actor = ("guardian", "guardian") if child else ("self", "patient")
            actor = f"patient:{person.guardian_id if child else person.id}"
            lead = timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 12))
        elif rng.random() < 0.6:
            source, kind_of_actor, actor = "record_system", "record_system", "system:demo-journal"
            lead = timedelta(days=rng.randint(7, 28))
        else:
            source, kind_of_actor, actor = "staff", "staff", "staff:demo-reception"
            lead = timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 6))
        created_at = starts_utc - lead
        status, cancelled_at, reason = "completed", None, None
        draw = rng.random()
        if draw < 0.13:
            notice = rng.choices(
                (timedelta(hours=rng.randint(1, 23)), timedelta(days=rng.randint(1, 7)),
                 timedelta(days=rng.randint(8, 30))), weights=(35, 40, 25))[0]
            notice = min(notice, lead * 0.8)
            status, cancelled_at = "cancelled", starts_utc - notice
            reason = "patient" if rng.random() < 0.8 else "clinic"
        elif draw < 0.13 + no_show_rate:
            status = "no_show"
        slot = dict(clinic_id=clinic.id, chair_id=template.chair_id, template_id=template.id,
                    starts_at=starts_utc, ends_at=ends_utc,
                    status="free" if status == "cancelled" else "booked",
                    released=template.released, version=1)
        appointment = dict(
            patient_id=person.id, clinic_id=clinic.id, chair_id=template.chair_id,
            appointment_type_id=kind.id, starts_at=starts_utc, ends_at=ends_utc,
            status=status, source=source, created_by_kind=kind_of_actor, created_by=actor,
            on_behalf_of_id=person.id if source == "guardian" else None,
            created_at=created_at, updated_at=cancelled_at or ends_utc, version=1,
            confirmed_at=None, cancelled_at=cancelled_at,
            cancelled_by=(actor if reason == "patient" else "staff:demo-reception")
            if cancelled_at else None,
            cancellation_reason=reason, self_reschedules=0,
            clinic_issued=source == "record_system", idempotency_key=key,
            _extra=(rng.random(), person, rng.randint(0, 2**31)))
        return slot, appointment

    def _messages(self, appointment_id: int, row: dict[str, Any], extra: Any
                  ) -> list[dict[str, Any]]:
        _draw, person, seed = extra
        rng = random.Random(seed)
        recipient = person.guardian_id if row["source"] == "guardian" else person.id
        role = "guardian" if row["source"] == "guardian" else "patient"
        language = person.language or "nb"
        sms: list[tuple[str, int, datetime]] = [
            ("innkalling" if row["clinic_issued"] else "confirmation", 0, row["created_at"])]
        reminder = row["starts_at"] - REMINDER_BEFORE
        cancelled_at = row["cancelled_at"]
        if reminder > row["created_at"] and (cancelled_at is None or cancelled_at > reminder):
            sms.append(("reminder", int(REMINDER_BEFORE.total_seconds() // 60), reminder))
        if cancelled_at is not None:
            sms.append(("cancellation", 0, cancelled_at))
        rows = []
        if person.mobile is not None or role == "guardian":
            for purpose, offset, due in sms:
                rows.append(self._sms(rng, appointment_id, row, purpose, offset, due,
                                      recipient, role, language))
        for purpose, due in (("confirmation", row["created_at"]),
                             *((("cancellation", cancelled_at),) if cancelled_at else ())):
            accepted = rng.random() < 0.97
            at = due + timedelta(seconds=rng.randint(5, 90))
            rows.append(self._row(
                appointment_id, row, purpose, 0, "helsenorge", recipient=row["patient_id"],
                role="patient", due=due, status="delivered" if accepted else "technical-failure",
                reason=None if accepted else "provider_rejected", error_code=None,
                handed_over_at=at if accepted else None, attempted_at=at, status_at=at,
                segments=None, language=language))
        return rows

    def _sms(self, rng: random.Random, appointment_id: int, row: dict[str, Any], purpose: str,
             offset: int, due: datetime, recipient: int, role: str, language: str
             ) -> dict[str, Any]:
        sent = due + timedelta(seconds=rng.randint(2, 40))
        outcome = rng.choices(
            ("delivered", "temporary-failure", "permanent-failure", "technical-failure"),
            weights=(92, 3, 2, 3))[0]
        error = {"temporary-failure": 30003, "permanent-failure": 30005,
                 "technical-failure": None}.get(outcome)
        handed_over = None if outcome == "technical-failure" else sent
        status_at = sent + timedelta(seconds=rng.randint(3, 600))
        segments = 1 if purpose == "cancellation" else rng.choices((1, 2), weights=(35, 65))[0]
        if language == "se":
            segments = 2  # Northern Sami letters need UCS-2
        return self._row(
            appointment_id, row, purpose, offset, "sms", recipient=recipient, role=role,
            due=due, status=outcome,
            reason="retries_exhausted" if outcome == "technical-failure" else None,
            error_code=error, handed_over_at=handed_over, attempted_at=sent,
            status_at=status_at, segments=segments, language=language)

    def _row(self, appointment_id: int, row: dict[str, Any], purpose: str, offset: int,
             channel: str, *, recipient: int, role: str, due: datetime, status: str,
             reason: str | None, error_code: int | None, handed_over_at: datetime | None,
             attempted_at: datetime, status_at: datetime, segments: int | None,
             language: str) -> dict[str, Any]:
        return dict(
            appointment_id=appointment_id, appointment_version=1,
            patient_id=row["patient_id"], purpose=purpose, offset_minutes=offset,
            channel=channel, recipient_id=recipient, recipient_role=role, resend_no=0,
            status=status, reason=reason, error_code=error_code, language=language,
            template_id=f"{purpose}-{channel}", template_version=1, body=None, to_e164=None,
            segments=segments, created_at=min(due, row["created_at"]) if purpose != "reminder"
            else row["created_at"], due_at=due, send_after=due,
            expires_at=row["starts_at"], queued_at=due, claim_token=None, claimed_until=None,
            in_doubt=False, attempts=1, attempted_at=attempted_at, provider_ref=None,
            handed_over_at=handed_over_at, status_at=status_at,
            purged_at=min(self.now, attempted_at + RETENTION))
