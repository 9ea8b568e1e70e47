"""Calendar files, parsed back with icalendar: one event per chain of
changes (stable UID, growing SEQUENCE), Oslo wall-clock times with a correct
VTIMEZONE across daylight-saving changes, cancellation, minimal content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from booking import service
from booking.audit import Actor
from booking.calendar import build_calendar, calendar_for_chain, vtimezone
from booking.models import Appointment, Clinic
from booking.statuses import AppointmentStatus
from core.db import Database
from tests import factories as f
from tests.booking.booking_world import World, make_world

OSLO = ZoneInfo("Europe/Oslo")
HOST = "tanntid.example"
#: Friday before the end of summer time; the change moves to the Monday after.
FRIDAY_10 = datetime(2026, 10, 23, 10, 0, tzinfo=OSLO)  # 08:00 UTC (CEST, +02:00)
MONDAY_10 = datetime(2026, 10, 26, 10, 0, tzinfo=OSLO)  # 09:00 UTC (CET, +01:00)
NOW = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
BOKMAL = {"Dentist: %(clinic)s": "Tannlege: %(clinic)s"}


def bokmal(message: str) -> str:
    return BOKMAL.get(message, message)


@dataclass
class DstWorld:
    world: World
    monday_slot_id: int


async def dst_world(db: Database) -> DstWorld:
    world = await make_world(db, slot_count=2, start=FRIDAY_10.astimezone(UTC))
    async with db.write() as s:
        monday = await f.slot(s, world.chair, MONDAY_10.astimezone(UTC), world.template)
    return DstWorld(world, monday.id)


async def book_friday(db: Database, w: World) -> Appointment:
    outcome = await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                                 slot_id=w.slots[0].id, appointment_type_id=w.exam.id,
                                 idempotency_key="calendar-1", now=NOW)
    return outcome.appointment


async def ics(db: Database, chain_id: int, locale: str = "nb") -> tuple[bytes, Any]:
    """The file and its parse (``Any``: icalendar types a property as any of
    its value classes; the tests assert which one it is)."""
    content = await calendar_for_chain(db, chain_id, locale=locale, host=HOST,
                                       gettext=bokmal, now=NOW)
    assert content is not None
    return content, Calendar.from_ical(content)


def only_event(calendar: Any) -> Any:
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


async def test_a_booking_is_published_with_oslo_time_and_minimal_content(db: Database) -> None:
    d = await dst_world(db)
    appointment = await book_friday(db, d.world)
    content, calendar = await ics(db, appointment.id)

    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["VERSION"] == "2.0"
    event = only_event(calendar)
    assert event["UID"] == f"appointment-{appointment.id}@{HOST}"
    assert event["SEQUENCE"] == 1
    assert event["STATUS"] == "CONFIRMED"
    assert event["DTSTAMP"].dt == NOW
    assert event["DTSTART"].params["TZID"] == "Europe/Oslo"
    assert event["DTSTART"].dt == FRIDAY_10
    assert event["DTSTART"].dt.utcoffset() == timedelta(hours=2)
    assert event["DTEND"].dt == FRIDAY_10 + timedelta(minutes=30)
    assert b"DTSTART;TZID=Europe/Oslo:20261023T100000\r\n" in content
    assert b"DTEND;TZID=Europe/Oslo:20261023T103000\r\n" in content
    clinic = d.world.clinic
    assert event["SUMMARY"] == f"Tannlege: {clinic.name}"
    assert event["SUMMARY"].params["LANGUAGE"] == "nb"
    assert event["LOCATION"] == f"{clinic.name}, Storgata 1, 0155 Oslo"
    assert (event["GEO"].latitude, event["GEO"].longitude) == (59.91, 10.75)


async def test_the_file_holds_nothing_about_the_patient_or_the_treatment(
        db: Database) -> None:
    d = await dst_world(db)
    appointment = await book_friday(db, d.world)
    content, calendar = await ics(db, appointment.id)
    text = content.decode()
    for private in ("Kari", "Nordmann", "Undersøkelse", "Examination", "adult-exam",
                    "1980", "patient"):
        assert private not in text
    event = only_event(calendar)
    assert set(event) == {"UID", "DTSTAMP", "SEQUENCE", "DTSTART", "DTEND", "SUMMARY",
                          "LOCATION", "GEO", "STATUS", "TRANSP"}


async def test_a_change_across_the_end_of_summer_time_keeps_uid_and_wall_time(
        db: Database) -> None:
    d = await dst_world(db)
    booked = await book_friday(db, d.world)
    _, before = await ics(db, booked.id)
    changed = (await service.change(db, Actor.patient(d.world.adult.id),
                                    appointment_id=booked.id, new_slot_id=d.monday_slot_id,
                                    now=NOW)).appointment
    assert changed.id != booked.id and changed.chain_id == booked.id

    content, after = await ics(db, booked.id)
    old, new = only_event(before), only_event(after)
    assert new["UID"] == old["UID"] == f"appointment-{booked.id}@{HOST}"
    assert (old["SEQUENCE"], new["SEQUENCE"]) == (1, 2)
    assert after["METHOD"] == "PUBLISH" and new["STATUS"] == "CONFIRMED"
    # Both at 10:00 on the wall clock; one hour further apart in UTC.
    assert new["DTSTART"].dt == MONDAY_10
    assert b"DTSTART;TZID=Europe/Oslo:20261026T100000\r\n" in content
    assert old["DTSTART"].dt.utcoffset() == timedelta(hours=2)
    assert new["DTSTART"].dt.utcoffset() == timedelta(hours=1)
    assert new["DTSTART"].dt.astimezone(UTC) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    assert old["DTSTART"].dt.astimezone(UTC) == datetime(2026, 10, 23, 8, 0, tzinfo=UTC)


async def test_a_cancellation_after_a_change_cancels_the_same_event(db: Database) -> None:
    d = await dst_world(db)
    booked = await book_friday(db, d.world)
    actor = Actor.patient(d.world.adult.id)
    changed = (await service.change(db, actor, appointment_id=booked.id,
                                    new_slot_id=d.monday_slot_id, now=NOW)).appointment
    cancelled = (await service.cancel(db, actor, appointment_id=changed.id,
                                      now=NOW)).appointment
    assert cancelled.status == AppointmentStatus.CANCELLED

    _, calendar = await ics(db, booked.id)
    assert calendar["METHOD"] == "CANCEL"
    event = only_event(calendar)
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == f"appointment-{booked.id}@{HOST}"
    assert event["SEQUENCE"] == 3
    assert event["DTSTART"].dt == MONDAY_10


async def test_a_cancellation_of_an_unchanged_booking(db: Database) -> None:
    d = await dst_world(db)
    booked = await book_friday(db, d.world)
    await service.cancel(db, Actor.patient(d.world.adult.id), appointment_id=booked.id,
                         now=NOW)
    _, calendar = await ics(db, booked.id)
    event = only_event(calendar)
    assert (calendar["METHOD"], event["STATUS"], event["SEQUENCE"]) == (
        "CANCEL", "CANCELLED", 2)
    assert event["DTSTART"].dt == FRIDAY_10


async def test_an_unknown_chain_has_no_calendar(db: Database) -> None:
    assert await calendar_for_chain(db, 10**9, locale="nb", host=HOST) is None


def test_the_file_has_a_vtimezone_with_both_observances() -> None:
    appointment = Appointment(id=7, chain_id=7, version=4, status=AppointmentStatus.BOOKED,
                              starts_at=FRIDAY_10.astimezone(UTC),
                              ends_at=FRIDAY_10.astimezone(UTC) + timedelta(minutes=45))
    clinic = Clinic(name="Tannklinikk", street_address="Gate 2", postal_code="9008",
                    postal_town="Tromsø", latitude=69.65, longitude=18.96)
    calendar: Any = Calendar.from_ical(build_calendar(appointment, clinic, host=HOST,
                                                      locale="en", now=NOW))
    event = only_event(calendar)
    assert event["SUMMARY"] == "Dentist: Tannklinikk"  # untranslated without a gettext
    assert event["SUMMARY"].params["LANGUAGE"] == "en"
    assert event["SEQUENCE"] == 4
    (zone,) = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == "Europe/Oslo"
    onsets = {(sub.name, sub["DTSTART"].dt) for sub in zone.subcomponents}
    assert ("DAYLIGHT", datetime(2026, 3, 29, 2, 0)) in onsets
    assert ("STANDARD", datetime(2026, 10, 25, 3, 0)) in onsets
    assert {sub.name for sub in zone.subcomponents} == {"STANDARD", "DAYLIGHT"}


def _offsets_by_the_rfc(zone: Any) -> list[tuple[datetime, timedelta]]:
    """(onset in UTC, offset from then on), read as RFC 5545 §3.6.5 says:
    each onset is a local time in the offset in force before it."""
    changes: list[tuple[datetime, timedelta]] = []
    for observance in zone.subcomponents:
        before = observance["TZOFFSETFROM"].td
        after = observance["TZOFFSETTO"].td
        onsets = [observance["DTSTART"].dt]
        rdates = observance.get("RDATE")
        for rdate in rdates if isinstance(rdates, list) else [rdates] if rdates else []:
            onsets.extend(value.dt for value in rdate.dts)
        changes.extend(((onset - before).replace(tzinfo=UTC), after) for onset in onsets)
    return sorted(changes)


def test_the_vtimezone_agrees_with_the_tz_database_every_half_hour() -> None:
    first, last = date(2024, 1, 1), date(2031, 1, 1)
    zone: Any = Calendar.from_ical(vtimezone(OSLO, first, last).to_ical())
    changes = _offsets_by_the_rfc(zone)
    assert len(changes) == 1 + 2 * 7  # the opening observance, then two a year
    parsed = zone.to_tz()  # and as icalendar reads it back
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    wrong = []
    while moment < datetime(2031, 1, 1, tzinfo=UTC) - timedelta(days=1):
        expected = moment.astimezone(OSLO).utcoffset()
        by_rfc = [offset for onset, offset in changes if onset <= moment][-1]
        if by_rfc != expected or moment.astimezone(parsed).utcoffset() != expected:
            wrong.append(moment)
        moment += timedelta(minutes=30)
    assert wrong == []


def test_summer_time_starts_at_two_and_ends_at_three_local() -> None:
    zone: Any = vtimezone(OSLO, date(2030, 1, 1), date(2031, 1, 1))
    by_name = {sub.name: sub for sub in zone.subcomponents if sub["DTSTART"].dt.month != 1}
    daylight, standard = by_name["DAYLIGHT"], by_name["STANDARD"]
    assert daylight["DTSTART"].dt == datetime(2030, 3, 31, 2, 0)
    assert (daylight["TZOFFSETFROM"].td, daylight["TZOFFSETTO"].td) == (
        timedelta(hours=1), timedelta(hours=2))
    assert daylight["TZNAME"] == "CEST"
    assert standard["DTSTART"].dt == datetime(2030, 10, 27, 3, 0)
    assert (standard["TZOFFSETFROM"].td, standard["TZOFFSETTO"].td) == (
        timedelta(hours=2), timedelta(hours=1))
    assert standard["TZNAME"] == "CET"
