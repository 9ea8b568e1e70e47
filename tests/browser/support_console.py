"""The support console in a browser: its addresses, its user in the demo,
the staff login that lands on it, and a failed text message to look at."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tests.browser.live import LiveServer
from tests.browser.login import guardian_appointment, staff_state

if TYPE_CHECKING:
    from playwright.sync_api import Browser

SUPPORT_USER = "support-oslo"
FIND = "/staff/support"
BULK = "/staff/support/masseutsending"


async def add_failed_sms(url: str, vault: Any) -> None:
    """A permanently failed reminder on the demo guardian's next appointment
    (its offset unlike any the demo's own reminders have), once per server."""
    from sqlalchemy import select

    from core.db import create_database, utcnow
    from notifications.models import Notification, NotificationEvent

    db = create_database(url)
    now = utcnow()
    try:
        async with db.write() as session:
            appointment = await guardian_appointment(session, vault)
            there = (await session.execute(select(Notification.id).where(
                Notification.appointment_id == appointment.id,
                Notification.offset_minutes == 7).limit(1))).scalar_one_or_none()
            if there is not None:  # another module of the run added it to the shared server
                return
            row = Notification(
                appointment_id=appointment.id, appointment_version=appointment.version,
                patient_id=appointment.patient_id, purpose="reminder",
                offset_minutes=7, channel="sms",
                recipient_id=appointment.patient_id, recipient_role="patient",
                status="permanent-failure", error_code=30005, template_id="reminder",
                template_version=1, to_e164="+4791234567", created_at=now - timedelta(hours=1),
                status_at=now, due_at=now - timedelta(hours=1),
                send_after=now - timedelta(hours=1), expires_at=appointment.starts_at)
            session.add(row)
            await session.flush()
            session.add(NotificationEvent(notification_id=row.id, occurred_at=now,
                                          from_status="created", to_status="permanent-failure",
                                          source="receipt", error_code=30005))
    finally:
        await db.dispose()


def login_state(browser: Browser, live_server: LiveServer, user: str) -> dict[str, Any]:
    """The cookie jar of a fresh context that has logged in as the staff ``user``
    through the local staff login, landing on the support console."""
    return staff_state(browser, live_server.url, user, FIND)
