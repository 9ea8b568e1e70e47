"""The dashboards' figures (notifications.figures) against a small world
counted by hand: two clinics in Oslo, one in Rogaland, appointments either
side of Oslo's week boundaries (the week of the autumn clock change among
them), cancellations at each notice, self-service and staff bookings, text
messages and Helsenorge messages in every outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking.models import Appointment
from core.db import Database
from core.locale import OSLO
from notifications.figures import last_weeks, weekly_figures
from notifications.models import Notification
from tests import factories

#: Wednesday of ISO week 47, 2026: the last of the twelve weeks (36 to 47).
NOW = datetime(2026, 11, 18, 9, 15, tzinfo=OSLO).astimezone(UTC)
PRICE = 60


def oslo(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


class World:
    def __init__(self, session) -> None:
        self.session = session

    async def setup(self) -> None:
        s = self.session
        self.oslo = await factories.county(s, code="03", name="Oslo")
        self.rogaland = await factories.county(s, code="11", name="Rogaland")
        self.a = await factories.clinic(s, self.oslo, slug="a")
        self.b = await factories.clinic(s, self.oslo, slug="b")
        self.c = await factories.clinic(s, self.rogaland, slug="c")
        self.chairs = {c.id: await factories.chair(s, c) for c in (self.a, self.b, self.c)}
        self.kind = await factories.appointment_type(s, self.oslo.id)
        self.patient = await factories.patient(s)

    async def appointment(self, clinic, starts_at: datetime, minutes: int, status: str,
                          source: str, created_at: datetime, *,
                          cancelled_at: datetime | None = None,
                          reason: str | None = None) -> Appointment:
        slot = await factories.slot(self.session, self.chairs[clinic.id], starts_at,
                                    minutes=minutes, status="booked")
        row = Appointment(
            patient_id=self.patient.id, clinic_id=clinic.id, chair_id=slot.chair_id,
            slot_id=slot.id, appointment_type_id=self.kind.id, starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes), status=status, source=source,
            created_by_kind="staff", created_by="staff:t", created_at=created_at,
            updated_at=created_at, cancelled_at=cancelled_at, cancellation_reason=reason)
        self.session.add(row)
        await self.session.flush()
        return row

    async def message(self, appointment: Appointment | None, *, status: str,
                      channel: str = "sms", purpose: str = "reminder", offset: int = 0,
                      handed_over_at: datetime | None = None,
                      attempted_at: datetime | None = None, segments: int | None = None,
                      status_at: datetime | None = None) -> None:
        self.session.add(Notification(
            appointment_id=appointment.id if appointment else None,
            appointment_version=1 if appointment else None, patient_id=self.patient.id,
            purpose=purpose, offset_minutes=offset, channel=channel,
            recipient_id=self.patient.id, recipient_role="patient", status=status,
            handed_over_at=handed_over_at, attempted_at=attempted_at, segments=segments,
            created_at=oslo(8, 1), status_at=status_at or handed_over_at or oslo(8, 1),
            due_at=oslo(8, 1), send_after=oslo(8, 1), expires_at=oslo(12, 1)))
        await self.session.flush()


async def build(db: Database) -> World:
    async with db.write() as session:
        w = World(session)
        await w.setup()
        a, b, c = w.a, w.b, w.c
        # Sunday 25 October 23:30 Oslo (after the clock went back): week 43.
        first = await w.appointment(a, oslo(10, 25, 23, 30), 60, "completed", "self",
                                    oslo(10, 1))
        # Monday 26 October 00:10 Oslo, still Sunday in UTC: week 44.
        second = await w.appointment(a, oslo(10, 26, 0, 10), 30, "no_show", "staff",
                                     oslo(10, 20))
        # Monday 19 October 00:00 Oslo (Sunday 22:00 UTC): the first minute of week 43.
        await w.appointment(a, oslo(10, 19, 0, 0), 45, "no_show", "guardian", oslo(10, 12))
        # Sunday 18 October 23:59 Oslo: the last minute of week 42.
        await w.appointment(a, oslo(10, 18, 23, 59), 30, "completed", "record_system",
                            oslo(10, 5))
        # Cancellations of week 45, by notice.
        await w.appointment(a, oslo(11, 3), 30, "cancelled", "self", oslo(10, 27),
                            cancelled_at=oslo(11, 3, 8), reason="patient")
        await w.appointment(a, oslo(11, 4), 30, "cancelled", "staff", oslo(10, 28),
                            cancelled_at=oslo(11, 1), reason="clinic")
        await w.appointment(a, oslo(11, 5), 30, "cancelled", "record_system", oslo(9, 1),
                            cancelled_at=oslo(10, 20))
        # A change: the old half is no cancellation; the new half is written in week 45.
        await w.appointment(a, oslo(11, 6), 30, "cancelled", "self", oslo(10, 26),
                            cancelled_at=oslo(11, 2), reason="changed")
        changed = await w.appointment(a, oslo(11, 6, 12), 30, "completed", "self",
                                      oslo(11, 2))
        # Exactly 24 hours' notice: one to seven days.
        await w.appointment(a, oslo(11, 10), 30, "cancelled", "guardian", oslo(11, 1),
                            cancelled_at=oslo(11, 9))
        # This week: one past, one ahead (counted, but no booked time yet).
        await w.appointment(a, oslo(11, 16), 30, "completed", "self", oslo(11, 10))
        ahead = await w.appointment(a, oslo(11, 19), 30, "booked", "staff", oslo(11, 17))
        # Before the twelve weeks.
        await w.appointment(a, oslo(8, 28), 30, "completed", "self", oslo(8, 1))
        # Another clinic of Oslo, and one of Rogaland.
        await w.appointment(b, oslo(10, 20), 60, "no_show", "staff", oslo(10, 1))
        elsewhere = await w.appointment(c, oslo(10, 20), 30, "no_show", "self", oslo(10, 1))

        # Sunday 23:59 Oslo (22:59 UTC) and Monday 00:01 Oslo (23:01 UTC, still Sunday).
        await w.message(first, status="delivered", handed_over_at=oslo(10, 25, 23, 59),
                        segments=2)
        await w.message(second, status="permanent-failure",
                        handed_over_at=oslo(10, 26, 0, 1), segments=1)
        # Never reached the provider: sent and failed, not charged.
        await w.message(second, status="technical-failure", offset=60,
                        attempted_at=oslo(10, 27), segments=1)
        # Sent before segments were recorded: one.
        await w.message(changed, status="delivered", handed_over_at=oslo(11, 2))
        await w.message(ahead, status="created")
        await w.message(elsewhere, status="delivered", handed_over_at=oslo(10, 20),
                        segments=3)
        await w.message(None, status="delivered", purpose="number_check",
                        handed_over_at=oslo(10, 20), segments=1)
        await w.message(first, status="delivered", channel="helsenorge", purpose="confirmation",
                        status_at=oslo(10, 20))
        await w.message(second, status="technical-failure", channel="helsenorge",
                        purpose="confirmation", status_at=oslo(10, 27))
        await w.message(ahead, status="cancelled", channel="helsenorge",
                        purpose="confirmation", status_at=oslo(11, 17))
        return w


def by_week(figures) -> dict[int, object]:
    return {row.week.number: row for row in figures.weeks}


async def test_a_clinics_weeks_match_the_hand_count(db: Database):
    w = await build(db)
    figures = await weekly_figures(db, county_id=w.oslo.id, clinic_id=w.a.id, now=NOW,
                                   price_per_segment_ore=PRICE)
    assert [row.week.number for row in figures.weeks] == list(range(36, 48))
    weeks = by_week(figures)
    expected = {
        # week: appointments, booked minutes, no-show minutes, no-shows
        42: (1, 30, 0, 0), 43: (2, 105, 45, 1), 44: (1, 30, 30, 1), 45: (1, 30, 0, 0),
        46: (0, 0, 0, 0), 47: (2, 30, 0, 0),
    }
    for number, row in weeks.items():
        assert (row.appointments, row.booked_minutes, row.no_show_minutes, row.no_shows) == \
            expected.get(number, (0, 0, 0, 0)), number
    assert weeks[43].no_show_share == pytest.approx(45 / 105)
    assert weeks[46].no_show_share is None
    cancellations = {n: (r.cancelled_under_24h, r.cancelled_1_to_7_days,
                         r.cancelled_over_7_days) for n, r in weeks.items() if r.cancellations}
    assert cancellations == {45: (1, 1, 1), 46: (0, 1, 0)}
    written = {n: (r.by_patients, r.by_staff) for n, r in weeks.items()
               if r.by_patients or r.by_staff}
    assert written == {36: (0, 1), 40: (1, 0), 41: (0, 1), 42: (1, 0), 43: (0, 1),
                       44: (3, 1), 45: (1, 0), 46: (1, 0), 47: (0, 1)}
    assert weeks[44].self_service_share == pytest.approx(3 / 4)
    sms = {n: (r.sms_sent, r.sms_delivered, r.sms_failed, r.sms_segments, r.sms_cost_ore)
           for n, r in weeks.items() if r.sms_sent}
    assert sms == {43: (1, 1, 0, 2, 120), 44: (2, 0, 2, 1, 60), 45: (1, 1, 0, 1, 60)}
    helsenorge = {n: (r.helsenorge_delivered, r.helsenorge_failed) for n, r in weeks.items()
                  if r.helsenorge_delivered or r.helsenorge_failed}
    assert helsenorge == {43: (1, 0), 44: (0, 1)}


async def test_the_county_adds_its_clinics_and_never_another_countys(db: Database):
    w = await build(db)
    county = by_week(await weekly_figures(db, county_id=w.oslo.id, now=NOW,
                                          price_per_segment_ore=PRICE))
    assert (county[43].appointments, county[43].booked_minutes,
            county[43].no_show_minutes) == (3, 165, 105)
    assert (county[40].by_patients, county[40].by_staff) == (1, 1)
    assert county[43].sms_sent == 1  # Rogaland's text and the number check are not Oslo's
    rogaland = by_week(await weekly_figures(db, county_id=w.rogaland.id, now=NOW,
                                            price_per_segment_ore=PRICE))
    assert (rogaland[43].appointments, rogaland[43].sms_segments) == (1, 3)
    # A clinic of another county gives nothing.
    other = await weekly_figures(db, county_id=w.oslo.id, clinic_id=w.c.id, now=NOW,
                                 price_per_segment_ore=PRICE)
    assert all(r.appointments == 0 and r.sms_sent == 0 for r in other.weeks)


def test_weeks_are_oslo_weeks_across_clock_changes_and_the_new_year():
    weeks = last_weeks(datetime(2026, 11, 18, 9, tzinfo=UTC))
    autumn = next(w for w in weeks if w.number == 43)
    assert autumn.ends_at - autumn.starts_at == timedelta(hours=169)
    assert autumn.starts_at == datetime(2026, 10, 18, 22, tzinfo=UTC)
    spring = next(w for w in last_weeks(datetime(2026, 4, 1, tzinfo=UTC)) if w.number == 13)
    assert spring.ends_at - spring.starts_at == timedelta(hours=167)
    # 00:30 on New Year's Day in Oslo is still 2026 in UTC; the week is 2026's 53rd.
    new_year = last_weeks(datetime(2026, 12, 31, 23, 30, tzinfo=UTC), 2)
    assert [w.label for w in new_year] == ["2026-W52", "2026-W53"]
    assert new_year[-1].ends_at == datetime(2027, 1, 3, 23, tzinfo=UTC)
