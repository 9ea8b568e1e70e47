"""When notifications go: reminder due times, the county's sending window
(quiet hours outside it) and each message's validity.

Everything is computed in Europe/Oslo wall-clock time and stored in UTC:
"3 days before" a 09:00 appointment is 09:00 three calendar days earlier,
whatever the UTC offset did in between (the DST days, 2026-03-29 and
2026-10-25, are tested). Offsets that are not whole days are elapsed time
("2 hours before" is 2 real hours).

The sending window is configured per county in ``County.quiet_hours`` as
``{"send_from": "08:00", "send_until": "21:00"}`` (Oslo time; the default):
nothing is handed to the provider outside it, and the validity period given
to the provider ends when the window closes, so a message is never delivered
at night or after it has gone stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from core.locale import OSLO

DAY_MINUTES: Final = 24 * 60
#: 3 days and 1 day before (minutes), unless a ``ReminderPolicy`` says otherwise.
DEFAULT_REMINDER_OFFSETS: Final[tuple[int, ...]] = (3 * DAY_MINUTES, DAY_MINUTES)
DEFAULT_SEND_FROM: Final = time(8, 0)
DEFAULT_SEND_UNTIL: Final = time(21, 0)
#: The last reminder must be handed over this long before the start.
LAST_REMINDER_MARGIN: Final = timedelta(hours=2)
#: A reminder that would go this soon after the booking itself is left out:
#: the confirmation has just said the same.
REMINDER_MIN_LEAD: Final = timedelta(hours=2)
#: A message is only handed over with at least this much validity left.
MIN_VALIDITY: Final = timedelta(minutes=5)
#: When a due time must move earlier out of the night, it goes this long
#: before the window closes.
PULL_BACK_MARGIN: Final = timedelta(minutes=30)
#: The provider's limit for a validity period (Twilio: 36,000 s).
MAX_VALIDITY_SECONDS: Final = 36_000


def _parse_time(value: Any, default: time) -> time:
    if value is None:
        return default
    if isinstance(value, time):
        return value
    hours, _, minutes = str(value).partition(":")
    return time(int(hours), int(minutes or 0))


def local(moment: datetime) -> datetime:
    return moment.astimezone(OSLO)


def at_local(day: date, clock: time) -> datetime:
    """The UTC instant of ``clock`` on ``day`` in Oslo. A time that does not
    exist (the spring-forward hour) is read with the offset before the jump."""
    return datetime.combine(day, clock).replace(tzinfo=OSLO).astimezone(UTC)


@dataclass(frozen=True)
class SendingWindow:
    """Messages may be handed over from ``send_from`` (inclusive) until
    ``send_until`` (exclusive), Oslo wall-clock time, every day."""

    send_from: time = DEFAULT_SEND_FROM
    send_until: time = DEFAULT_SEND_UNTIL

    def __post_init__(self) -> None:
        if not self.send_from < self.send_until:
            raise ValueError("the sending window must start before it ends on the same day")

    @classmethod
    def from_county(cls, quiet_hours: Mapping[str, Any] | None) -> SendingWindow:
        quiet_hours = quiet_hours or {}
        return cls(_parse_time(quiet_hours.get("send_from"), DEFAULT_SEND_FROM),
                   _parse_time(quiet_hours.get("send_until"), DEFAULT_SEND_UNTIL))

    def is_open(self, moment: datetime) -> bool:
        clock = local(moment).time()
        return self.send_from <= clock < self.send_until

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` itself if the window is open then, else when it next opens."""
        if self.is_open(moment):
            return moment
        day = local(moment).date()
        opening = at_local(day, self.send_from)
        if opening > moment:
            return opening
        return at_local(day + timedelta(days=1), self.send_from)

    def closes_at(self, moment: datetime) -> datetime:
        """When the window open at ``moment`` closes (``moment`` must be inside it)."""
        return at_local(local(moment).date(), self.send_until)

    def last_close_before(self, moment: datetime) -> datetime:
        day = local(moment).date()
        closing = at_local(day, self.send_until)
        if closing <= moment:
            return closing
        return at_local(day - timedelta(days=1), self.send_until)


def reminder_due(starts_at: datetime, offset_minutes: int) -> datetime:
    """Whole days: the same Oslo wall-clock time that many calendar days
    earlier. Anything else: elapsed time."""
    if offset_minutes % DAY_MINUTES == 0:
        start = local(starts_at)
        day = start.date() - timedelta(days=offset_minutes // DAY_MINUTES)
        return at_local(day, start.time())
    return starts_at - timedelta(minutes=offset_minutes)


def place_in_window(due: datetime, window: SendingWindow, latest: datetime) -> datetime:
    """A due time inside the window: unchanged; in the night, moved forward to
    the next opening if that is not after ``latest``, else back to shortly
    before the previous closing."""
    if window.is_open(due):
        return due
    forward = window.next_open(due)
    if forward <= latest:
        return forward
    return window.last_close_before(due) - PULL_BACK_MARGIN


@dataclass(frozen=True)
class Timing:
    offset_minutes: int
    due_at: datetime
    send_after: datetime
    expires_at: datetime


def reminder_timings(starts_at: datetime, offsets: Sequence[int], window: SendingWindow,
                     now: datetime) -> list[Timing]:
    """The reminders still worth sending for an appointment at ``starts_at``,
    earliest first. Each is valid until the next one goes (the last one until
    ``LAST_REMINDER_MARGIN`` before the start), so a late reminder is dropped
    rather than delivered stale."""
    timings: list[Timing] = []
    expires = starts_at - LAST_REMINDER_MARGIN
    for offset in sorted({int(o) for o in offsets if int(o) > 0}):  # closest to the start first
        due = reminder_due(starts_at, offset)
        send_after = place_in_window(due, window, expires - MIN_VALIDITY)
        if send_after < now + REMINDER_MIN_LEAD or send_after + MIN_VALIDITY > expires:
            continue
        timings.append(Timing(offset, due, send_after, expires))
        expires = send_after
    return timings[::-1]


def notice_timing(now: datetime, expires_at: datetime, window: SendingWindow) -> Timing:
    """A confirmation, change or cancellation notice: due now, sent as soon as
    the window is open, pointless after ``expires_at`` (the appointment's start)."""
    return Timing(0, now, window.next_open(now), expires_at)


def validity_seconds(now: datetime, expires_at: datetime, window: SendingWindow) -> int:
    """How long the provider may keep trying: until the message expires or the
    sending window closes, whichever is first (0 if the window is closed)."""
    if not window.is_open(now):
        return 0
    end = min(expires_at, window.closes_at(now))
    seconds = int((end - now).total_seconds())
    return max(0, min(seconds, MAX_VALIDITY_SECONDS))
