"""``POST /bestill/velg`` cannot hold a clinic's free times: each choice lets
the previous one go, and past ``HOLD_RATE_LIMIT`` the answer is a 429 page
with ``Retry-After`` (never a 500) and nothing is held."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from booking.models import Slot
from booking.statuses import SlotStatus
from core.db import Database
from tests.apps import BASE_URL
from tests.web.auth.helpers import browser, build_app, local_login
from tests.web.booking_flow.conftest import _appointment_page
from tests.web.booking_flow.world import World, hidden_fields, log_in, make_world, pick, times
from web.views import booking


@pytest.fixture
async def limited(db: Database) -> AsyncIterator[Starlette]:
    application = build_app(db=db, hold_rate_limit="3/minute")
    application.router.routes.extend(booking.routes())
    application.router.routes.extend(_appointment_page())
    async with local_login(application):
        yield application


async def _held(world: World) -> list[int]:
    async with world.db.read() as s:
        return list((await s.execute(select(Slot.id).where(
            Slot.status == SlotStatus.HELD).order_by(Slot.id))).scalars())


async def test_choosing_again_lets_the_previous_time_go_and_the_rate_is_limited(
        limited: Starlette) -> None:
    world = await make_world(limited)
    async with browser(BASE_URL, httpx.ASGITransport(app=limited)) as client:
        await log_in(client)
        picker = await pick(client, "Me", "Check-up", "Grünerløkka tannklinikk")
        form = hidden_fields(picker, "form.time-form")
        offered = times(picker)
        for clock in ("14:00", "14:30", "15:00"):
            response = await client.post("/bestill/velg", data={**form, "slot": offered[clock]})
            assert response.status_code == 303
            assert await _held(world) == [int(offered[clock])]
        refused = await client.post("/bestill/velg", data={**form, "slot": offered["15:30"]})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Too many attempts" in refused.text
    assert await _held(world) == [int(offered["15:00"])]
