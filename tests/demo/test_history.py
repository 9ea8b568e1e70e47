"""The demo's older notifications are delivered history on a fresh start;
only what is due from the seed's moment on waits to be sent."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from booking.models import Appointment
from core.db import Database
from core.identity import IdentityVault
from demo.seed import seed_demo
from demo.weeks import KEY_PREFIX as WEEKS_PREFIX
from notifications.models import Notification
from notifications.sweeps import timeout_in_flight
from tests.notifications.helpers import Clock, MemorySms, make_runtime

VAULT = IdentityVault.from_secret("demo-history-test-secret-" + "k" * 20)
TODAY = date(2026, 3, 10)
SEEDED_AT = datetime.combine(TODAY, time(6, 0), tzinfo=UTC)


async def test_older_notifications_are_delivered_history_not_timed_out(db: Database) -> None:
    await seed_demo(db, VAULT, today=TODAY, weeks=2)
    async with db.read() as session:
        # The dashboards' twelve weeks (demo/weeks.py) are written as they
        # ended, failures included; these are the appointments booked here.
        starts = dict((await session.execute(
            select(Appointment.id, Appointment.starts_at).where(
                Appointment.idempotency_key.not_like(f"{WEEKS_PREFIX}%")))).all())
        rows = [row for row in (await session.execute(select(Notification))).scalars()
                if row.appointment_id in starts]
    past = [row for row in rows if starts[row.appointment_id] < SEEDED_AT]
    assert past, "the demo has past appointments with notices and reminders"
    assert Counter(row.status for row in past) == {"delivered": len(past)}
    assert all(row.handed_over_at == row.status_at == row.send_after for row in past)
    assert all(row.body is None and row.purged_at is not None for row in past)
    waiting = [row for row in rows if row.status == "created"]
    assert waiting and all(row.send_after >= SEEDED_AT for row in waiting)

    # Started an hour later, the sweep finds nothing 72 hours overdue.
    runtime = make_runtime(db, MemorySms(), Clock(SEEDED_AT + timedelta(hours=1)))
    assert await timeout_in_flight({"runtime": runtime}) == 0

