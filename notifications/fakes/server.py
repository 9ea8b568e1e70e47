"""The three fakes beside the service for ``make run``:
:func:`start_dev_fakes` starts them on loopback (:mod:`core.loopback`) and
returns the settings that point the channels at them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from core.loopback import LoopbackServer

if TYPE_CHECKING:
    from notifications.fakes.helsenorge import FakeHelsenorge
    from notifications.fakes.krr import FakeKrr
    from notifications.fakes.twilio import FakeTwilio


@dataclass
class DevFakes:
    """All three fakes running, and the settings that point the channels at
    them (``TWILIO_*``, ``HELSEID_*``, ``HELSENORGE_API_URL``,
    ``MASKINPORTEN_*``, ``KRR_API_URL``)."""

    twilio: FakeTwilio
    helsenorge: FakeHelsenorge
    krr: FakeKrr
    servers: list[LoopbackServer]
    settings: dict[str, str] = field(repr=False)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def pages(self) -> list[tuple[str, str, str]]:
        """(which fake, its base URL, where to see its state) for each, for a
        person running ``make run``; no credentials, no numbers."""
        twilio, helsenorge, krr = (server.url for server in self.servers)
        return [("Twilio", twilio, f"{twilio}/_fake/messages"),
                ("HelseID + Helsenorge", helsenorge, f"{helsenorge}/_fake/appointments"),
                ("Maskinporten + KRR", krr, f"{krr}/_fake/stats")]

    def __enter__(self) -> DevFakes:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_dev_fakes(*, answer_unknown_krr: bool = True,
                    krr_people: Callable[[FakeKrr], object] | None = None) -> DevFakes:
    """Start fake Twilio, HelseID + Helsenorge and Maskinporten + KRR on free
    loopback ports with fresh credentials. With ``answer_unknown_krr`` every
    identity number KRR is asked about is an active person with a made-up
    mobile number (for demo data). ``krr_people(krr)`` puts the people KRR
    knows first into it before it starts (``demo.krr`` has the demo's). Status
    callbacks go to the ``PUBLIC_URL`` the service gives its Twilio channel.
    ``with start_dev_fakes() as fakes:`` stops them at the end."""
    from core.oauth import generate_rsa_jwk
    from notifications.channels.helsenorge import DEFAULT_SCOPE
    from notifications.fakes.helsenorge import API_PATH, FakeHelsenorge
    from notifications.fakes.krr import FakeKrr, made_up_person
    from notifications.fakes.twilio import FakeTwilio, new_sid

    twilio, helsenorge, krr = FakeTwilio(), FakeHelsenorge(scope=DEFAULT_SCOPE), FakeKrr()
    helseid_key, helseid_public = generate_rsa_jwk("dev-helseid")
    krr_key, krr_public = generate_rsa_jwk("dev-maskinporten")
    helsenorge.add_client("tanntid-dev", helseid_public)
    krr.add_client("tanntid-dev", krr_public)
    if answer_unknown_krr:
        krr.answer_unknown = made_up_person
    if krr_people is not None:
        krr_people(krr)
    servers = [LoopbackServer(twilio.app, name="twilio"),
               LoopbackServer(helsenorge.app, name="helsenorge"),
               LoopbackServer(krr.app, name="krr")]
    try:
        twilio_url, helsenorge_url, krr_url = (server.start() for server in servers)
    except Exception:
        for server in servers:
            server.stop()
        raise
    settings = {
        "TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_MESSAGING_SERVICE_SID": new_sid("MG"), "TWILIO_API_URL": twilio_url,
        "HELSEID_TOKEN_URL": f"{helsenorge_url}/connect/token",
        "HELSEID_CLIENT_ID": "tanntid-dev", "HELSEID_CLIENT_JWK": helseid_key,
        "HELSENORGE_API_URL": f"{helsenorge_url}{API_PATH}",
        "MASKINPORTEN_TOKEN_URL": f"{krr_url}/token", "MASKINPORTEN_CLIENT_ID": "tanntid-dev",
        "MASKINPORTEN_CLIENT_JWK": krr_key, "KRR_API_URL": krr_url,
    }
    return DevFakes(twilio, helsenorge, krr, servers, settings)
