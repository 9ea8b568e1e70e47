"""The notification timeline: each message with its template and version,
the number masked (revealing it is an audited POST), every status change in
Oslo time, the provider's error code in words, and why a message never went."""

from __future__ import annotations

import re

from booking.reference import reference
from notifications import support as rules
from tests.web.support.world import SupportWorld, audit_rows

FIND = "/staff/support/finn"


async def open_kari(client, world: SupportWorld) -> str:
    response = await client.post(FIND, data={"purpose": "message_not_received",
                                             "identity_number": world.kari_pid})
    return response.headers["location"]


async def test_the_timeline_shows_each_message_masked_with_its_history(
        support, world: SupportWorld):
    page = (await support.get(await open_kari(support, world))).text
    assert "+47 ••• •• 567" in page and "+4791234567" not in page and "912 34 567" not in page
    assert "confirmation-sms" in page and "version 2" in page
    assert "30005: <span lang=\"en\">Unknown destination handset</span>" in page
    assert ("Not sent: the recipient has opted out of digital contact in the contact register "
            "(KRR).") in page
    assert "Why it was not sent" in page
    # Status changes in Oslo time (UTC+1 in winter) as <time> elements.
    times = re.findall(r'<time datetime="([^"]+)">', page)
    assert times and all(t.endswith("+00:00") for t in times)
    # Each appointment's heading names its booking reference, so two at the
    # same time and clinic (one cancelled, one booked again) are told apart.
    assert f"({reference(world.appointment_id)})</h3>" in page


async def test_the_timeline_is_translated(support, world: SupportWorld):
    link = await open_kari(support, world)
    page = (await support.get(link, headers={"Accept-Language": "nb"})).text
    assert "Vis hele nummeret" in page and "Send igjen" in page


async def test_revealing_the_number_is_a_post_and_audited(app, support, world: SupportWorld):
    link = await open_kari(support, world)
    response = await support.post(f"{link}/vis/{world.sms_id}")
    assert response.status_code == 200 and "+4791234567" in response.text
    [entry] = await audit_rows(app.state.db, rules.REVEAL_ACTION)
    assert entry.subject_patient_id == world.kari_id
    assert entry.detail == {"notification_id": world.sms_id}
    assert (await support.get(f"{link}/vis/{world.sms_id}")).status_code == 405


async def test_another_countys_message_cannot_be_revealed_through_ones_own_patient(
        app, support, world: SupportWorld):
    link = await open_kari(support, world)
    response = await support.post(f"{link}/vis/{world.per_sms_id}")
    assert response.status_code == 404 and "+4798765432" not in response.text
    assert await audit_rows(app.state.db, rules.REVEAL_ACTION) == []


def test_the_mask_keeps_the_country_code_and_the_last_three_digits():
    assert rules.mask("+4791234567") == "+47 ••• •• 567"
    assert rules.mask("+46701234123") == "+46 ••• •• 123"
    assert rules.mask(None) is None


async def test_each_opening_of_the_timeline_is_audited_with_the_purpose(
        app, support, world: SupportWorld):
    link = await open_kari(support, world)
    await support.get(link)
    await support.get(link)
    views = await audit_rows(app.state.db, rules.VIEW_ACTION)
    assert [(v.subject_patient_id, v.detail["lookup_purpose"]) for v in views] == [
        (world.kari_id, "message_not_received")] * 2


async def test_an_altered_link_is_not_found(support, world: SupportWorld):
    link = await open_kari(support, world)
    altered = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    assert (await support.get(altered)).status_code == 404
