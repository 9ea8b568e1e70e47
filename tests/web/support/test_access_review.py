"""The access review: staff look-ups of patients who had no appointment at
the staff member's clinics within the window, with the stated purpose, for
the county administrator to mark reviewed with a note (stored, audited);
another county's look-ups neither listed nor reviewable."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select

from booking.models import Appointment
from core.db import utcnow
from notifications import support as rules
from tests.web.support.world import SupportWorld, audit_rows
from web.oversight import access_review
from web.oversight.models import AccessReview

REVIEW = "/staff/tilsyn/tilgang"
FIND = "/staff/support/finn"


async def _look_up(client, pid: str, purpose: str = "patient_called") -> None:
    await client.post(FIND, data={"purpose": purpose, "identity_number": pid})


async def _lookup_ids(app) -> list[int]:
    return [e.id for e in await audit_rows(app.state.db, rules.LOOKUP_ACTION)]


async def test_a_look_up_without_an_appointment_is_listed_and_reviewed(
        app, staff, world: SupportWorld):
    support = await staff("support-oslo")
    await _look_up(support, world.kari_pid)  # appointment in three days: fine
    await _look_up(support, world.per_pid, "message_not_received")  # another county's
    kari_lookup, per_lookup = await _lookup_ids(app)
    admin = await staff("county-admin-oslo")
    page = (await admin.get(REVIEW)).text
    assert f'id="lookup-{per_lookup}"' in page and f'id="lookup-{kari_lookup}"' not in page
    assert "A text message did not arrive" in page and "Siri Brukerstøtte" in page
    assert "not a patient of your county" in page and "Vestlending" not in page
    empty = await admin.post(f"{REVIEW}/{per_lookup}", data={"note": "   "})
    assert empty.status_code == 400 and "Write a note about what you found." in empty.text
    saved = await admin.post(f"{REVIEW}/{per_lookup}",
                             data={"note": "Wrong number typed; talked to Siri"})
    assert saved.status_code == 303
    after = (await admin.get(saved.headers["location"])).text
    assert 'id="saved"' in after and f'id="lookup-{per_lookup}"' not in after
    everything = (await admin.get(REVIEW, params={"alle": "1"})).text
    assert "Wrong number typed; talked to Siri" in everything and "Ola Fylkesadmin" in everything
    async with app.state.db.read() as session:
        [review] = (await session.execute(select(AccessReview))).scalars().all()
    assert review.audit_entry_id == per_lookup and review.reviewed_by_name == "Ola Fylkesadmin"
    [entry] = await audit_rows(app.state.db, access_review.REVIEW_ACTION)
    assert entry.detail["audit_entry_id"] == per_lookup and "note" not in entry.detail
    again = await admin.post(f"{REVIEW}/{per_lookup}", data={"note": "again"})
    assert again.status_code == 400 and "already been reviewed" in again.text


async def test_the_window_is_a_setting(app, staff, world: SupportWorld):
    async with app.state.db.write() as session:
        appointment = await session.get(Appointment, world.appointment_id)
        appointment.starts_at = utcnow() + timedelta(days=40)
        appointment.ends_at = appointment.starts_at + timedelta(minutes=30)
    support = await staff("support-oslo")
    await _look_up(support, world.kari_pid)
    [kari_lookup] = await _lookup_ids(app)
    admin = await staff("county-admin-oslo")
    assert f'id="lookup-{kari_lookup}"' not in (await admin.get(REVIEW)).text
    app.state.settings = dataclasses.replace(app.state.settings, access_review_window_days=30)
    page = (await admin.get(REVIEW)).text
    assert f'id="lookup-{kari_lookup}"' in page and "Kari Nordmann" in page


async def test_another_countys_look_ups_are_not_listed_nor_reviewable(
        app, staff, world: SupportWorld):
    rogaland = await staff("county-admin-rogaland")
    await _look_up(rogaland, world.kari_pid)  # an Oslo patient: flagged in Rogaland
    [lookup] = await _lookup_ids(app)
    assert f'id="lookup-{lookup}"' in (await rogaland.get(REVIEW)).text
    oslo = await staff("county-admin-oslo")
    assert f'id="lookup-{lookup}"' not in (await oslo.get(REVIEW)).text
    response = await oslo.post(f"{REVIEW}/{lookup}", data={"note": "not mine"})
    assert response.status_code == 404
    [refused] = await audit_rows(app.state.db, "access.refused")
    assert refused.detail == {"target": "audit_entry", "id": lookup, "refused": "outside_county"}
    async with app.state.db.read() as session:
        assert (await session.execute(select(AccessReview))).first() is None
