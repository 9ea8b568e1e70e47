"""The staff directory: every staff login keeps the staff member's name,
county, roles and clinics, under the actor id the audit log names them by."""

from __future__ import annotations

from sqlalchemy import select

from booking.models import County
from web.oversight.models import StaffDirectoryEntry


async def test_each_login_keeps_the_staff_member(app, staff, world):
    await staff("support-oslo")
    await staff("county-admin-rogaland")
    await staff("support-oslo")  # a second login updates, never duplicates
    async with app.state.db.read() as session:
        counties = dict((await session.execute(select(County.code, County.id))).all())
        rows = {r.name: r for r in (await session.execute(
            select(StaffDirectoryEntry))).scalars()}
    assert set(rows) == {"Siri Brukerstøtte", "Rune Fylkesadmin"}
    siri, rune = rows["Siri Brukerstøtte"], rows["Rune Fylkesadmin"]
    assert siri.actor_id.startswith("staff:") and siri.county_id == counties["03"]
    assert siri.roles == ["support"] and rune.roles == ["county_admin"]
    assert rune.county_id == counties["11"]
