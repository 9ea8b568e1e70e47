"""Every clinic admin route, walked with another clinic's and another
county's slug: 404, an audit entry each, nothing changed."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.routing import Route

from booking.models import AuditEntry, Chair, ScheduleException, ScheduleTemplate
from core.db import Database
from tests.web.schedule_admin.conftest import StaffBrowser, WeekWorld
from web.views import schedule_admin

OTHERS = ("tannklinikken-grunerlokka", "tannklinikken-stavanger-sentrum")


async def _counts(db: Database) -> tuple[int, ...]:
    async with db.read() as session:
        return tuple([int(await session.scalar(select(func.count()).select_from(table)) or 0)
                      for table in (ScheduleTemplate, ScheduleException, Chair)])


async def _refusals(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "staff.out_of_scope")) or 0)


async def test_every_route_with_another_clinic_is_404_and_audited(
        app: Starlette, staff: StaffBrowser, world: WeekWorld) -> None:
    db: Database = app.state.db
    admin = await staff("clinic-admin-majorstuen")
    routes = [r for r in schedule_admin.routes()
              if isinstance(r, Route) and "{slug}" in r.path]
    assert len(routes) >= 14
    before = await _counts(db)
    walked = 0
    for route in routes:
        for slug in OTHERS:
            path = re.sub(r"\{\w+:int\}", str(world.chair_id), route.path.replace("{slug}", slug))
            for method in sorted(route.methods or {"GET"}):
                if method == "HEAD":
                    continue
                audited = await _refusals(db)
                response = await admin.request(method, path, data={
                    "chair": str(world.chair_id)} if method == "POST" else None)
                assert response.status_code == 404, (method, path)
                assert await _refusals(db) == audited + 1, (method, path)
                walked += 1
    assert walked == 2 * len(routes)
    assert await _counts(db) == before
