"""An appointment as an iCalendar file (RFC 5545) for the patient's own
calendar, reachable through a signed link in SMS and on pages.

One appointment chain is one calendar event: the ``UID`` comes from the chain
id, which survives every change, and ``SEQUENCE`` is the appointment's
version, which grows by one on every change and on cancellation (RFC 5546
§2.1.4: a higher sequence replaces what the calendar holds). A cancelled chain
gives ``METHOD:CANCEL`` and ``STATUS:CANCELLED``, so a client that ignores the
method still shows the event as cancelled.

Minimal content, because calendars sync to third parties: when, and where
(clinic name, address, coordinates). No treatment or appointment type, no
name (but a first name on a guardian's link, so that a parent of several
children can tell their events apart), nothing else about the patient. No
``ORGANIZER`` either: RFC 5546 lists one for PUBLISH and CANCEL, but clinics
have no mailbox to name, and the calendar clients we target take the file as
a published event without it.

Times are written as Europe/Oslo wall-clock times with a ``VTIMEZONE`` built
from the tz database (``zoneinfo``), so an appointment at 10:00 stays at 10:00
on either side of a daylight-saving change. icalendar's own
``Timezone.from_tzinfo`` (7.3) writes the onset of summer time as 03:00 where
RFC 5545 §3.6.5 wants the local time *before* the change (02:00, read with
TZOFFSETFROM), so the observances are built here, from the same source.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from booking import rules
from booking.models import Appointment, Clinic
from booking.reasons import N_
from booking.statuses import AppointmentStatus
from core.db import Database, utcnow
from core.locale import OSLO

PRODID: Final = "-//Tanntid//Tanntid appointments//EN"
SUMMARY: Final = N_("Dentist: %(clinic)s")
#: On a guardian's link the event says whose it is (first name only).
SUMMARY_FOR: Final = N_("Dentist, %(name)s: %(clinic)s")

Translate = Callable[[str], str]


def _untranslated(message: str) -> str:
    return message


# --- the time zone ----------------------------------------------------------

# Per process, correct by design: a pure function of the zone rules shipped
# with the code; every process computes the same answer.
@cache
def _transitions(zone: ZoneInfo, first: date, last: date
                 ) -> tuple[tuple[datetime, timedelta, timedelta, str, bool], ...]:
    """Each change of UTC offset in [first, last): (instant in UTC, offset
    before, offset after, name after, daylight-saving after). Zones that
    change twice within one day (none in Norway) would need a finer scan."""
    found = []
    moment = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC)
    before = moment.astimezone(zone).utcoffset()
    while moment < end:
        following = moment + timedelta(days=1)
        after = following.astimezone(zone).utcoffset()
        if after != before:
            # Bisect to the minute: low has the old offset, high the new one.
            low, high = moment, following
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) // 2
                middle = middle.replace(second=0, microsecond=0)
                if middle.astimezone(zone).utcoffset() == before:
                    low = middle
                else:
                    high = middle
            local = high.astimezone(zone)
            assert before is not None and after is not None
            found.append((high, before, after, local.tzname() or str(after),
                          bool(local.dst())))
            before = after
        moment = following
    return tuple(found)


def vtimezone(zone: ZoneInfo, first: date, last: date) -> Timezone:
    """A VTIMEZONE for ``zone`` that is right from ``first`` to ``last``.

    Each observance starts at its onset in local time as it was *before* the
    change (RFC 5545 §3.6.5: DTSTART read with TZOFFSETFROM); later onsets of
    the same observance are RDATEs. The first observance covers the start of
    the range."""
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    opening_offset = start.utcoffset()
    assert opening_offset is not None
    observances: dict[tuple[timedelta, timedelta, str, bool], list[datetime]] = {
        (opening_offset, opening_offset, start.tzname() or str(opening_offset),
         bool(start.dst())): [start.replace(tzinfo=None)],
    }
    for instant, before, after, name, daylight in _transitions(zone, first, last):
        onset = (instant + before).replace(tzinfo=None)
        observances.setdefault((before, after, name, daylight), []).append(onset)
    component = Timezone()
    component.add("tzid", zone.key)
    for (before, after, name, daylight), onsets in observances.items():
        observance = TimezoneDaylight() if daylight else TimezoneStandard()
        observance.add("dtstart", onsets[0])
        if onsets[1:]:
            observance.add("rdate", onsets[1:])
        observance.add("tzoffsetfrom", before)
        observance.add("tzoffsetto", after)
        observance.add("tzname", name)
        component.add_component(observance)
    return component


# --- the file ---------------------------------------------------------------

def event_uid(chain_id: int, host: str) -> str:
    """Stable for the whole chain of changes (RFC 5545 §3.8.4.7)."""
    if not host:
        raise ValueError("a host is needed for a globally unique UID")
    return f"appointment-{chain_id}@{host}"


def location_text(clinic: Clinic) -> str:
    return (f"{clinic.name}, {clinic.street_address}, "
            f"{clinic.postal_code} {clinic.postal_town}")


def event_status(appointment: Appointment) -> str:
    """``STATUS`` (RFC 5545 §3.8.1.11): TENTATIVE while the clinic's notice
    (innkalling) waits for the patient's answer, CONFIRMED once answered or
    when the patient booked the time themselves."""
    if appointment.status == AppointmentStatus.CANCELLED:
        return "CANCELLED"
    return "TENTATIVE" if rules.confirmation_requested(appointment) else "CONFIRMED"


def build_calendar(appointment: Appointment, clinic: Clinic, *, host: str, locale: str,
                   gettext: Translate = _untranslated, now: datetime | None = None,
                   name: str | None = None) -> bytes:
    """The iCalendar file for the latest ``appointment`` of its chain, at
    ``clinic``; text in ``locale`` through ``gettext``; ``name`` (a first
    name) in the title on a guardian's link."""
    now = now or utcnow()
    cancelled = appointment.status == AppointmentStatus.CANCELLED
    starts = appointment.starts_at.astimezone(OSLO)
    ends = appointment.ends_at.astimezone(OSLO)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    calendar.add_component(
        vtimezone(OSLO, date(starts.year, 1, 1), date(ends.year + 1, 1, 1)))

    event = Event()
    event.add("uid", event_uid(appointment.chain_id or appointment.id, host))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("sequence", appointment.version)
    event.add("dtstart", starts)
    event.add("dtend", ends)
    summary = (gettext(SUMMARY_FOR) % {"name": name, "clinic": clinic.name} if name
               else gettext(SUMMARY) % {"clinic": clinic.name})
    event.add("summary", summary, parameters={"LANGUAGE": locale})
    event.add("location", location_text(clinic))
    event.add("geo", (clinic.latitude, clinic.longitude))
    event.add("status", event_status(appointment))
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical


# --- from the database ------------------------------------------------------

async def latest_in_chain(db: Database, chain_id: int) -> Appointment | None:
    """The newest appointment of a chain of changes (highest version), with
    its clinic; a cancelled one too."""
    async with db.read() as session:
        return (
            await session.execute(
                select(Appointment)
                .options(selectinload(Appointment.clinic), selectinload(Appointment.patient))
                .where(or_(Appointment.chain_id == chain_id,
                           and_(Appointment.chain_id.is_(None), Appointment.id == chain_id)))
                .order_by(Appointment.version.desc(), Appointment.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()


async def calendar_for_chain(db: Database, chain_id: int, *, locale: str, host: str,
                             gettext: Translate = _untranslated,
                             now: datetime | None = None, named: bool = False
                             ) -> bytes | None:
    """The calendar file of a chain's latest appointment; None if no such
    chain. ``named``: the patient's first name goes in the title."""
    appointment = await latest_in_chain(db, chain_id)
    if appointment is None:
        return None
    return build_calendar(appointment, appointment.clinic, host=host, locale=locale,
                          gettext=gettext, now=now,
                          name=appointment.patient.given_name if named else None)
