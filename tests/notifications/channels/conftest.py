"""Fakes served over real HTTP on loopback (uvicorn in a thread), the
channels pointed at them, and a stand-in for our status-callback webhook
(:mod:`tests.notifications.channels.receiver`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from core.loopback import LoopbackServer
from notifications.channels.twilio_sms import TwilioSmsChannel
from notifications.fakes.twilio import FakeTwilio
from tests.notifications.channels.receiver import CallbackReceiver


@pytest.fixture
def fake_twilio() -> FakeTwilio:
    return FakeTwilio(seed=5)


@pytest.fixture
def twilio_url(fake_twilio: FakeTwilio) -> Iterator[str]:
    with LoopbackServer(fake_twilio.app, name="twilio") as server:
        yield server.url


@pytest.fixture
def receiver(fake_twilio: FakeTwilio) -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver(fake_twilio.auth_token)
    with LoopbackServer(receiver.app(), name="webhook") as server:
        receiver.public_url = server.url
        yield receiver


@pytest.fixture
async def sms(fake_twilio: FakeTwilio, twilio_url: str, receiver: CallbackReceiver
              ) -> AsyncIterator[TwilioSmsChannel]:
    channel = TwilioSmsChannel(
        account_sid=fake_twilio.account_sid, auth_token=fake_twilio.auth_token,
        public_url=receiver.public_url, messaging_service_sid="MG" + "0" * 32,
        api_url=twilio_url, timeout=2.0, connect_timeout=1.0,
    )
    yield channel
    await channel.aclose()
