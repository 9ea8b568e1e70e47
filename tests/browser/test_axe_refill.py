"""axe-core over the waitlist and refill pages, in Bokmål and Northern Sami (on
the screens ``live.axe_cases`` gives): the appointment page after asking for an earlier time (the
wishes form with its withdraw button), Min side with an open offer and the
waiting list, and the offer page (open, and ended). The demo guardian asks
through the form as a user would; the offers are written straight into the
database (a freed slot of the same clinic), as the refill job would."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.live import (
    WALK_CASES,
    LiveServer,
    Tab,
    in_fresh_thread,
    open_tab,
)
from tests.browser.login import guardian_appointment
from tests.browser.walk import Walk

if TYPE_CHECKING:
    from playwright.sync_api import Browser

_APPOINTMENT = re.compile(r"^/timer/\d+$")



async def _offers(url: str, vault: Any, secret: str) -> dict[str, str]:
    """An open and an ended offer to the demo guardian of a free slot at the
    clinic of their latest upcoming appointment, before it; the tokens of
    their links."""
    from sqlalchemy import select

    from booking.models import Slot
    from booking.refill_models import RefillOffer, RefillRound, WaitlistEntry
    from booking.statuses import SlotStatus
    from core.db import create_database, utcnow
    from notifications.refill_texts import offer_key, sign_offer
    from notifications.templates import link_key

    db = create_database(url)
    now = utcnow()
    try:
        async with db.write() as session:
            appointment = await guardian_appointment(session, vault, last=True)
            slot = (await session.execute(
                select(Slot).where(Slot.clinic_id == appointment.clinic_id,
                                   Slot.status == SlotStatus.FREE,
                                   Slot.starts_at > now + timedelta(days=1),
                                   Slot.starts_at < appointment.starts_at)
                .order_by(Slot.starts_at).limit(1))).scalar_one()
            entry = WaitlistEntry(
                patient_id=appointment.patient_id, appointment_id=appointment.id,
                appointment_type_id=appointment.appointment_type_id,
                clinic_ids=[appointment.clinic_id], weekdays=[], notice_hours=24,
                status="waiting", created_at=now, created_by_kind="patient",
                created_by=f"patient:{appointment.patient_id}")
            rnd = RefillRound(slot_id=slot.id, status="open", wave=1,
                              next_at=now + timedelta(hours=5), started_at=now)
            session.add_all([entry, rnd])
            await session.flush()
            tokens = {}
            for name, status, lasts in (("open", "offered", 5), ("ended", "expired", -1)):
                offer = RefillOffer(
                    round_id=rnd.id, slot_id=slot.id, wave=1, waitlist_entry_id=entry.id,
                    patient_id=appointment.patient_id, appointment_id=appointment.id,
                    code="4821", status=status, offered_at=now,
                    expires_at=now + timedelta(hours=lasts))
                session.add(offer)
                await session.flush()
                tokens[name] = sign_offer(offer_key(link_key(secret)), offer.id,
                                          appointment.patient_id)
            return tokens
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def offer_tokens(live_server: LiveServer) -> dict[str, str]:
    app = live_server._server.config.app
    return in_fresh_thread(lambda: asyncio.run(_offers(
        app.state.settings.database_url, app.state.vault, app.state.settings.secret_key)))


@pytest.fixture
def refill_tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
               logged_in_state: dict[str, Any]) -> Iterator[Tab]:
    with open_tab(browser, live_server, request.param, storage_state=logged_in_state) as tab:
        yield tab


CASES = WALK_CASES


@pytest.mark.parametrize("refill_tab", CASES, indirect=True,
                         ids=[f"{lang}-{viewport}" for lang, viewport in CASES])
def test_waitlist_and_offer_pages_have_no_axe_violations(
        refill_tab: Tab, axe_source: str, offer_tokens: dict[str, str],
        request: pytest.FixtureRequest) -> None:
    lang, viewport = request.node.callspec.params["refill_tab"]
    walk = Walk(refill_tab, axe_source, lang, viewport)
    page = walk.page
    if walk.goto("appointments", "/timer", check=False):
        hrefs: list[str] = page.eval_on_selector_all(
            "main a[href^='/timer/']", "links => links.map(a => a.getAttribute('href'))")
        href = next((h for h in hrefs if _APPOINTMENT.match(h)), None)
        if href is None or not walk.goto("appointment", href, check=False):
            walk.failures.append("no appointment to ask an earlier time for")
        elif page.locator("form.waitlist-form").count() == 0:
            walk.failures.append(f"no waitlist form on {href}")
        else:
            with page.expect_navigation():
                page.locator("form.waitlist-form button[type='submit']").click()
            walk.check("waitlist-joined")
    walk.goto("min-side", "/min-side")
    if page.locator(".refill-offer").count() == 0:
        walk.failures.append("no offer on Min side")
    walk.goto("offer", f"/ledig/{offer_tokens['open']}")
    walk.goto("offer-ended", f"/ledig/{offer_tokens['ended']}")
    missing = {"waitlist-joined", "min-side", "offer", "offer-ended"} - set(walk.visited)
    if missing:
        walk.failures.append(f"pages not reached: {', '.join(sorted(missing))}")
    report = "\n\n".join(walk.failures)
    assert not walk.failures, f"{len(walk.failures)} problem(s) ({lang}, {viewport}):\n\n{report}"
