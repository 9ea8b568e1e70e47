"""Run a fake's Starlette app with uvicorn on a free loopback port, in a
background thread with its own event loop. Used by tests (real HTTP, real
sockets) and by ``make run`` (the fakes beside the service):
:func:`start_dev_fakes` starts all three and returns the settings that point
the channels at them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

import uvicorn
from starlette.types import ASGIApp

if TYPE_CHECKING:
    from notifications.fakes.helsenorge import FakeHelsenorge
    from notifications.fakes.krr import FakeKrr
    from notifications.fakes.twilio import FakeTwilio


class FakeServer:
    """``start()`` binds 127.0.0.1 on a free port (or ``port``) and returns the
    base URL; ``stop()`` shuts the server down and waits for its thread."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0,
                 name: str = "fake") -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def start(self, timeout: float = 10.0) -> str:
        if self._server is not None:
            return self.url
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        # Access logs off: callback URLs and list queries are nobody's business.
        # log_config=None: uvicorn's default dictConfig would close every
        # handler already on the root logger (the test run's log file included).
        config = uvicorn.Config(self.app, log_config=None, log_level="warning",
                                access_log=False, lifespan="on", timeout_keep_alive=30)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                  name=f"{self.name}-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                server.should_exit = True
                sock.close()
                raise RuntimeError(f"the {self.name} server did not start")
            time.sleep(0.005)
        self._server, self._thread, self._sock = server, thread, sock
        self.url = f"http://{self.host}:{self.port}"
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> FakeServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


@contextmanager
def serving(app: ASGIApp, *, host: str = "127.0.0.1", name: str = "fake") -> Iterator[str]:
    """``with serving(app) as url: ...``"""
    server = FakeServer(app, host=host, name=name)
    try:
        yield server.start()
    finally:
        server.stop()


@dataclass
class DevFakes:
    """All three fakes running, and the settings that point the channels at
    them (``TWILIO_*``, ``HELSEID_*``, ``HELSENORGE_API_URL``,
    ``MASKINPORTEN_*``, ``KRR_API_URL``)."""

    twilio: FakeTwilio
    helsenorge: FakeHelsenorge
    krr: FakeKrr
    servers: list[FakeServer]
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
    servers = [FakeServer(twilio.app, name="twilio"),
               FakeServer(helsenorge.app, name="helsenorge"),
               FakeServer(krr.app, name="krr")]
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
