"""Resend from the console: with a reason, to the current or a corrected
number, through notifications.service.resend (linked to the original,
audited); once on a double submit; bad input changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking.models import Patient
from notifications import support as rules
from tests.web.support.world import KARI_MOBILE, SupportWorld, audit_rows, notifications_of

FIND = "/staff/support/finn"


async def open_kari(client, world: SupportWorld) -> str:
    response = await client.post(FIND, data={"purpose": "message_not_received",
                                             "identity_number": world.kari_pid})
    return response.headers["location"]


async def test_resend_to_the_current_number(app, support, world: SupportWorld):
    link = await open_kari(support, world)
    response = await support.post(f"{link}/send-igjen/{world.sms_id}",
                                  data={"reason": "Patient called", "to": "current"})
    assert response.status_code == 303 and "sendt=1" in response.headers["location"]
    copies = [n for n in await notifications_of(app.state.db, world.appointment_id)
              if n.resend_of_id == world.sms_id]
    assert len(copies) == 1
    assert copies[0].resend_reason == "Patient called" and copies[0].to_e164 is None
    [entry] = await audit_rows(app.state.db, "notification.resend")
    assert entry.detail["notification_id"] == world.sms_id
    assert entry.actor_id.startswith("staff:")
    page = (await support.get(response.headers["location"])).text
    assert 'id="resent"' in page and f"Resend of message {world.sms_id}" in page


async def test_a_double_submit_sends_once(app, support, world: SupportWorld):
    link = await open_kari(support, world)
    form = {"reason": "Patient called", "to": "current", "seen": "0"}
    first = await support.post(f"{link}/send-igjen/{world.sms_id}", data=form)
    second = await support.post(f"{link}/send-igjen/{world.sms_id}", data=form)
    assert first.status_code == 303 and second.status_code == 400
    assert "already been sent again" in second.text
    copies = [n for n in await notifications_of(app.state.db, world.appointment_id)
              if n.resend_of_id == world.sms_id]
    assert len(copies) == 1
    assert len(await audit_rows(app.state.db, "notification.resend")) == 1


async def test_resend_to_a_corrected_international_number_saved_on_the_patient(
        app, support, world: SupportWorld):
    link = await open_kari(support, world)
    response = await support.post(f"{link}/send-igjen/{world.sms_id}", data={
        "reason": "New number", "to": "corrected", "corrected": "+46 70 123 45 67",
        "save_number": "1"})
    assert response.status_code == 303
    [copy] = [n for n in await notifications_of(app.state.db, world.appointment_id)
              if n.resend_of_id == world.sms_id]
    assert copy.to_e164 == "+46701234567"
    async with app.state.db.read() as session:
        mobile = (await session.execute(select(Patient.mobile).where(
            Patient.id == world.kari_id))).scalar_one()
    assert mobile == "+46701234567"
    [entry] = await audit_rows(app.state.db, rules.MOBILE_ACTION)
    assert entry.detail == {"notification_id": copy.id}
    assert copy.resend_reason == "New number"


@pytest.mark.parametrize("form", [
    {"reason": "", "to": "current"},
    {"reason": "New number", "to": "corrected", "corrected": "22 35 61 40"},  # a landline
    {"reason": "New number", "to": "corrected", "corrected": "ring meg"},
    {"reason": "New number", "to": "corrected", "corrected": ""},
    {"reason": "New number"},  # no choice of number
])
async def test_bad_input_gets_a_translated_error_and_changes_nothing(
        app, support, world: SupportWorld, form):
    link = await open_kari(support, world)
    before = len(await notifications_of(app.state.db, world.appointment_id))
    response = await support.post(f"{link}/send-igjen/{world.sms_id}", data={
        **form, "save_number": "1"}, headers={"Accept-Language": "nb"})
    assert response.status_code == 400
    assert f'id="resend-error-{world.sms_id}"' in response.text
    assert len(await notifications_of(app.state.db, world.appointment_id)) == before
    assert await audit_rows(app.state.db, "notification.resend") == []
    async with app.state.db.read() as session:
        assert (await session.get(Patient, world.kari_id)).mobile == KARI_MOBILE


async def test_another_countys_message_cannot_be_resent(app, support, world: SupportWorld):
    link = await open_kari(support, world)
    response = await support.post(f"{link}/send-igjen/{world.per_sms_id}",
                                  data={"reason": "x", "to": "current"})
    assert response.status_code == 404
    [entry] = await audit_rows(app.state.db, "access.refused")
    assert entry.detail["target"] == "notification" and entry.detail["id"] == world.per_sms_id
    assert [n for n in await notifications_of(app.state.db, world.per_appointment_id)
            if n.resend_of_id] == []
