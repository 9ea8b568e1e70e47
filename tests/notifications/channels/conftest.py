"""Fakes served over real HTTP on loopback (uvicorn in a thread), the
channels pointed at them, and a stand-in for our status-callback webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from notifications.channels.twilio_sms import (
    STATUS_CALLBACK_PATH,
    InvalidCallback,
    StatusReceipt,
    TwilioSmsChannel,
    parse_status_callback,
    verify_twilio_signature,
)
from notifications.fakes.server import FakeServer
from notifications.fakes.twilio import FakeTwilio


@dataclass
class CallbackReceiver:
    """Verifies and records status callbacks the way our webhook must: the
    signature is checked against the *public* URL (base + path + query)."""

    auth_token: str
    public_url: str = ""
    receipts: list[tuple[int, StatusReceipt]] = field(default_factory=list)
    refused: int = 0

    def app(self) -> Starlette:
        async def status(request: Request) -> Response:
            form = await request.form()
            query = request.url.query
            full_url = f"{self.public_url}{request.url.path}" + (f"?{query}" if query else "")
            if not verify_twilio_signature(self.auth_token, full_url, form,
                                           request.headers.get("X-Twilio-Signature")):
                self.refused += 1
                return Response(status_code=403)
            try:
                self.receipts.append(parse_status_callback(form, request.query_params))
            except InvalidCallback:
                return Response(status_code=400)
            return Response(status_code=204)

        return Starlette(routes=[Route(STATUS_CALLBACK_PATH, status, methods=["POST"])])

    def statuses(self, notification_id: int) -> list[str]:
        return [r.twilio_status for n, r in self.receipts if n == notification_id]


@pytest.fixture
def fake_twilio() -> FakeTwilio:
    return FakeTwilio(seed=5)


@pytest.fixture
def twilio_url(fake_twilio: FakeTwilio) -> Iterator[str]:
    with FakeServer(fake_twilio.app, name="twilio") as server:
        yield server.url


@pytest.fixture
def receiver(fake_twilio: FakeTwilio) -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver(fake_twilio.auth_token)
    with FakeServer(receiver.app(), name="webhook") as server:
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
