"""The fake Maskinporten + KRR over real HTTP on loopback, with an outage
switch in front of it, and the worker's own runtime (``worker.build_runtime``
with KRR configured) talking to it: the fixtures ``fake``, ``outage``,
``krr_server`` and ``runtime``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date

import pytest
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from core.db import Database
from core.loopback import LoopbackServer
from core.oauth import generate_rsa_jwk
from core.settings import Settings
from notifications.contacts import RegisterDirectory
from notifications.fakes.krr import FakeKrr
from notifications.runtime import Runtime
from notifications.worker import build_runtime
from tests.notifications.helpers import PUBLIC_URL, Clock, MemorySms

KEY, PUBLIC = generate_rsa_jwk("tanntid-krr-outbox")
#: The secret of ``tests.factories.VAULT``: the runtime's vault must read its identity numbers.
SECRET = "test-secret-not-for-production"
CLIENT_ID = "tanntid-krr"
RECENT = date(2029, 12, 1)  # within 18 months of EARLY (26 February 2030)
LONG_AGO = date(2028, 6, 1)  # more than 18 months before


class Outage:
    """In front of the fake: while ``down``, KRR and Maskinporten answer 503."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.down = False
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.down:
            self.refused += 1
            await Response(status_code=503)(scope, receive, send)
            return
        await self.app(scope, receive, send)


@pytest.fixture
def fake() -> FakeKrr:
    fake = FakeKrr()
    fake.add_client(CLIENT_ID, PUBLIC)
    return fake


@pytest.fixture
def outage(fake: FakeKrr) -> Outage:
    return Outage(fake.app)


@pytest.fixture
def krr_server(outage: Outage) -> Iterator[LoopbackServer]:
    with LoopbackServer(outage, name="krr") as server:
        yield server


def krr_settings(url: str) -> Settings:
    return Settings(secret_key=SECRET, public_url=PUBLIC_URL, krr_api_url=url,
                    maskinporten_token_url=f"{url}/token", maskinporten_client_id=CLIENT_ID,
                    maskinporten_client_jwk=KEY, krr_cache_ttl=0)


@pytest.fixture
async def runtime(db: Database, krr_server: LoopbackServer, sms: MemorySms, clock: Clock
                  ) -> AsyncIterator[Runtime]:
    """The worker's own wiring, with the SMS channel and the clock swapped."""
    built = build_runtime(krr_settings(krr_server.url).notifications, db=db)
    assert isinstance(built.contacts, RegisterDirectory)
    built.sms = sms
    built.clock = clock
    yield built
    await built.contacts.aclose()
