"""The clinic admin's week in a browser: the demo's clinic admin at
Majorstuen, the week's address, the widths the pages are checked at, and the
fixtures ``admin_state`` (the login, with one appointment stranded first) and
``admin_tab`` (a tab at one of ``CASES``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.live import (
    VIEWPORTS,
    LiveServer,
    Tab,
    axe_cases,
    in_fresh_thread,
    open_tab,
)
from tests.browser.login import staff_state

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ADMIN = "clinic-admin-majorstuen"
WEEK = "/staff/klinikk/tannklinikken-majorstuen/uke"
WIDTHS: dict[str, Any] = {"tablet": {"width": 768, "height": 1024},
                          "desktop": VIEWPORTS["desktop"]}


async def _strand_one(url: str) -> None:
    """Put one of Majorstuen's future appointments on the waiting list, as a
    saved schedule change would."""
    from sqlalchemy import select

    from booking.models import Appointment, Clinic, ScheduleStranding
    from booking.statuses import ACTIVE
    from core.db import create_database, utcnow

    db = create_database(url)
    now = utcnow()
    try:
        async with db.write() as session:
            appointment = (await session.execute(
                select(Appointment).join(Clinic, Clinic.id == Appointment.clinic_id)
                .where(Clinic.slug == "tannklinikken-majorstuen",
                       Appointment.status.in_(list(ACTIVE)), Appointment.starts_at > now)
                .order_by(Appointment.starts_at).limit(1))).scalar_one_or_none()
            if appointment is not None:
                session.add(ScheduleStranding(
                    appointment_id=appointment.id, clinic_id=appointment.clinic_id,
                    chair_id=appointment.chair_id, created_at=now, created_by="staff:test",
                    decision="waiting"))
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def admin_state(browser: Browser, live_server: LiveServer) -> dict[str, Any]:
    """One appointment waiting for a decision, and the cookie jar of the clinic
    admin's login."""
    app = live_server._server.config.app
    in_fresh_thread(lambda: asyncio.run(_strand_one(app.state.settings.database_url)))
    return staff_state(browser, live_server.url, ADMIN, WEEK)


@pytest.fixture
def admin_tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
              admin_state: dict[str, Any]) -> Iterator[Tab]:
    with open_tab(browser, live_server, request.param,
                  screens=WIDTHS, storage_state=admin_state) as tab:
        yield tab


#: The (language, width) pairs of the walks; ``admin_tab`` takes one as its param.
CASES = axe_cases("desktop", "tablet")
