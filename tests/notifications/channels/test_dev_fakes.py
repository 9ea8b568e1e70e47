"""All three fakes started together, as ``make run`` does, and driven by the
channels built from the settings they hand out."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from core.identity import synthetic_number
from notifications.channels.base import SendOutcome
from notifications.channels.helsenorge import AppointmentNotice, Clinic, HelsenorgeChannel
from notifications.channels.krr import KrrClient
from notifications.channels.twilio_sms import TwilioSmsChannel
from notifications.fakes.server import DevFakes, start_dev_fakes


@pytest.fixture
def fakes() -> Iterator[DevFakes]:
    fakes = start_dev_fakes()
    yield fakes
    fakes.stop()


async def test_the_dev_fakes_serve_every_channel(fakes: DevFakes) -> None:
    settings = {**fakes.settings, "PUBLIC_URL": "http://127.0.0.1:9"}
    nin = synthetic_number(date(1985, 6, 1), random.Random(1))
    sms = TwilioSmsChannel.from_settings(settings)
    helsenorge = HelsenorgeChannel.from_settings(settings)
    krr = KrrClient.from_settings(settings)
    try:
        contact = await krr.contact(nin)
        mobile = contact.notice_mobile(datetime.now(UTC).date())
        assert mobile is not None and mobile.startswith("+479") and len(mobile) == 11
        sent = await sms.send(notification_id=1, to_e164=mobile, body="Hei",
                              validity_seconds=600)
        start = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
        put = await helsenorge.put_appointment(AppointmentNotice(
            appointment_id="demo-1", status="booked", start=start,
            end=start + timedelta(minutes=30), patient_nin=nin,
            clinic=Clinic("Demo tannklinikk", "Tannhelsetjenesten", "974770482"),
            updated_at=start - timedelta(days=3)))
    finally:
        for channel in (sms, helsenorge, krr):
            await channel.aclose()
    assert sent.outcome is SendOutcome.ACCEPTED
    assert put.outcome is SendOutcome.ACCEPTED
    assert fakes.twilio.deliveries() == {1: 1}
    assert settings["HELSENORGE_API_URL"].endswith("/timeavtaler/api/v1")


async def test_the_fake_twilio_is_controlled_over_http(fakes: DevFakes) -> None:
    base = fakes.settings["TWILIO_API_URL"]
    async with httpx.AsyncClient(base_url=base) as client:
        config = await client.post("/_fake/config", json={
            "error_rate": 0.25, "error_statuses": [500], "duplicate_callbacks": True,
            "callback_delay": 0.5})
        number = await client.post("/_fake/numbers",
                                   json={"number": "+4791000000", "behaviour": "landline"})
        bad = await client.post("/_fake/numbers",
                                json={"number": "+4791000000", "behaviour": "teleported"})
    assert [config.status_code, number.status_code, bad.status_code] == [200, 200, 400]
    twilio = fakes.twilio
    assert (twilio.error_rate, twilio.error_statuses) == (0.25, (500,))
    assert (twilio.duplicate_callbacks, twilio.callback_delay) == (True, 0.5)
    assert twilio.numbers == {"+4791000000": "landline"}
