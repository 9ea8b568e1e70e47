"""The call list: appointments in the next 7 days whose every message
failed, in the staff member's county only; marked done (who, when) or not."""

from __future__ import annotations

from sqlalchemy import select

from notifications import support as rules
from notifications.models import Notification
from notifications.statuses import NotificationStatus
from tests.web.support.world import SupportWorld, audit_rows

CALLS = "/staff/support/ringeliste"


async def test_the_appointment_whose_every_message_failed_is_listed(support, world):
    page = (await support.get(CALLS)).text
    assert f'id="call-{world.appointment_id}"' in page and "Kari Nordmann" in page
    assert "Vestlending" not in page  # another county's


async def test_one_delivered_message_takes_it_off_the_list(app, support, world):
    async with app.state.db.write() as session:
        row = await session.get(Notification, world.blocked_id)
        row.status = NotificationStatus.DELIVERED
    page = (await support.get(CALLS)).text
    assert f'id="call-{world.appointment_id}"' not in page and 'id="call-list-empty"' in page


async def test_marked_done_with_who_and_when_and_back(app, support, world: SupportWorld):
    response = await support.post(f"{CALLS}/{world.appointment_id}", data={"done": "1"})
    assert response.status_code == 303
    page = (await support.get(CALLS)).text
    assert "Done by Siri Brukerstøtte" in page
    [done] = await audit_rows(app.state.db, rules.CALL_DONE_ACTION)
    assert done.detail == {"appointment_id": world.appointment_id}
    assert done.subject_patient_id == world.kari_id
    await support.post(f"{CALLS}/{world.appointment_id}", data={"done": "0"})
    assert "Done by" not in (await support.get(CALLS)).text
    assert len(await audit_rows(app.state.db, rules.CALL_UNDONE_ACTION)) == 1


async def test_another_countys_appointment_cannot_be_marked(app, support, world):
    response = await support.post(f"{CALLS}/{world.per_appointment_id}", data={"done": "1"})
    assert response.status_code == 404
    assert await audit_rows(app.state.db, rules.CALL_DONE_ACTION) == []
    async with app.state.db.read() as session:
        from notifications.models import SupportCall
        assert (await session.execute(select(SupportCall))).first() is None


async def test_opening_a_patient_from_the_call_list_is_audited_as_such(app, support, world):
    page = (await support.get(CALLS)).text
    import re
    [link] = re.findall(r'href="(/staff/support/pasient/[^"]+)"', page)
    assert (await support.get(link)).status_code == 200
    [view] = await audit_rows(app.state.db, rules.VIEW_ACTION)
    assert view.detail == {"lookup_purpose": "call_list"}
    assert view.subject_patient_id == world.kari_id
