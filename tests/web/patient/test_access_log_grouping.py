"""``/innsyn`` groups page views by person, day and purpose: ten views in
four minutes are one line that says how many and when; changes stay one
line each, in their place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking import audit
from booking.audit import Actor
from tests.pages import html, text_of
from tests.web.patient.world import World

#: Two mornings in Oslo (winter time, UTC+1), long before the world's appointments.
MONDAY = datetime(2026, 11, 2, 8, 12, tzinfo=UTC)  # 09:12 in Oslo
TUESDAY = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)

COUNTS = {
    "nb": ("Så på timene", "(10 ganger, 09:12–09:16)"),
    "nn": ("Såg på timane", "(10 gonger, 09:12–09:16)"),
    "en": ("Looked at the appointments", "(10 times, 09:12–09:16)"),
    "se": ("Geahčai áiggiid", "(10 háve, 09:12–09:16)"),
}


@pytest.mark.parametrize("lang", sorted(COUNTS))
async def test_views_are_grouped_by_person_day_and_purpose(app, world: World, logged_in,
                                                           lang: str) -> None:
    emma = world.child11.id
    guardian = Actor.guardian(world.guardian.id, {emma})
    staff = Actor.staff("staff-9", {world.clinic.id})
    async with app.state.db.write() as session:
        for minute in range(10):  # ten views in four minutes on Monday
            await audit.record(session, guardian, "appointments.view",
                               purpose="guardian_for_child", subject_patient_id=emma,
                               now=MONDAY + timedelta(seconds=27 * minute))
        await audit.record(session, staff, "appointments.view", purpose="reception",
                           subject_patient_id=emma, now=MONDAY + timedelta(minutes=5))
        await audit.record(session, guardian, "appointment.cancel",
                           purpose="guardian_for_child", subject_patient_id=emma,
                           now=MONDAY + timedelta(minutes=6))
        await audit.record(session, guardian, "appointments.view",
                           purpose="guardian_for_child", subject_patient_id=emma, now=TUESDAY)
    looked, count = COUNTS[lang]
    client = await logged_in(world.guardian)
    chosen = await client.post("/language", data={"lang": lang, "next": "/innsyn"})
    assert chosen.status_code == 303
    soup = html(await client.get(f"/innsyn?for={emma}"))
    entries = soup.select(".access-log__entry")
    whats = [text_of(entry, ".access-log__what") for entry in entries]
    # Newest first: Tuesday's view, the cancellation, the staff member's view,
    # and Monday's ten views of the guardian as one line.
    assert len(entries) == 4
    assert whats[0] == looked
    assert whats[3] == f"{looked} {count}"
    assert entries[1].select_one(".access-log__count") is None
    assert entries[2].select_one(".access-log__count") is None
    assert entries[3].select_one(".access-log__when time")["datetime"] == (
        (MONDAY + timedelta(seconds=27 * 9)).isoformat())
