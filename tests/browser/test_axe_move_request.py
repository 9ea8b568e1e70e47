"""axe-core over the page behind a clinic's request to move an appointment
(``/t/<token>/flytt``), in Bokmål and Northern Sami (on the screens ``live.axe_cases`` gives): with
the offered times, and after the patient picked one. The requests are made
as the clinic's list makes them (``schedule_changes.ask_to_move``) for two
of the demo's upcoming appointments; one is then moved."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser.live import (
    WALK_CASES,
    LiveServer,
    Tab,
    in_fresh_thread,
    open_tab,
)
from tests.browser.walk import Walk

if TYPE_CHECKING:
    from playwright.sync_api import Browser


async def _requests(url: str, secret: str, public_url: str) -> dict[str, str]:
    """Paths of an open request to move and of one already moved."""
    from sqlalchemy import select

    from booking import schedule_changes
    from booking.audit import Actor
    from booking.events import set_listener
    from booking.models import Appointment, ScheduleStranding
    from booking.schedule_changes import ChangeRefused
    from booking.statuses import ACTIVE, StrandingDecision
    from core.db import create_database, utcnow
    from notifications import outbox
    from notifications.models import Notification
    from notifications.statuses import Channel, Purpose
    from notifications.templates import link_key, links_for

    previous = outbox.subscribe()
    db = create_database(url)
    now = utcnow()
    paths: dict[str, str] = {}
    try:
        async with db.read() as session:
            candidates = list((await session.execute(
                select(Appointment).where(Appointment.status.in_(list(ACTIVE)),
                                          Appointment.starts_at > now)
                .order_by(Appointment.starts_at.desc()).limit(40))).scalars())
        patients: set[int] = set()
        for appointment in candidates:
            if len(paths) == 2:
                break
            if appointment.patient_id in patients:
                continue
            async with db.write() as session:
                row = ScheduleStranding(
                    appointment_id=appointment.id, clinic_id=appointment.clinic_id,
                    chair_id=appointment.chair_id, created_at=now, created_by="system:test",
                    decision=StrandingDecision.WAITING)
                session.add(row)
                await session.flush()
                stranding_id = row.id
            staff = Actor.staff("clinic-admin", {appointment.clinic_id})
            try:
                await schedule_changes.ask_to_move(db, staff, clinic_id=appointment.clinic_id,
                                                   stranding_ids=[stranding_id], now=now)
            except ChangeRefused:
                continue
            patients.add(appointment.patient_id)
            async with db.read() as session:
                notification_id = (await session.execute(select(Notification.id).where(
                    Notification.appointment_id == appointment.id,
                    Notification.purpose == Purpose.MOVE_REQUEST,
                    Notification.channel == Channel.SMS,
                    Notification.recipient_id == appointment.patient_id))).scalars().first()
                offered = (await session.get(ScheduleStranding, stranding_id))
            if notification_id is None or offered is None:
                continue
            path = links_for(public_url, link_key(secret), appointment.id,
                             notification_id).move.removeprefix(public_url.rstrip("/"))
            name = "open" if "open" not in paths else "moved"
            if name == "moved":
                slot_id = int((offered.offered_slot_ids or "").split(",")[0])
                await schedule_changes.move(db, Actor.patient(appointment.patient_id),
                                            appointment_id=appointment.id, slot_id=slot_id,
                                            now=now)
            paths[name] = path
        return paths
    finally:
        await db.dispose()
        set_listener(previous)


@pytest.fixture(scope="module")
def move_paths(live_server: LiveServer) -> dict[str, str]:
    app = live_server._server.config.app
    settings = app.state.settings
    return in_fresh_thread(lambda: asyncio.run(_requests(
        settings.database_url, settings.secret_key, settings.public_url)))


@pytest.fixture
def move_tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer
             ) -> Iterator[Tab]:
    with open_tab(browser, live_server, request.param) as tab:
        yield tab


CASES = WALK_CASES


@pytest.mark.parametrize("move_tab", CASES, indirect=True,
                         ids=[f"{lang}-{viewport}" for lang, viewport in CASES])
def test_move_request_pages_have_no_axe_violations(
        move_tab: Tab, axe_source: str, move_paths: dict[str, str],
        request: pytest.FixtureRequest) -> None:
    lang, viewport = request.node.callspec.params["move_tab"]
    assert set(move_paths) == {"open", "moved"}, move_paths
    walk = Walk(move_tab, axe_source, lang, viewport)
    walk.goto("move-open", move_paths["open"])
    if walk.page.locator("#move-form input[name=slot_id]").count() < 2:
        walk.failures.append("fewer than two offered times on the open request")
    walk.goto("move-done", move_paths["moved"])
    if walk.page.locator("#done").count() != 1:
        walk.failures.append("the moved request does not say where the appointment is")
    report = "\n\n".join(walk.failures)
    assert not walk.failures, f"{len(walk.failures)} problem(s) ({lang}, {viewport}):\n\n{report}"
