"""Every support and county-administrator route walked with another
county's ids, as the support user and as a county administrator: 404, an
audit entry for the attempt, and nothing changed. The walk must name every
route under ``/staff/support``, ``/staff/tilsyn`` and ``/staff/tall`` (a new
route without a step here fails the test). The clinic console's routes
(``/staff/klinikk``) have their own walk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from starlette.routing import Route

from booking.models import Appointment, AuditEntry, Clinic
from core.db import utcnow
from notifications.models import Notification, SupportCall
from tests.web.support.world import SupportWorld, audit_rows
from web import signing
from web.oversight.models import AccessReview, StaffDirectoryEntry
from web.views.support import _PURPOSES

Step = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


async def _count(app, model) -> int:
    async with app.state.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def _support_token(app, patient_id: int) -> str:
    return signing.sign("support-patient", patient_id * 8 + _PURPOSES.index("patient_called"),
                        utcnow() + timedelta(hours=1), app.state.settings.secret_key)


def _audit_token(app, patient_id: int) -> str:
    return signing.sign("audit-patient", patient_id, utcnow() + timedelta(hours=1),
                        app.state.settings.secret_key)


async def _steps(app, staff, world: SupportWorld) -> dict[tuple[str, str], Step]:
    """(method, route path) → a request naming another county's id."""
    async with app.state.db.read() as session:
        stavanger = (await session.execute(select(Appointment.clinic_id).where(
            Appointment.id == world.per_appointment_id))).scalar_one()
        stavanger_slug = (await session.execute(select(Clinic.slug).where(
            Clinic.id == stavanger))).scalar_one()
    rogaland = await staff("county-admin-rogaland")
    await rogaland.post("/staff/support/finn", data={"purpose": "patient_called",
                                                     "identity_number": world.per_pid})
    async with app.state.db.read() as session:
        rogaland_staff = (await session.execute(select(StaffDirectoryEntry.actor_id).where(
            StaffDirectoryEntry.name == "Rune Fylkesadmin"))).scalar_one()
        rogaland_entry = (await session.execute(select(func.max(AuditEntry.id)).where(
            AuditEntry.actor_id == rogaland_staff))).scalar_one()
    kari = _support_token(app, world.kari_id)
    per = _support_token(app, world.per_id)
    bulk = {"since_date": "2026-01-01", "until_date": "2026-12-31", "channel": "sms",
            "clinic": str(stavanger), "reason": "x"}
    return {
        ("GET", "/staff/support/pasient/{token}"):
            lambda c: c.get(f"/staff/support/pasient/{per}"),
        ("POST", "/staff/support/pasient/{token}/vis/{notification_id:int}"):
            lambda c: c.post(f"/staff/support/pasient/{kari}/vis/{world.per_sms_id}"),
        ("POST", "/staff/support/pasient/{token}/send-igjen/{notification_id:int}"):
            lambda c: c.post(f"/staff/support/pasient/{kari}/send-igjen/{world.per_sms_id}",
                             data={"reason": "x", "to": "current"}),
        ("POST", "/staff/support/ringeliste/{appointment_id:int}"):
            lambda c: c.post(f"/staff/support/ringeliste/{world.per_appointment_id}",
                             data={"done": "1"}),
        ("POST", "/staff/support/masseutsending"):
            lambda c: c.post("/staff/support/masseutsending", data=bulk),
        ("POST", "/staff/support/masseutsending/send"):
            lambda c: c.post("/staff/support/masseutsending/send", data=bulk),
        ("GET", "/staff/tilsyn/logg"):
            lambda c: c.get("/staff/tilsyn/logg",
                            params={"pasient": _audit_token(app, world.per_id)}),
        ("GET", "/staff/tilsyn/logg.csv"):
            lambda c: c.get("/staff/tilsyn/logg.csv", params={"ansatt": rogaland_staff}),
        ("GET", "/staff/tall/klinikk/{slug}"):
            lambda c: c.get(f"/staff/tall/klinikk/{stavanger_slug}"),
        ("GET", "/staff/tall/klinikk/{slug}/graf/{chart}.svg"):
            lambda c: c.get(f"/staff/tall/klinikk/{stavanger_slug}/graf/timer.svg"),
        ("POST", "/staff/tilsyn/tilgang/{entry_id:int}"):
            lambda c: c.post(f"/staff/tilsyn/tilgang/{rogaland_entry}", data={"note": "x"}),
    }


#: Routes that take no id of anything (forms, lists, the console's home);
#: those with a patient go through the look-up, walked in test_find.
NO_IDS = {("GET", "/staff"), ("GET", "/staff/support"), ("POST", "/staff/support/finn"),
          ("GET", "/staff/support/ringeliste"), ("GET", "/staff/support/masseutsending"),
          ("POST", "/staff/tilsyn/logg/pasient"), ("POST", "/staff/tilsyn/logg/verifiser"),
          ("GET", "/staff/tilsyn/tilgang"), ("GET", "/staff/tall"),
          ("GET", "/staff/tall/graf/{chart}.svg")}
#: The county-wide roles' console; the clinic console is walked on its own.
CONSOLE = ("/staff/support", "/staff/tilsyn", "/staff/tall")


def _console_routes(app) -> set[tuple[str, str]]:
    out = set()
    for route in app.routes:
        if isinstance(route, Route) and (route.path == "/staff"
                                         or route.path.startswith(CONSOLE)):
            for method in route.methods or ():
                if method != "HEAD":
                    out.add((method, route.path))
    return out


@pytest.mark.parametrize("user", ["support-oslo", "county-admin-oslo"])
async def test_another_countys_ids_are_404_and_audited(app, staff, world: SupportWorld, user):
    steps = await _steps(app, staff, world)
    assert _console_routes(app) - NO_IDS == set(steps), "a console route is not walked"
    client = await staff(user)
    admin_only = ("/staff/tilsyn", "/staff/tall")
    before = {m: await _count(app, m) for m in (Notification, SupportCall, AccessReview)}
    for (method, path), step in steps.items():
        entries = await _count(app, AuditEntry)
        response = await step(client)
        if user == "support-oslo" and path.startswith(admin_only):
            assert response.status_code == 403, (method, path)
            continue
        assert response.status_code == 404, (method, path, response.status_code)
        assert await _count(app, AuditEntry) > entries, (method, path)
    assert {m: await _count(app, m) for m in before} == before
    assert await audit_rows(app.state.db, "notification.resend") == []
