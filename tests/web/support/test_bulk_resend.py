"""Bulk resend after an outage from the console: the count and a sample
first, then each match sent again once through the single resend's
machinery (linked, audited); the same selection run twice sends nothing
twice; started or cancelled appointments skipped and counted; an empty or
too large selection, or another county's clinic, changes nothing."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import func, select

from booking.models import Appointment, AppointmentStatus
from core.db import utcnow
from core.locale import OSLO
from notifications import bulk_resend
from notifications.bulk_models import BulkResendItem, BulkResendRun
from notifications.models import Notification
from notifications.statuses import NotificationStatus
from tests.web.support.world import SupportWorld, audit_rows, notifications_of

BULK = "/staff/support/masseutsending"


def window(**extra: str) -> dict[str, str]:
    since = (utcnow() - timedelta(days=1)).astimezone(OSLO)
    until = (utcnow() + timedelta(hours=1)).astimezone(OSLO)
    return {"since_date": since.strftime("%d.%m.%Y"), "since_time": since.strftime("%H:%M"),
            "until_date": until.date().isoformat(), "until_time": until.strftime("%H%M"),
            "status": "", "error_code": "", "channel": "sms", "clinic": "", **extra}


async def _copies(app, original_id: int) -> list[Notification]:
    async with app.state.db.read() as session:
        return list((await session.execute(select(Notification).where(
            Notification.resend_of_id == original_id))).scalars())


async def test_the_form_and_the_preview_change_nothing(app, support, world: SupportWorld):
    page = await support.get(BULK)
    assert page.status_code == 200 and 'id="bulk-form"' in page.text
    response = await support.post(BULK, data=window())
    assert response.status_code == 200, response.text
    assert "1 message matches" in response.text and 'id="bulk-sample"' in response.text
    assert "Tannklinikken Grünerløkka" in response.text
    assert "Stavanger" not in response.text and "Kari" not in response.text
    assert await _copies(app, world.sms_id) == []
    [entry] = await audit_rows(app.state.db, bulk_resend.PREVIEW_ACTION)
    assert entry.detail["matched"] == 1 and entry.subject_patient_id is None


async def test_run_twice_sends_each_once(app, support, world: SupportWorld):
    data = window(reason="Provider outage this morning")
    first = await support.post(f"{BULK}/send", data=data)
    assert first.status_code == 200, first.text
    assert "1 of 1 messages were sent again." in first.text
    [copy] = await _copies(app, world.sms_id)
    assert copy.resend_reason == "Provider outage this morning"
    assert copy.status == NotificationStatus.CREATED
    [entry] = await audit_rows(app.state.db, "notification.resend")
    assert entry.detail["notification_id"] == world.sms_id
    assert entry.subject_patient_id == world.kari_id and "bulk_run_id" in entry.detail
    second = await support.post(f"{BULK}/send", data=data)
    assert "0 of 1 messages were sent again." in second.text
    assert "already sent again" in second.text
    assert len(await _copies(app, world.sms_id)) == 1
    async with app.state.db.read() as session:
        runs = list((await session.execute(select(BulkResendRun).order_by(
            BulkResendRun.id))).scalars())
        items = (await session.execute(select(func.count()).select_from(
            BulkResendItem))).scalar_one()
    assert [(r.resent, r.skipped) for r in runs] == [(1, {}), (0, {"already_resent": 1})]
    assert runs[0].fingerprint == runs[1].fingerprint and items == 1
    assert len(await audit_rows(app.state.db, bulk_resend.RUN_ACTION)) == 2


async def test_cancelled_and_started_appointments_are_skipped_and_counted(
        app, support, world: SupportWorld):
    async with app.state.db.write() as session:
        appointment = await session.get(Appointment, world.appointment_id)
        appointment.status = AppointmentStatus.CANCELLED
    response = await support.post(f"{BULK}/send", data=window(reason="Outage"))
    assert "0 of 1 messages were sent again." in response.text
    assert "the appointment was cancelled" in response.text
    async with app.state.db.write() as session:
        appointment = await session.get(Appointment, world.appointment_id)
        appointment.status = AppointmentStatus.BOOKED
        appointment.starts_at = utcnow() - timedelta(hours=1)
        appointment.ends_at = utcnow()
    response = await support.post(f"{BULK}/send", data=window(reason="Outage"))
    assert "the appointment has already started" in response.text
    assert await _copies(app, world.sms_id) == []


async def test_an_empty_selection_is_refused(app, support, world: SupportWorld):
    response = await support.post(f"{BULK}/send", data=window(reason="Outage",
                                                                error_code="30003"))
    assert response.status_code == 400
    assert "No failed messages match. Nothing was sent." in response.text
    assert await audit_rows(app.state.db, bulk_resend.RUN_ACTION) == []
    preview = await support.post(BULK, data=window(channel="helsenorge"))
    assert preview.status_code == 400 and "No failed messages match" in preview.text


async def test_too_large_a_selection_is_refused(app, support, world: SupportWorld):
    app.state.settings = dataclasses.replace(app.state.settings, bulk_resend_max=1)
    async with app.state.db.write() as session:
        row = await session.get(Notification, world.blocked_id)
        row.status = NotificationStatus.TEMPORARY_FAILURE
    response = await support.post(f"{BULK}/send", data=window(reason="Outage"))
    assert response.status_code == 400
    assert "2 messages match, more than the 1 one bulk resend may send" in response.text
    assert await _copies(app, world.sms_id) == [] and await _copies(app, world.blocked_id) == []


async def test_bad_input_is_refused_with_a_reason(app, support, world: SupportWorld):
    for data, words in (
            (window(since_date="yesterday"), "Write when the window starts and ends"),
            (window(until_time="25:00"), "Write when the window starts and ends"),
            (window(until_date="2000-01-01"), "The window must end after it starts."),
            (window(error_code="30x"), "An error code is digits only"),
            (window(status="delivered"), "Choose what failed."),
            (window(channel="fax"), "Choose the channel.")):
        response = await support.post(BULK, data=data)
        assert response.status_code == 400 and words in response.text, data
    missing = await support.post(f"{BULK}/send", data=window(reason="  "))
    assert missing.status_code == 400 and "Write why the messages are sent again." in missing.text
    assert len(await notifications_of(app.state.db, world.appointment_id)) == 2


async def test_filters_by_error_code_status_and_clinic(app, support, world: SupportWorld):
    assert "1 message matches" in (await support.post(
        BULK, data=window(error_code="30005", status="permanent-failure"))).text
    assert (await support.post(BULK, data=window(status="technical-failure"))).status_code == 400


async def test_another_countys_clinic_is_404_and_audited(app, support, world: SupportWorld):
    async with app.state.db.read() as session:
        stavanger = (await session.execute(select(Appointment.clinic_id).where(
            Appointment.id == world.per_appointment_id))).scalar_one()
    for path in (BULK, f"{BULK}/send"):
        response = await support.post(path, data=window(clinic=str(stavanger), reason="x"))
        assert response.status_code == 404
    refused = await audit_rows(app.state.db, "access.refused")
    assert [r.detail["target"] for r in refused] == ["clinic", "clinic"]
    assert await _copies(app, world.per_sms_id) == []
