"""The reception desk at Grünerløkka in a browser: the demo's receptionist,
the staff login, the demo guardian's book page for staff (through a signed
link, as the find page gives it), and a working day to book on."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from booking.holidays import is_public_holiday
from booking.rules import local_date
from core.db import utcnow
from tests.browser.live import LiveServer, in_fresh_thread
from tests.browser.login import guardian_number, staff_state

if TYPE_CHECKING:
    from playwright.sync_api import Browser

RECEPTION_USER = "reception-grunerlokka"
CLINIC = "tannklinikken-grunerlokka"


async def _patient_id(url: str, vault: Any) -> int:
    from sqlalchemy import select

    from booking.models import Patient
    from core.db import create_database

    db = create_database(url)
    try:
        async with db.read() as session:
            return int((await session.execute(select(Patient.id).where(
                Patient.identity_hash == vault.lookup_hash(guardian_number())))).scalar_one())
    finally:
        await db.dispose()


def book_path(live_server: LiveServer) -> str:
    """The demo guardian's book page, through a signed link as the find page gives it."""
    from core.db import utcnow
    from web import signing
    from web.views.clinic.patients import TOKEN_PURPOSE

    app = live_server._server.config.app
    patient_id = in_fresh_thread(lambda: asyncio.run(_patient_id(
        app.state.settings.database_url, app.state.vault)))
    token = signing.sign(TOKEN_PURPOSE, patient_id * 8, utcnow() + timedelta(hours=2),
                         app.state.settings.secret_key)
    return f"/staff/klinikk/{CLINIC}/pasient/{token}/bestill"


def next_weekday() -> str:
    """A working day (no weekend, no public holiday) a week or more from
    today in Oslo, as the day field takes it."""
    day = local_date(utcnow()) + timedelta(days=7)
    while day.weekday() >= 5 or is_public_holiday(day):
        day += timedelta(days=1)
    return day.strftime("%d.%m.%Y")


def reception_state(browser: Browser, live_server: LiveServer, path: str) -> dict[str, Any]:
    """The cookie jar of a fresh context that has logged in as the receptionist
    through the local staff login, landing on ``path``."""
    return staff_state(browser, live_server.url, RECEPTION_USER, path)
