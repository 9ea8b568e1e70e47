"""The demo's past notifications as they would stand today.

The demo books its past appointments as the record system did weeks ago, so
the outbox writes their notices, reminders and Helsenorge updates with send
times weeks back. Left waiting, the first sweep after ``make run`` would time
them out (nothing is sent more than 72 hours late) and ``/dev/sms`` would open
on a wall of technical failures. They went out at the time, so they are
recorded the way the service would have left them: delivered when due, and,
being older than the retention period, with text and number removed. Only
what is due from the seed's own moment on stays waiting.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select

from core.db import Database
from notifications.models import Notification
from notifications.statuses import NotificationStatus
from notifications.transitions import move

#: Due longer ago than this (before the seed's moment) = history, not work.
HISTORY_BEFORE: Final = timedelta(days=1)
#: The default retention (``NOTIFICATION_RETENTION_DAYS``): older texts are gone.
RETENTION: Final = timedelta(days=7)


async def deliver_history(db: Database, now: datetime) -> int:
    """Record the waiting notifications due before ``now - HISTORY_BEFORE``
    as delivered when they were due; how many. Running it again finds none."""
    async with db.write() as session:
        rows = list((await session.execute(
            select(Notification).where(Notification.status == NotificationStatus.CREATED,
                                       Notification.send_after < now - HISTORY_BEFORE)
        )).scalars())
        for row in rows:
            sent_at = row.send_after
            if move(session, row, NotificationStatus.DELIVERED, sent_at, "demo-history"):
                row.handed_over_at = sent_at
                row.attempts = max(row.attempts, 1)
                row.purged_at = min(now, sent_at + RETENTION)
    return len(rows)
